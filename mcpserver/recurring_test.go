package mcpserver

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("Recurring posts", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)
	acme := func(kv ...any) map[string]any { return argsIn("acme", kv...) }
	stored := func(id string) *socialv1alpha1.RecurringPost {
		GinkgoHelper()
		rp := &socialv1alpha1.RecurringPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, rp)).To(Succeed())
		return rp
	}

	It("are made with create_post, listed as upcoming occurrences, skipped one at a time, and stopped", func() {
		first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
		week := func(n int) string { return first.AddDate(0, 0, 7*n).Format(time.RFC3339) }
		out := ok(dev, "create_post", acme("text", "Weekly tip", "profileIds", []string{"sandbox"}, "scheduledAt", first.Format(time.RFC3339),
			"recurrence", map[string]any{"frequency": "Weekly", "count": 3}, "idempotencyKey", "weekly-tip"))
		Expect(out).NotTo(HaveKey("post"))
		Expect(out["created"]).To(BeTrue())
		rp := out["recurringPost"].(map[string]any)
		id := rp["id"].(string)
		Expect(rp["nextOccurrences"]).To(Equal([]any{week(0), week(1), week(2)}), "the answer describes the recurring post as written")
		Expect(rp["text"]).To(Equal("Weekly tip"))
		Expect(stored(id).Spec.Recurrence.Start).To(Equal(first.Format(time.RFC3339)))
		Expect(stored(id).Annotations).To(HaveKeyWithValue(socialv1alpha1.AnnotationRequestedBy, "dev"))

		again := ok(dev, "create_post", acme("text", "Weekly tip", "profileIds", []string{"sandbox"}, "scheduledAt", first.Format(time.RFC3339),
			"recurrence", map[string]any{"frequency": "Weekly", "count": 3}, "idempotencyKey", "weekly-tip"))
		Expect(again["created"]).NotTo(Equal(true), "the same idempotency key returns the recurring post it made")
		Expect(again["recurringPost"]).To(HaveKeyWithValue("id", id))

		upcoming := func(args ...any) []any {
			var ats []any
			list := ok(dev, "list_posts", acme(append([]any{"limit", 100}, args...)...))
			occ, _ := list["upcoming"].([]any)
			for _, o := range occ {
				if o.(map[string]any)["recurringPostId"] == id {
					ats = append(ats, o.(map[string]any)["at"])
				}
			}
			return ats
		}
		Eventually(upcoming, 10*time.Second, 50*time.Millisecond).Should(Equal([]any{week(0), week(1), week(2)}))
		Expect(upcoming("profileId", "x-main")).To(BeEmpty(), "filtered by profile")
		Expect(upcoming("status", "Published")).To(BeEmpty(), "occurrences to come are not published")
		Expect(upcoming("from", week(1), "to", week(2))).To(Equal([]any{week(1)}), "from is inclusive, to exclusive")

		Expect(fails(dev, "skip_occurrence", acme("recurringPostId", id, "at", first.Add(time.Hour).Format(time.RFC3339)))).To(
			And(ContainSubstring("is not an occurrence"), ContainSubstring(week(0))))
		second := first.AddDate(0, 0, 7).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
		skipped := ok(dev, "skip_occurrence", acme("recurringPostId", id, "at", second))["recurringPost"].(map[string]any)
		Expect(skipped["nextOccurrences"]).To(Equal([]any{week(0), week(2)}))
		Expect(skipped["skip"]).To(Equal([]any{week(1)}), "recorded in the recurrence's zone")
		ok(dev, "skip_occurrence", acme("recurringPostId", id, "at", week(1)))
		Expect(stored(id).Spec.Skip).To(HaveLen(1), "skipping twice is skipping once")
		Eventually(upcoming, 10*time.Second, 50*time.Millisecond).Should(Equal([]any{week(0), week(2)}))
		restored := ok(dev, "skip_occurrence", acme("recurringPostId", id, "at", week(1), "restore", true))["recurringPost"].(map[string]any)
		Expect(restored["nextOccurrences"]).To(HaveLen(3))
		Expect(restored).NotTo(HaveKey("skip"))

		read := ok(dev, "get_post", acme("postId", id))
		Expect(read["recurringPost"]).To(HaveKeyWithValue("nextOccurrences", HaveLen(3)))
		stopped := ok(dev, "delete_post", acme("postId", id))
		Expect(stopped["canceled"]).To(BeTrue())
		Expect(stored(id).Spec.Enabled).To(BeFalse())
		Expect(ok(dev, "get_post", acme("postId", id))["recurringPost"]).To(HaveKeyWithValue("nextOccurrences", BeEmpty()))
		Expect(ok(dev, "delete_post", acme("postId", id, "remove", true))["removed"]).To(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, &socialv1alpha1.RecurringPost{})).NotTo(Succeed())
	})

	It("explain every recurrence they cannot use, and create nothing", func() {
		soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		make := func(rec map[string]any, kv ...any) string {
			args := acme(append([]any{"text", "Tip", "profileIds", []string{"sandbox"}, "scheduledAt", soon, "recurrence", rec}, kv...)...)
			return fails(dev, "create_post", args)
		}
		Expect(fails(dev, "create_post", acme("text", "Tip", "profileIds", []string{"sandbox"}, "recurrence", map[string]any{"frequency": "Daily"}))).To(
			ContainSubstring("needs scheduledAt"))
		Expect(make(map[string]any{"frequency": "Weekly", "byWeekday": []string{"XX"}})).To(And(ContainSubstring("byWeekday"), ContainSubstring("XX"), ContainSubstring("MO")))
		Expect(make(map[string]any{"frequency": "Hourly"})).To(And(ContainSubstring("frequency"), ContainSubstring("Hourly"), ContainSubstring("Weekly")))
		Expect(make(map[string]any{"frequency": "Daily", "timeZone": "Mars/Olympus"})).To(ContainSubstring("IANA time zone"))
		Expect(make(map[string]any{"frequency": "Daily", "times": []string{"9am"}})).To(ContainSubstring(`times "9am"`))
		Expect(make(map[string]any{"frequency": "Daily", "count": 2, "until": soon})).To(ContainSubstring("give count or until, not both"))
		Expect(make(map[string]any{"frequency": "Monthly", "byMonthDay": []int{30}, "interval": 12},
			"scheduledAt", "2027-02-01T09:00:00Z")).To(ContainSubstring("names no time"))
		Expect(make(map[string]any{"frequency": "Daily", "until": "2020-01-01T00:00:00Z"})).To(ContainSubstring("until"))
		Expect(make(map[string]any{"frequency": "Daily"}, "profileIds", []string{"nowhere"})).To(ContainSubstring("nowhere"))

		writer := grant("dev", []string{"acme"}, socialv1alpha1.ScopePostsWrite, socialv1alpha1.ScopePostsRead)
		inFive := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
		Expect(fails(writer, "create_post", acme("text", "Tip", "profileIds", []string{"sandbox"}, "scheduledAt", inFive,
			"recurrence", map[string]any{"frequency": "Daily"}))).To(ContainSubstring(string(socialv1alpha1.ScopePostsPublish)),
			"a first occurrence minutes away publishes all but at once")

		var list socialv1alpha1.RecurringPostList
		Expect(k8sClient.List(ctx, &list, client.InNamespace("acme"))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
	})

	It("stay in their workspace, and viewers cannot make or skip them", func() {
		first := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		rp := ok(dev, "create_post", acme("text", "Daily", "profileIds", []string{"sandbox"}, "scheduledAt", first,
			"recurrence", map[string]any{"frequency": "Daily"}))["recurringPost"].(map[string]any)
		id := rp["id"].(string)
		DeferCleanup(func() { ok(dev, "delete_post", acme("postId", id, "remove", true)) })

		viewer := grant("viewer", []string{"acme"}, allScopes()...)
		Expect(fails(viewer, "skip_occurrence", acme("recurringPostId", id, "at", first))).To(ContainSubstring("viewer"))
		Expect(fails(viewer, "create_post", acme("text", "Daily", "profileIds", []string{"sandbox"}, "scheduledAt", first,
			"recurrence", map[string]any{"frequency": "Daily"}))).To(ContainSubstring("viewer"))
		Expect(ok(viewer, "get_post", acme("postId", id))["recurringPost"]).To(HaveKeyWithValue("id", id), "viewers read them")

		stranger := grant("someone-else", []string{"other"}, allScopes()...)
		other := map[string]any{"workspaceId": "other", "postId": id}
		Expect(fails(stranger, "get_post", other)).To(ContainSubstring("not found"))
		Expect(fails(stranger, "skip_occurrence", map[string]any{"workspaceId": "other", "recurringPostId": id, "at": first})).To(ContainSubstring("not found"))
	})
})
