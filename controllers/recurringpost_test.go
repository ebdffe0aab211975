package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/recurrence"
)

// recurringHarness is a RecurringPost reconciler of the test's own, on its
// own clock, for recurring posts (and their occurrence posts) the suite's
// manager does not see. A new harness on the same API server is Herald
// restarted.
type recurringHarness struct {
	r      *RecurringPostReconciler
	cached client.Client
	clock  *clocktesting.FakeClock
	events *events.FakeRecorder
}

func newRecurringHarness(now time.Time) *recurringHarness {
	c := cachedClient()
	rec := events.NewFakeRecorder(200)
	clock := clocktesting.NewFakeClock(now)
	return &recurringHarness{clock: clock, events: rec, cached: c,
		r: &RecurringPostReconciler{Client: c, Recorder: rec, Clock: clock}}
}

// reconcileAt runs one reconcile at t, once the cache holds what the API
// server holds for the recurring post and its occurrence posts.
func (h *recurringHarness) reconcileAt(rp *socialv1alpha1.RecurringPost, t time.Time) ctrl.Result {
	GinkgoHelper()
	h.clock.SetTime(t)
	Eventually(func(g Gomega) {
		stored, seen := &socialv1alpha1.RecurringPost{}, &socialv1alpha1.RecurringPost{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rp), stored)).To(Succeed())
		g.Expect(h.cached.Get(ctx, client.ObjectKeyFromObject(rp), seen)).To(Succeed())
		g.Expect(seen.ResourceVersion).To(Equal(stored.ResourceVersion))
		var posts, cachedPosts socialv1alpha1.ScheduledPostList
		g.Expect(k8sClient.List(ctx, &posts, client.InNamespace(rp.Namespace))).To(Succeed())
		g.Expect(h.cached.List(ctx, &cachedPosts, client.InNamespace(rp.Namespace))).To(Succeed())
		versions := func(l *socialv1alpha1.ScheduledPostList) map[string]string {
			m := map[string]string{}
			for _, p := range l.Items {
				m[p.Name] = p.ResourceVersion
			}
			return m
		}
		g.Expect(versions(&cachedPosts)).To(Equal(versions(&posts)))
	}, timeout, interval).Should(Succeed())
	res, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(rp)})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rp), rp)).To(Succeed())
	return res
}

func (h *recurringHarness) drained() []string { return drainEvents(h.events) }

// recurring creates a recurring post only a harness reconciles; its
// occurrence posts carry the same label, so the suite's manager leaves
// them alone too.
func recurring(ns, name string, rule socialv1alpha1.Recurrence, mutate ...func(*socialv1alpha1.RecurringPost)) *socialv1alpha1.RecurringPost {
	isolated := map[string]string{LabelTestManager: "recurring"}
	rp := &socialv1alpha1.RecurringPost{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: isolated},
		Spec: socialv1alpha1.RecurringPostSpec{Enabled: true, Recurrence: rule, Labels: isolated,
			Post: &socialv1alpha1.PostContent{Text: "Tip of the week", Profiles: []string{"sandbox"}}},
	}
	for _, m := range mutate {
		m(rp)
	}
	Expect(k8sClient.Create(ctx, rp)).To(Succeed())
	return rp
}

// occurrencePosts maps each occurrence post of rp to its scheduledAt.
func occurrencePosts(rp *socialv1alpha1.RecurringPost) map[string]string {
	GinkgoHelper()
	var posts socialv1alpha1.ScheduledPostList
	Expect(k8sClient.List(ctx, &posts, client.InNamespace(rp.Namespace), client.MatchingLabels{socialv1alpha1.LabelRecurringPost: rp.Name})).To(Succeed())
	out := map[string]string{}
	for _, p := range posts.Items {
		out[p.Name] = p.Spec.ScheduledAt
	}
	return out
}

func rfc3339(s string) time.Time {
	GinkgoHelper()
	t, err := time.Parse(time.RFC3339, s)
	Expect(err).NotTo(HaveOccurred())
	return t
}

