package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/workflow"
)

// scheduleHarness is a Workflow reconciler of the test's own, on a clock of
// its own that starts at the real time (a workflow's creation time is the
// API server's), reconciling workflows the suite's manager does not see.
type scheduleHarness struct {
	r      *WorkflowReconciler
	cached client.Client
	clock  *clocktesting.FakeClock
	events *events.FakeRecorder
}

// cachedClient is a client of a manager of the test's own, with the
// reconcilers' indexes, that sees every object: its cache is what a
// harness's reconciler reads. It stops with the spec.
func cachedClient() client.Client {
	GinkgoHelper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: CacheOptions(), Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	Expect(err).NotTo(HaveOccurred())
	Expect(setupIndexes(mgr)).To(Succeed())
	mctx, stop := context.WithCancel(ctx)
	DeferCleanup(stop)
	go func() { _ = mgr.Start(mctx) }()
	Expect(mgr.GetCache().WaitForCacheSync(mctx)).To(BeTrue())
	return mgr.GetClient()
}

func newScheduleHarness() *scheduleHarness {
	c := cachedClient()
	rec := events.NewFakeRecorder(100)
	clock := clocktesting.NewFakeClock(time.Now())
	return &scheduleHarness{clock: clock, events: rec, cached: c,
		r: &WorkflowReconciler{Client: c, Recorder: rec, Clock: clock, FeedClient: testFeedClient}}
}

// reconcile runs one reconcile at the clock's time once the cache holds
// what the API server holds for the workflow and its runs, as the next
// reconcile in a running Herald would see it.
func (h *scheduleHarness) reconcile(wf *socialv1alpha1.Workflow) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		stored, seen := &socialv1alpha1.Workflow{}, &socialv1alpha1.Workflow{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), stored)).To(Succeed())
		g.Expect(h.cached.Get(ctx, client.ObjectKeyFromObject(wf), seen)).To(Succeed())
		g.Expect(seen.ResourceVersion).To(Equal(stored.ResourceVersion))
		var runs, cachedRuns socialv1alpha1.WorkflowRunList
		g.Expect(k8sClient.List(ctx, &runs, client.InNamespace(wf.Namespace))).To(Succeed())
		g.Expect(h.cached.List(ctx, &cachedRuns, client.InNamespace(wf.Namespace))).To(Succeed())
		g.Expect(len(cachedRuns.Items)).To(Equal(len(runs.Items)))
	}, timeout, interval).Should(Succeed())
	_, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(wf)})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
}

// drained returns the events recorded since the last call.
func (h *scheduleHarness) drained() []string { return drainEvents(h.events) }

// scheduled creates a workflow only the harness reconciles.
func scheduled(ns, name, schedule, zone string, mutate ...func(*socialv1alpha1.Workflow)) *socialv1alpha1.Workflow {
	wf := &socialv1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{LabelTestManager: "schedule"}},
		Spec: socialv1alpha1.WorkflowSpec{Enabled: true,
			Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: schedule, TimeZone: zone},
			Posts:   []socialv1alpha1.PostTemplate{{Text: "Tip of the week", Profiles: []string{"sandbox"}, Draft: true}}},
	}
	for _, m := range mutate {
		m(wf)
	}
	Expect(k8sClient.Create(ctx, wf)).To(Succeed())
	return wf
}

func runNames(ns string) []string {
	var runs socialv1alpha1.WorkflowRunList
	Expect(k8sClient.List(ctx, &runs, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, r := range runs.Items {
		names = append(names, r.Name)
	}
	return names
}

// scheduleNamespace is a namespace with a sandbox profile.
func scheduleNamespace() string {
	ns := newNamespace("schedule")
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@schedule"}})).To(Succeed())
	return ns
}

// unfinishedRun is a run the suite's manager leaves alone, so it stays Pending.
func unfinishedRun(ns, name, workflow string) *socialv1alpha1.WorkflowRun {
	run := &socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{LabelTestManager: "schedule"}},
		Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: workflow}}}
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	return run
}

// nextAt is the first instant after t at hour:minute in loc.
func nextAt(t time.Time, loc *time.Location, hour, minute int) time.Time {
	t = t.In(loc)
	n := time.Date(t.Year(), t.Month(), t.Day(), hour, minute, 0, 0, loc)
	if !n.After(t) {
		n = n.AddDate(0, 0, 1)
	}
	return n
}

