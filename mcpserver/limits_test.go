package mcpserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// pings is a batch of n JSON-RPC pings.
func pings(n int) string {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i+1)
	}
	return "[" + strings.Join(msgs, ",") + "]"
}

var _ = Describe("Request limits", func() {
	It("answer 429 to a connection that sends faster than its rate, counting each batch message, per grant", func() {
		clock := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
		limited, err := New(Options{Client: k8sClient, Authenticate: testAuthenticate, Clock: clock, RateLimit: RateLimit{Rate: 2, Burst: 50}})
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(limited.Handler())
		DeferCleanup(ts.Close)
		url := ts.URL + "/mcp"
		first := grant("dev", []string{"acme"}, allScopes()...)
		second := grant("dev", []string{"acme"}, allScopes()...)
		second.Grant = "another-grant"

		resp, body := sendTo(url, first, pings(50))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
		var answers []rpcResponse
		Expect(json.Unmarshal(body, &answers)).To(Succeed())
		Expect(answers).To(HaveLen(50), "a full batch fits the burst")

		resp, body = sendTo(url, first, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests))
		Expect(resp.Header.Get("Retry-After")).To(Equal("1"))
		Expect(string(body)).To(ContainSubstring("this connection sends more than 2 messages per second; wait 1 s and send again"))

		resp, _ = sendTo(url, second, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "another connection has its own allowance")

		clock.Step(time.Second)
		resp, _ = sendTo(url, first, pings(2))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), "a second refills two messages")
		resp, _ = sendTo(url, first, pings(1))
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), "and no more")
	})

	It("stop running a batch once its answer fills MaxBatchAnswer, and say so for each message left", func() {
		const bound = 1 << 20
		small, err := New(Options{Client: k8sClient, APIReader: k8sClient, Authenticate: testAuthenticate, MaxBatchAnswer: bound})
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(small.Handler())
		DeferCleanup(ts.Close)
		Expect(k8sClient.Create(ctx, &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "forty-thousand"},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: strings.Repeat("long text ", 4000), Draft: true},
		})).To(Succeed())

		c := grant("dev", []string{"acme"}, allScopes()...)
		msgs := make([]string, 50)
		for i := range msgs {
			msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"ocoya_get_post","arguments":{"workspaceId":"acme","postId":"forty-thousand"}}}`, i+1)
		}
		resp, body := sendTo(ts.URL+"/mcp", c, "["+strings.Join(msgs, ",")+"]", "Mcp-Session-Id", testSession)
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		var answers []rpcResponse
		Expect(json.Unmarshal(body, &answers)).To(Succeed())
		Expect(answers).To(HaveLen(50), "every message is answered")
		run, refused := 0, 0
		for i, a := range answers {
			Expect(string(a.ID)).To(Equal(fmt.Sprint(i + 1)))
			if a.Error != nil {
				Expect(a.Error.Message).To(ContainSubstring("already fill the 1 MiB a batch answer may hold; send it again in a batch of its own"))
				refused++
				continue
			}
			Expect(refused).To(BeZero(), "once the answer is full, nothing after runs")
			run++
		}
		Expect(run).To(BeNumerically(">=", 1))
		Expect(refused).To(BeNumerically(">=", 1))
		Expect(len(body)).To(BeNumerically("<", bound+len(body)/run+64<<10), "at most one answer past the bound")
		GinkgoWriter.Printf("batch of 50 get_post of a 40,000-character post under a 1 MiB bound: %d run, %d refused, %.2f MiB answered\n", run, refused, float64(len(body))/(1<<20))
	})
})

var _ = Describe("Workspace limits", func() {
	It("refuse a post past maxDrafts, maxScheduledPosts or maxPostsPerDay, naming the limit, and let edits and retries through", func() {
		seedWorkspace("capped", "dev", socialv1alpha1.RoleOwner)
		ws := &socialv1alpha1.Workspace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "capped"}, ws)).To(Succeed())
		ws.Spec.Limits = &socialv1alpha1.WorkspaceLimits{MaxDrafts: ptr.To[int32](2), MaxScheduledPosts: ptr.To[int32](2), MaxPostsPerDay: ptr.To[int32](1)}
		Expect(k8sClient.Update(ctx, ws)).To(Succeed())
		c := grant("dev", []string{"capped"}, allScopes()...)
		Eventually(func() *int32 {
			got := &socialv1alpha1.Workspace{}
			_ = srv.opts.Client.Get(ctx, client.ObjectKey{Name: "capped"}, got)
			if got.Spec.Limits == nil {
				return nil
			}
			return got.Spec.Limits.MaxDrafts
		}).Should(HaveValue(BeEquivalentTo(2)), "the cache has the limits")

		draft := func(text string, extra ...any) map[string]any {
			args := map[string]any{"workspaceId": "capped", "text": text}
			for i := 0; i+1 < len(extra); i += 2 {
				args[extra[i].(string)] = extra[i+1]
			}
			return args
		}
		first := ok(c, "create_post", draft("one"))["post"].(map[string]any)["id"].(string)
		ok(c, "create_post", draft("two", "idempotencyKey", "two"))
		Expect(fails(c, "create_post", draft("three"))).To(ContainSubstring("workspace capped already holds 2 drafts, the most its spec.limits.maxDrafts allows"))
		again := ok(c, "create_post", draft("two", "idempotencyKey", "two"))
		Expect(again["created"]).To(BeNil(), "a retried call returns the post its first call made, at the limit too")
		ok(c, "update_post", map[string]any{"workspaceId": "capped", "postId": first, "text": "one, edited"})

		day1, day2 := "2030-01-07T09:00:00Z", "2030-01-08T09:00:00Z"
		ok(c, "schedule_post", map[string]any{"workspaceId": "capped", "postId": first, "scheduledAt": day1, "profileIds": []string{"sandbox"}})
		Expect(fails(c, "schedule_post", map[string]any{"workspaceId": "capped", "text": "same day", "profileIds": []string{"sandbox"}, "scheduledAt": "2030-01-07T18:00:00Z"})).
			To(ContainSubstring("workspace capped already publishes 1 post on 2030-01-07 (UTC), the most its spec.limits.maxPostsPerDay allows"))
		ok(c, "schedule_post", map[string]any{"workspaceId": "capped", "postId": first, "scheduledAt": "2030-01-07T10:00:00Z"}) // the same day again: takes nothing new
		ok(c, "schedule_post", map[string]any{"workspaceId": "capped", "text": "day two", "profileIds": []string{"sandbox"}, "scheduledAt": day2})
		Expect(fails(c, "create_post", map[string]any{"workspaceId": "capped", "text": "day three", "profileIds": []string{"sandbox"}, "scheduledAt": "2030-01-09T09:00:00Z"})).
			To(ContainSubstring("workspace capped already has 2 posts waiting to publish, the most its spec.limits.maxScheduledPosts allows"))

		posts := &socialv1alpha1.ScheduledPostList{}
		Expect(k8sClient.List(ctx, posts, client.InNamespace("capped"))).To(Succeed())
		Expect(posts.Items).To(HaveLen(3), "nothing refused was written")
	})
})

var _ = Describe("The posts:publish boundary", func() {
	It("needs posts:publish for a post scheduled less than 10 minutes ahead, which publishes all but at once", func() {
		writer := grant("dev", []string{"acme"}, socialv1alpha1.ScopeWorkspaceRead, socialv1alpha1.ScopePostsRead, socialv1alpha1.ScopePostsWrite)
		publisher := grant("dev", []string{"acme"}, allScopes()...)
		soon := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
		later := time.Now().Add(11 * time.Minute).UTC().Format(time.RFC3339)
		args := func(at string) map[string]any {
			return map[string]any{"workspaceId": "acme", "text": "soon", "profileIds": []string{"sandbox"}, "scheduledAt": at}
		}
		Expect(fails(writer, "schedule_post", args(soon))).To(ContainSubstring("less than 10m0s away, which publishes it all but at once; that needs the posts:publish scope"))
		Expect(fails(writer, "create_post", args(soon))).To(ContainSubstring("needs the posts:publish scope"))
		ok(writer, "schedule_post", args(later))
		ok(publisher, "schedule_post", args(soon))
	})
})

var _ = Describe("Post bounds", func() {
	It("refuse variants no post holds, naming the variant, in new posts, edits and recurring posts alike", func() {
		c := grant("dev", []string{"acme"}, allScopes()...)
		acme := func(kv ...any) map[string]any { return argsIn("acme", kv...) }
		clear := func(msg, want string) {
			GinkgoHelper()
			Expect(msg).To(ContainSubstring(want))
			Expect(msg).NotTo(ContainSubstring("social.herald.dev"), "the tool says what to change, rather than quoting the API server")
		}
		before := &socialv1alpha1.ScheduledPostList{}
		Expect(k8sClient.List(ctx, before, client.InNamespace("acme"))).To(Succeed())

		clear(fails(c, "create_post", acme("text", "hi", "variants", []map[string]any{{"platform": "x", "text": "a"}, {"platform": "x", "text": "b"}})),
			`variants[1] is a second variant for platform "x", after variants[0]; keep one`)
		long := strings.Repeat("a", 40000)
		clear(fails(c, "create_post", acme("text", long, "variants", []map[string]any{{"platform": "x", "text": long}, {"platform": "mastodon", "text": long}})),
			"the text and variants hold 120000 characters together, more than the 100000 a post holds; shorten them")
		clear(fails(c, "create_post", acme("text", "tip", "profileIds", []string{"sandbox"}, "scheduledAt", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339),
			"recurrence", map[string]any{"frequency": "Weekly"}, "variants", []map[string]any{{"profileId": "sandbox", "text": "a"}, {"profileId": "sandbox", "text": "b"}})),
			`variants[1] is a second variant for profile "sandbox", after variants[0]; keep one`)

		id := ok(c, "create_post", acme("text", "hi", "profileIds", []string{"sandbox", "x-main"},
			"variants", []map[string]any{{"profileId": "x-main", "text": "for X"}}))["post"].(map[string]any)["id"].(string)
		clear(fails(c, "update_post", acme("postId", id, "profileIds", []string{"sandbox"})),
			`variants[0] is for profile "x-main", which is not one of the post's profiles; add the profile or remove the variant`)

		after := &socialv1alpha1.ScheduledPostList{}
		Expect(k8sClient.List(ctx, after, client.InNamespace("acme"))).To(Succeed())
		Expect(after.Items).To(HaveLen(len(before.Items)+1), "only the post that fits was written")
		recurring := &socialv1alpha1.RecurringPostList{}
		Expect(k8sClient.List(ctx, recurring, client.InNamespace("acme"))).To(Succeed())
		for _, rp := range recurring.Items {
			Expect(rp.Spec.Post == nil || rp.Spec.Post.Text != "tip").To(BeTrue(), "the refused recurring post was not written")
		}
	})
})