var _ = Describe("Recurring posts", func() {
	It("make exactly the occurrences the rule names, across a daylight-saving change and a restart", func() {
		ns := scheduleNamespace()
		// Weekly on Sunday at 02:30 in Berlin, where clocks go forward at
		// 02:00 on 28 March 2027: that day's 02:30 does not happen.
		rp := recurring(ns, "sunday", socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyWeekly,
			ByWeekday: []socialv1alpha1.Weekday{"SU"}, Times: []string{"02:30"}, TimeZone: "Europe/Berlin",
			Start: "2027-03-14T00:00:00+01:00", Count: ptr.To[int32](4)})
		want := []string{"2027-03-14T02:30:00+01:00", "2027-03-21T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-04-04T02:30:00+02:00"}
		h := newRecurringHarness(time.Now())
		made := map[string]string{}
		for i, at := range want {
			if i == 2 { // Herald restarts between the second and third occurrence
				h = newRecurringHarness(rfc3339(want[1]).Add(time.Hour))
			}
			due := rfc3339(at)
			h.reconcileAt(rp, due.Add(-2*OccurrenceLead)) // not yet
			Expect(occurrencePosts(rp)).To(Equal(made), "before %s", at)
			res := h.reconcileAt(rp, due.Add(-OccurrenceLead/2))
			made[recurrence.OccurrenceName(rp.Name, due)] = at
			Expect(occurrencePosts(rp)).To(Equal(made), "at %s", at)
			h.reconcileAt(rp, due.Add(time.Second)) // a repeated reconcile makes nothing twice
			Expect(occurrencePosts(rp)).To(Equal(made))
			if i < len(want)-1 {
				Expect(rp.Status.NextOccurrences).To(HaveExactElements(want[i+1 : min(i+1+upcomingShown, len(want))]))
				Expect(res.RequeueAfter).To(BeNumerically(">", 0))
			}
		}
		Expect(rp.Status.Occurrences).To(BeNumerically("==", 4))
		h.reconcileAt(rp, rfc3339(want[3]).Add(30*24*time.Hour))
		Expect(occurrencePosts(rp)).To(HaveLen(4))
		Expect(rp.Status.NextOccurrences).To(BeEmpty())
		Expect(rp.Status.Conditions).To(ContainElement(And(
			HaveField("Type", socialv1alpha1.ConditionReady), HaveField("Reason", ReasonRecurrenceEnded))))
	})

	It("report the occurrences missed while Herald was down, publish the one within maxLateness, and never the older ones", func() {
		ns := scheduleNamespace()
		created := time.Now()
		first := nextAt(created, time.UTC, 9, 0)
		rp := recurring(ns, "daily", socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyDaily,
			Times: []string{"09:00"}, TimeZone: "UTC", Start: first.Format(time.RFC3339)})
		h := newRecurringHarness(created)
		// Herald comes back three days and five minutes after the first.
		back := first.AddDate(0, 0, 3).Add(5 * time.Minute)
		h.reconcileAt(rp, back)
		latest := first.AddDate(0, 0, 3)
		Expect(occurrencePosts(rp)).To(Equal(map[string]string{recurrence.OccurrenceName(rp.Name, latest): latest.Format(time.RFC3339)}))
		Expect(h.drained()).To(ContainElement(And(ContainSubstring(ReasonOccurrencesMissed), ContainSubstring("3 occurrences were missed"))))
		Expect(rp.Status.LastOccurrenceTime.Time).To(BeTemporally("==", latest))
		Expect(rp.Status.NextOccurrences).To(HaveExactElements(
			first.AddDate(0, 0, 4).Format(time.RFC3339), first.AddDate(0, 0, 5).Format(time.RFC3339), first.AddDate(0, 0, 6).Format(time.RFC3339),
			first.AddDate(0, 0, 7).Format(time.RFC3339), first.AddDate(0, 0, 8).Format(time.RFC3339)))
	})

	It("skip an occurrence with one edit, and cancel its post when it was already made", func() {
		ns := scheduleNamespace()
		created := time.Now()
		first := nextAt(created, time.UTC, 9, 0)
		rp := recurring(ns, "skipping", socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyDaily,
			Times: []string{"09:00"}, TimeZone: "UTC", Start: first.Format(time.RFC3339)})
		h := newRecurringHarness(created)
		h.reconcileAt(rp, first.Add(-OccurrenceLead/2))
		firstPost := recurrence.OccurrenceName(rp.Name, first)
		Expect(occurrencePosts(rp)).To(HaveKey(firstPost))

		second := first.AddDate(0, 0, 1)
		rp.Spec.Skip = []string{first.Format(time.RFC3339), second.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)}
		Expect(k8sClient.Update(ctx, rp)).To(Succeed())
		h.reconcileAt(rp, first.Add(-OccurrenceLead/4))
		p := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: firstPost}, p)).To(Succeed())
		Expect(p.Spec.Canceled).To(BeTrue(), "the skipped occurrence's post is canceled")
		Expect(rp.Status.NextOccurrences[0]).To(Equal(first.AddDate(0, 0, 2).Format(time.RFC3339)), "skipped occurrences are not listed")

		h.reconcileAt(rp, second.Add(-OccurrenceLead/2))
		Expect(occurrencePosts(rp)).NotTo(HaveKey(recurrence.OccurrenceName(rp.Name, second)))
		Expect(h.drained()).To(ContainElement(And(ContainSubstring(ReasonOccurrenceSkipped), ContainSubstring("listed in spec.skip"))))
		third := first.AddDate(0, 0, 2)
		h.reconcileAt(rp, third.Add(-OccurrenceLead/2))
		Expect(occurrencePosts(rp)).To(HaveKey(recurrence.OccurrenceName(rp.Name, third)))
	})

	It("rotate evergreen posts, pass over recently published ones, and remember them past historyLimit", func() {
		ns := scheduleNamespace()
		created := time.Now()
		first := nextAt(created, time.UTC, 9, 0)
		texts := []string{"Evergreen A", "Evergreen B", "Evergreen C"}
		rp := recurring(ns, "evergreen", socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyDaily,
			Times: []string{"09:00"}, TimeZone: "UTC", Start: first.Format(time.RFC3339)}, func(rp *socialv1alpha1.RecurringPost) {
			rp.Spec.Post = nil
			rp.Spec.HistoryLimit = ptr.To[int32](1)
			rp.Spec.Evergreen = &socialv1alpha1.Evergreen{SkipPublishedWithin: &metav1.Duration{Duration: 84 * time.Hour}}
			for _, t := range texts {
				rp.Spec.Evergreen.Posts = append(rp.Spec.Evergreen.Posts, socialv1alpha1.PostContent{Text: t, Profiles: []string{"sandbox"}})
			}
		})
		h := newRecurringHarness(created)
		var published []string
		for day := 0; day < 5; day++ {
			due := first.AddDate(0, 0, day)
			h.reconcileAt(rp, due.Add(-OccurrenceLead/2))
			p := &socialv1alpha1.ScheduledPost{}
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: recurrence.OccurrenceName(rp.Name, due)}, p)
			if err != nil {
				published = append(published, "-")
				continue
			}
			published = append(published, p.Spec.Text)
			// The post goes out: a status only the post reconciler writes in Herald.
			p.Status.Phase = socialv1alpha1.PostPublished
			Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
		}
		// Day 4: A went out 72 h before, within 84 h, as B and C did: skipped.
		Expect(published).To(Equal([]string{"Evergreen A", "Evergreen B", "Evergreen C", "-", "Evergreen A"}))
		Expect(h.drained()).To(ContainElement(ContainSubstring(ReasonEvergreenExhausted)))
		h.reconcileAt(rp, first.AddDate(0, 0, 5).Add(-2*OccurrenceLead))
		Expect(occurrencePosts(rp)).To(HaveLen(1), "historyLimit 1 keeps the newest finished post")
		Expect(rp.Status.Rotation).To(HaveLen(3))
		Expect(rp.Status.Rotation[1].LastPublishedTime.Time).To(BeTemporally("==", first.AddDate(0, 0, 1)), "B's record outlives its post")
	})

	DescribeTable("make each occurrence approved while the series is approved as it stands, and none once it changes",
		func(name string, withDigest bool) {
			ns := scheduleNamespace()
			created := time.Now()
			first := nextAt(created, time.UTC, 9, 0)
			rp := recurring(ns, name, socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyDaily,
				Times: []string{"09:00"}, TimeZone: "UTC", Start: first.Format(time.RFC3339)}, func(rp *socialv1alpha1.RecurringPost) {
				rp.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: "ann", ApprovedAt: "2026-12-01T09:00:00Z"}
				if withDigest {
					rp.Spec.Approval.ContentDigest = recurrence.SeriesDigest(&rp.Spec)
				}
			})
			h := newRecurringHarness(created)
			h.reconcileAt(rp, first.Add(-OccurrenceLead/2))
			p := &socialv1alpha1.ScheduledPost{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: recurrence.OccurrenceName(rp.Name, first)}, p)).To(Succeed())
			Expect(p.Spec.Approval).NotTo(BeNil())
			Expect(p.Spec.Approval.ApprovedBy).To(Equal("ann"))
			Expect(p.Spec.Approval.ContentDigest).To(Equal(post.ContentDigest(&p.Spec)), "the occurrence's approval covers what it publishes")

			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rp), rp)).To(Succeed())
			if !withDigest {
				Expect(rp.Status.Approval).NotTo(BeNil())
				Expect(rp.Status.Approval.ContentDigest).To(Equal(recurrence.SeriesDigest(&rp.Spec)), "pinned to the series it was first seen with")
			}
			rp.Spec.Post.Text = "A text no one approved"
			Expect(k8sClient.Update(ctx, rp)).To(Succeed())
			second := first.AddDate(0, 0, 1)
			h.reconcileAt(rp, second.Add(-OccurrenceLead/2))
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: recurrence.OccurrenceName(rp.Name, second)}, p)).To(Succeed())
			Expect(p.Spec.Approval).To(BeNil(), "the change withdrew the series' approval")
		},
		Entry("an approval carrying its digest, as ocoya_approve_post writes it", "approved", true),
		Entry("an approval without a digest, as Git writes it: pinned to the series it came with", "approved-in-git", false),
	)

	It("refuse a spec that names missing profiles or no time, and explain each problem", func() {
		ns := scheduleNamespace()
		rp := recurring(ns, "broken", socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyMonthly,
			ByMonthDay: []int32{30}, Interval: 12, Start: "2027-02-01T09:00:00Z"}, func(rp *socialv1alpha1.RecurringPost) {
			rp.Spec.Post.Profiles = []string{"nowhere"}
		})
		h := newRecurringHarness(time.Now())
		h.reconcileAt(rp, time.Now())
		Expect(rp.Status.ValidationErrors).To(ConsistOf(
			ContainSubstring(`profile "nowhere" does not exist`), ContainSubstring("names no time at or after start")))
		Expect(rp.Status.Conditions).To(ContainElement(And(HaveField("Type", socialv1alpha1.ConditionStalled), HaveField("Status", metav1.ConditionTrue))))
		Expect(occurrencePosts(rp)).To(BeEmpty())

		both := &socialv1alpha1.RecurringPost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both"},
			Spec: socialv1alpha1.RecurringPostSpec{Recurrence: socialv1alpha1.Recurrence{Frequency: "Weekly", Start: "2027-01-01T09:00:00Z", ByMonthDay: []int32{1}},
				Post:      &socialv1alpha1.PostContent{Text: "x", Profiles: []string{"sandbox"}},
				Evergreen: &socialv1alpha1.Evergreen{Posts: []socialv1alpha1.PostContent{{Text: "a", Profiles: []string{"sandbox"}}, {Text: "b", Profiles: []string{"sandbox"}}}}}}
		err := k8sClient.Create(ctx, both)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(And(ContainSubstring("give post (one post that repeats) or evergreen"), ContainSubstring("byMonthDay is only used with frequency Monthly")))
	})
})
