package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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

	It("fire a wall-clock time once on the night clocks go back, across a restart", func() {
		h := newScheduleHarness()
		ns := scheduleNamespace()
		wf := scheduled(ns, "nightly", "30 2 * * *", "Europe/Berlin")
		berlin, _ := time.LoadLocation("Europe/Berlin")
		// The last Sunday of October 2027: 02:30 happens at 00:30 and 01:30 UTC.
		first := time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC)
		Expect(first.In(berlin).Format("15:04 MST")).To(Equal("02:30 CEST"))
		h.clock.SetTime(first.Add(time.Minute))
		h.reconcile(wf)
		Expect(runNames(ns)).To(ConsistOf(fmt.Sprintf("nightly-%d", first.Unix())))
		Expect(wf.Status.NextRunLocal).To(Equal("2027-11-01T02:30:00+01:00 (Europe/Berlin)"))

		By("after the second 02:30, and after a restart (a new reconciler), no second run")
		h.clock.SetTime(first.Add(time.Hour + time.Minute))
		h.reconcile(wf)
		h2 := newScheduleHarness()
		h2.clock.SetTime(first.Add(time.Hour + 2*time.Minute))
		h2.reconcile(wf)
		Expect(runNames(ns)).To(HaveLen(1))
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