// dstStep is one reconcile of a daylight-saving spec: at its clock time
// (UTC), after a restart (a reconciler of its own) if restart, the runs it
// adds (by due time, UTC) and the next run the workflow then shows.
type dstStep struct {
	at      string
	restart bool
	runs    []string
	next    string
}

// nextRunAt reads the instant out of status.nextRunLocal, "<RFC 3339> (zone)".
func nextRunAt(local string) time.Time {
	GinkgoHelper()
	at, _, ok := strings.Cut(local, " ")
	Expect(ok).To(BeTrue(), local)
	return rfc3339(at)
}

// countedSchedule counts how often a reconcile asks the schedule for its
// next time.
type countedSchedule struct {
	cron.Schedule
	asked *int
}

func (c countedSchedule) Next(t time.Time) time.Time {
	*c.asked++
	return c.Schedule.Next(t)
}

var _ = Describe("Workflow schedules", func() {
	It("skip a run found later than startingDeadline and report it, then run the next on time", func() {
		h := newScheduleHarness()
		ns := scheduleNamespace()
		wf := scheduled(ns, "daily", "0 9 * * *", "UTC", func(wf *socialv1alpha1.Workflow) {
			wf.Spec.Trigger.StartingDeadline = &metav1.Duration{Duration: time.Hour}
		})
		// Herald was down for three days and comes back two hours after 09:00.
		missed := nextAt(wf.CreationTimestamp.Add(72*time.Hour), time.UTC, 9, 0)
		h.clock.SetTime(missed.Add(2 * time.Hour))
		h.reconcile(wf)
		Expect(runNames(ns)).To(BeEmpty())
		Expect(wf.Status.LastSkippedTime).NotTo(BeNil())
		Expect(wf.Status.LastSkippedTime.Time).To(BeTemporally("==", missed))
		seen := h.drained()
		Expect(seen).To(ContainElement(And(ContainSubstring(ReasonRunSkipped), ContainSubstring("later than startingDeadline 1h0m0s"))))
		Expect(seen).To(ContainElement(And(ContainSubstring(ReasonRunsMissed), MatchRegexp(`[23] scheduled runs were missed since`))))
		Expect(wf.Status.NextRunLocal).To(Equal(missed.Add(24*time.Hour).Format(time.RFC3339) + " (UTC)"))

		By("a second look at the same time skips nothing more")
		h.reconcile(wf)
		Expect(h.drained()).NotTo(ContainElement(ContainSubstring(ReasonRunSkipped)))

		By("the next day, 30 s late, within the deadline")
		h.clock.SetTime(missed.Add(24*time.Hour + 30*time.Second))
		h.reconcile(wf)
		Expect(runNames(ns)).To(ConsistOf(fmt.Sprintf("daily-%d", missed.Add(24*time.Hour).Unix())))
	})

	It("forbid a run while an earlier one is unfinished, or replace it, as concurrencyPolicy says", func() {
		h := newScheduleHarness()
		ns := scheduleNamespace()
		forbid := scheduled(ns, "forbid", "0 9 * * *", "UTC", func(wf *socialv1alpha1.Workflow) {
			wf.Spec.Trigger.ConcurrencyPolicy = socialv1alpha1.ConcurrencyForbid
		})
		replace := scheduled(ns, "replace", "0 9 * * *", "UTC", func(wf *socialv1alpha1.Workflow) {
			wf.Spec.Trigger.ConcurrencyPolicy = socialv1alpha1.ConcurrencyReplace
		})
		unfinishedRun(ns, "forbid-earlier", "forbid")
		earlier := unfinishedRun(ns, "replace-earlier", "replace")
		due := nextAt(forbid.CreationTimestamp.Time, time.UTC, 9, 0)
		h.clock.SetTime(due.Add(time.Minute))

		h.reconcile(forbid)
		Expect(runNames(ns)).NotTo(ContainElement(HavePrefix("forbid-1")))
		Expect(forbid.Status.LastSkippedTime.Time).To(BeTemporally("==", due))
		Expect(h.drained()).To(ContainElement(ContainSubstring("run forbid-earlier has not finished and concurrencyPolicy is Forbid")))

		h.reconcile(replace)
		Expect(runNames(ns)).To(ContainElement(fmt.Sprintf("replace-%d", due.Unix())))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(earlier), earlier)).To(Succeed())
		Expect(earlier.Spec.Status).To(Equal(socialv1alpha1.RunCancelled))
		Expect(h.drained()).To(ContainElement(ContainSubstring("Cancelled run replace-earlier")))
	})

	// Each entry walks one daylight-saving night of a daily schedule on the
	// wall clock of its zone. The documented rule: a time the clocks repeat
	// runs once, at its first occurrence, even across a restart; a time the
	// clocks skip does not run that day, and the next run shown is the
	// next day's.
	DescribeTable("follow the wall clock across daylight-saving changes",
		func(zone, schedule string, steps ...dstStep) {
			h := newScheduleHarness()
			ns := scheduleNamespace()
			wf := scheduled(ns, "nightly", schedule, zone)
			loc, err := time.LoadLocation(zone)
			Expect(err).NotTo(HaveOccurred())
			var want []string
			for _, step := range steps {
				if step.restart {
					h = newScheduleHarness()
				}
				h.clock.SetTime(rfc3339(step.at))
				h.reconcile(wf)
				for _, due := range step.runs {
					want = append(want, fmt.Sprintf("nightly-%d", rfc3339(due).Unix()))
				}
				Expect(runNames(ns)).To(ConsistOf(want), "at %s (%s)", step.at, rfc3339(step.at).In(loc).Format("15:04 MST"))
				Expect(wf.Status.NextRunLocal).To(Equal(step.next), "at %s", step.at)
				Expect(wf.Status.NextRunTime.Time).To(BeTemporally("==", nextRunAt(step.next)))
			}
		},
		// The nights are years ahead: the workflow is created now, and its
		// schedule starts then.
		Entry("Europe/Berlin, clocks go back: 02:30 happens at 00:30 and 01:30 UTC", "Europe/Berlin", "30 2 * * *",
			dstStep{at: "2036-10-26T00:31:00Z", runs: []string{"2036-10-26T00:30:00Z"}, next: "2036-10-27T02:30:00+01:00 (Europe/Berlin)"},
			dstStep{at: "2036-10-26T01:31:00Z", next: "2036-10-27T02:30:00+01:00 (Europe/Berlin)"},
			dstStep{at: "2036-10-26T01:32:00Z", restart: true, next: "2036-10-27T02:30:00+01:00 (Europe/Berlin)"}),
		Entry("Europe/Berlin, clocks go forward: 02:00 CET is 03:00 CEST and 02:30 does not happen", "Europe/Berlin", "30 2 * * *",
			dstStep{at: "2036-03-29T01:31:00Z", runs: []string{"2036-03-29T01:30:00Z"}, next: "2036-03-31T02:30:00+02:00 (Europe/Berlin)"},
			dstStep{at: "2036-03-30T01:31:00Z", next: "2036-03-31T02:30:00+02:00 (Europe/Berlin)"},
			dstStep{at: "2036-03-30T01:32:00Z", restart: true, next: "2036-03-31T02:30:00+02:00 (Europe/Berlin)"},
			dstStep{at: "2036-03-31T00:31:00Z", runs: []string{"2036-03-31T00:30:00Z"}, next: "2036-04-01T02:30:00+02:00 (Europe/Berlin)"}),
		Entry("America/New_York, clocks go forward: 02:00 EST is 03:00 EDT and 02:30 does not happen", "America/New_York", "30 2 * * *",
			dstStep{at: "2036-03-08T07:31:00Z", runs: []string{"2036-03-08T07:30:00Z"}, next: "2036-03-10T02:30:00-04:00 (America/New_York)"},
			dstStep{at: "2036-03-09T07:31:00Z", next: "2036-03-10T02:30:00-04:00 (America/New_York)"},
			dstStep{at: "2036-03-09T07:32:00Z", restart: true, next: "2036-03-10T02:30:00-04:00 (America/New_York)"},
			dstStep{at: "2036-03-10T06:31:00Z", runs: []string{"2036-03-10T06:30:00Z"}, next: "2036-03-11T02:30:00-04:00 (America/New_York)"}),
		Entry("America/New_York, clocks go back: 01:30 happens at 05:30 and 06:30 UTC", "America/New_York", "30 1 * * *",
			dstStep{at: "2036-11-02T05:31:00Z", runs: []string{"2036-11-02T05:30:00Z"}, next: "2036-11-03T01:30:00-05:00 (America/New_York)"},
			dstStep{at: "2036-11-02T06:31:00Z", next: "2036-11-03T01:30:00-05:00 (America/New_York)"},
			dstStep{at: "2036-11-02T06:32:00Z", restart: true, next: "2036-11-03T01:30:00-05:00 (America/New_York)"}),
	)

	It("catch up a minute schedule idle for a year with bounded work, one run and the too-many-missed rule", func() {
		h := newScheduleHarness()
		var asked int
		h.r.ParseSchedule = func(spec string) (cron.Schedule, error) {
			sched, err := workflow.ParseSchedule(spec)
			return countedSchedule{sched, &asked}, err
		}
		ns := scheduleNamespace()
		wf := scheduled(ns, "minutely", "* * * * *", "Europe/Berlin")
		first := wf.CreationTimestamp.Time.Truncate(time.Minute).Add(time.Minute)
		h.clock.SetTime(first.Add(10 * time.Second))
		h.reconcile(wf)
		Expect(runNames(ns)).To(ConsistOf(fmt.Sprintf("minutely-%d", first.Unix())))
		h.drained()

		By("a year later, the reconcile asks the schedule about as often as the missed-times bound, not for each of the year's minutes")
		due := first.AddDate(1, 0, 0)
		h.clock.SetTime(due.Add(10 * time.Second))
		asked = 0
		h.reconcile(wf)
		Expect(asked).To(BeNumerically(">", workflow.MaxMissed), "the missed times are counted up to the bound")
		Expect(asked).To(BeNumerically("<=", workflow.MaxMissed+20), "a year of minutes is %d", int(due.Sub(first)/time.Minute))
		Expect(runNames(ns)).To(ConsistOf(fmt.Sprintf("minutely-%d", first.Unix()), fmt.Sprintf("minutely-%d", due.Unix())))
		Expect(h.drained()).To(ContainElement(And(ContainSubstring(ReasonRunsMissed),
			ContainSubstring(fmt.Sprintf("more than %d scheduled runs were missed", workflow.MaxMissed)),
			ContainSubstring("only the latest, due "+due.UTC().Format(time.RFC3339)))))
		Expect(wf.Status.LastRun).To(Equal(fmt.Sprintf("minutely-%d", due.Unix())))
		Expect(wf.Status.NextRunTime.Time).To(BeTemporally("==", due.Add(time.Minute)))
	})

	It("prune finished runs past the history limits, keeping runs whose posts are not done", func() {
		h := newScheduleHarness()
		ns := scheduleNamespace()
		wf := scheduled(ns, "pruned", "0 9 * * *", "UTC", func(wf *socialv1alpha1.Workflow) {
			wf.Spec.SuccessfulRunsHistoryLimit, wf.Spec.FailedRunsHistoryLimit = ptr.To[int32](2), ptr.To[int32](1)
		})
		finishedRun := func(name string, phase socialv1alpha1.RunPhase, posts ...string) {
			run := unfinishedRun(ns, name, "pruned")
			run.Status.Phase, run.Status.Posts = phase, posts
			Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		}
		published := newPost(ns, "done-post", fakeClock.Now().Add(-time.Hour), "sandbox")
		published.Labels = map[string]string{LabelTestManager: "schedule"}
		Expect(k8sClient.Create(ctx, published)).To(Succeed())
		published.Status.Phase = socialv1alpha1.PostPublished
		Expect(k8sClient.Status().Update(ctx, published)).To(Succeed())
		pending := newPost(ns, "pending-post", fakeClock.Now().Add(time.Hour), "sandbox")
		pending.Labels = map[string]string{LabelTestManager: "schedule"}
		Expect(k8sClient.Create(ctx, pending)).To(Succeed())

		finishedRun("run-1", socialv1alpha1.RunSucceeded, "pending-post") // old, but its post is still to come
		finishedRun("run-2", socialv1alpha1.RunSucceeded, "done-post")
		finishedRun("run-3", socialv1alpha1.RunSucceeded)
		finishedRun("run-4", socialv1alpha1.RunSucceeded)
		finishedRun("run-5", socialv1alpha1.RunFailed)
		finishedRun("run-6", socialv1alpha1.RunFailed)
		unfinishedRun(ns, "run-7", "pruned")
		h.reconcile(wf)
		Eventually(func() []string { return runNames(ns) }, timeout, interval).Should(ConsistOf("run-1", "run-3", "run-4", "run-6", "run-7"))
		pruned := 0
		for _, e := range h.drained() {
			if strings.Contains(e, ReasonRunPruned) {
				pruned++
			}
		}
		Expect(pruned).To(Equal(2), "run-2 and run-5")
	})
})
