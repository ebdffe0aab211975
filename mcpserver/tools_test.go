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
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

func future() string { return time.Now().Add(time.Hour).UTC().Format(time.RFC3339) }

var _ = Describe("The MCP endpoint", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)

	It("answers 401 without a token, so clients start OAuth", func() {
		resp, _ := send(nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
		Expect(resp.Header.Get("WWW-Authenticate")).To(ContainSubstring("resource_metadata="))
	})

	It("lists only the tools the grant's scopes allow", func() {
		names := func(c *Caller) []string {
			out := rpc(c, "tools/list", map[string]any{})
			var r struct {
				Tools []struct{ Name string } `json:"tools"`
			}
			Expect(json.Unmarshal(out.Result, &r)).To(Succeed())
			var n []string
			for _, t := range r.Tools {
				n = append(n, t.Name)
			}
			return n
		}
		Expect(names(dev)).To(HaveLen(len(Catalogue("ocoya"))))
		readOnly := names(grant("dev", []string{"acme"}, socialv1alpha1.ScopePostsRead))
		Expect(readOnly).To(ConsistOf("ocoya_get_me", "ocoya_list_posts", "ocoya_get_post", "ocoya_preview_post"))
	})

	It("answers 403 insufficient_scope for a tool outside the grant, naming the scope", func() {
		reader := grant("dev", []string{"acme"}, socialv1alpha1.ScopePostsRead)
		resp, _ := send(reader, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ocoya_create_post","arguments":{"workspaceId":"acme","text":"hi"}}}`)
		Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		Expect(resp.Header.Get("WWW-Authenticate")).To(And(ContainSubstring(`error="insufficient_scope"`), ContainSubstring("posts:write")))
	})

	Describe("JSON-RPC batches", func() {
		It("answers each request in order, skipping notifications, whatever protocol version is sent", func() {
			batch := `[
				{"jsonrpc":"2.0","id":"a","method":"ping"},
				{"jsonrpc":"2.0","method":"notifications/initialized"},
				{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"ocoya_list_workspaces","arguments":{}}},
				42,
				{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"ocoya_get_workspace","arguments":{"workspaceId":"other"}}}
			]`
			for _, version := range []string{"2025-03-26", "2025-11-25", "1999-01-01", ""} {
				resp, body := send(dev, batch, "MCP-Protocol-Version", version)
				Expect(resp.StatusCode).To(Equal(http.StatusOK), "version %q: %s", version, body)
				var out []rpcResponse
				Expect(json.Unmarshal(body, &out)).To(Succeed(), string(body))
				Expect(out).To(HaveLen(4))
				Expect(string(out[0].ID)).To(Equal(`"a"`))
				Expect(out[0].Error).To(BeNil())
				Expect(string(out[1].ID)).To(Equal(`"b"`))
				Expect(string(out[1].Result)).To(ContainSubstring(`"id":"acme"`))
				Expect(out[2].Error).NotTo(BeNil(), "the invalid element in the middle gets an Invalid Request error")
				Expect(out[2].Error.Code).To(Equal(-32600))
				Expect(string(out[3].ID)).To(Equal(`"c"`))
				Expect(string(out[3].Result)).To(And(ContainSubstring(`"isError":true`), ContainSubstring("not found")))
			}
		})

		It("answers a batch of only notifications with 202", func() {
			resp, body := send(dev, `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`)
			Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
			Expect(body).To(BeEmpty())
		})

		It("refuses a batch with a call outside the grant with 403", func() {
			reader := grant("dev", []string{"acme"}, socialv1alpha1.ScopePostsRead)
			resp, _ := send(reader, `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ocoya_publish_post","arguments":{}}}]`)
			Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
			Expect(resp.Header.Get("WWW-Authenticate")).To(ContainSubstring("posts:publish"))
		})
	})
})

var _ = Describe("Workspace and profile tools", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)

	It("get_me says who the caller is and what the grant holds", func() {
		me := ok(dev, "get_me", nil)
		Expect(me["subject"]).To(Equal("dev"))
		Expect(me["scopes"]).To(HaveLen(len(oauth.AllScopes)))
		Expect(me["workspaces"]).To(HaveLen(1))
	})

	It("lists only granted workspaces, and a workspace outside the grant does not exist", func() {
		out := ok(dev, "list_workspaces", nil)
		Expect(out["workspaces"]).To(HaveLen(1))
		Expect(out["workspaces"].([]any)[0].(map[string]any)["id"]).To(Equal("acme"))

		foreign := fails(dev, "get_workspace", map[string]any{"workspaceId": "other"})
		missing := fails(dev, "get_workspace", map[string]any{"workspaceId": "no-such-workspace"})
		Expect(foreign).To(ContainSubstring("not found"))
		Expect(strings.ReplaceAll(foreign, "other", "X")).To(Equal(strings.ReplaceAll(missing, "no-such-workspace", "X")), "no leak of existence")

		// A grant naming a workspace the user is not a member of is no better.
		intruder := grant("dev", []string{"other"}, allScopes()...)
		Expect(fails(intruder, "list_social_profiles", map[string]any{"workspaceId": "other"})).To(ContainSubstring("not found"))
	})

	It("lists profiles with their limits, and explains a foreign profile id", func() {
		out := ok(dev, "list_social_profiles", map[string]any{"workspaceId": "acme"})
		profiles := out["profiles"].([]any)
		Expect(profiles).To(HaveLen(2))
		x := profiles[1].(map[string]any)
		Expect(x["id"]).To(Equal("x-main"))
		Expect(x["characterLimit"]).To(BeNumerically("==", 280))

		msg := fails(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "hi", "profileIds": []string{"elsewhere"}})
		Expect(msg).To(And(ContainSubstring("ocoya_list_social_profiles"), ContainSubstring("acme")))
	})

	It("refuses write tools to a viewer, whatever the grant says", func() {
		viewer := grant("viewer", []string{"acme"}, allScopes()...)
		Expect(ok(viewer, "list_posts", map[string]any{"workspaceId": "acme"})).To(HaveKey("posts"))
		Expect(fails(viewer, "create_post", map[string]any{"workspaceId": "acme", "text": "hi"})).To(ContainSubstring("viewer"))
	})

	It("validates arguments against the schema before the handler runs", func() {
		r := call(dev, "list_posts", map[string]any{"workspaceId": "acme", "limit": 1000})
		Expect(r.IsError).To(BeTrue())
		Expect(r.text()).To(ContainSubstring("limit"))
		r = call(dev, "get_workspace", map[string]any{"workspaceId": "acme", "bogus": true})
		Expect(r.IsError).To(BeTrue())
	})
})

var _ = Describe("Post tools", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)

	It("creates a draft without a time, and schedules with a time and profiles", func() {
		draft := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Draft idea"})["post"].(map[string]any)
		Expect(draft["draft"]).To(BeTrue())
		Expect(draft["phase"]).To(Equal("Draft"))

		at := future()
		scheduled := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Scheduled", "profileIds": []string{"sandbox"}, "scheduledAt": at})["post"].(map[string]any)
		Expect(scheduled["draft"]).To(BeFalse())
		Expect(scheduled["phase"]).To(Equal("Scheduled"))
		Expect(scheduled["scheduledAt"]).To(Equal(at))

		stored := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: scheduled["id"].(string)}, stored)).To(Succeed())
		Expect(stored.Annotations).To(HaveKeyWithValue(socialv1alpha1.AnnotationRequestedBy, "dev"))
		Expect(stored.Annotations).To(HaveKeyWithValue(socialv1alpha1.AnnotationRequestedVia, "test-client"))

		By("scheduling the draft, then rescheduling it")
		id := draft["id"].(string)
		ok(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": id, "profileIds": []string{"sandbox"}})
		p := ok(dev, "schedule_post", map[string]any{"workspaceId": "acme", "postId": id, "scheduledAt": at})["post"].(map[string]any)
		Expect(p["phase"]).To(Equal("Scheduled"))
		later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
		p = ok(dev, "schedule_post", map[string]any{"workspaceId": "acme", "postId": id, "scheduledAt": later})["post"].(map[string]any)
		Expect(p["scheduledAt"]).To(Equal(later))
	})

	It("describes a post as written: a draft the reconciler reported as Draft is Scheduled once scheduled", func() {
		id := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Draft first", "profileIds": []string{"sandbox"}})["post"].(map[string]any)["id"].(string)
		stored := &socialv1alpha1.ScheduledPost{}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored) }).Should(Succeed())
		// What the reconciler writes for a draft.
		stored.Status = socialv1alpha1.ScheduledPostStatus{ObservedGeneration: stored.Generation, Phase: socialv1alpha1.PostDraft,
			Deliveries: []socialv1alpha1.Delivery{{Profile: "sandbox", Phase: socialv1alpha1.DeliveryPending}}}
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
		Eventually(func() any {
			return ok(dev, "get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)["phase"]
		}, 10*time.Second, 50*time.Millisecond).Should(Equal("Draft"))

		p := ok(dev, "schedule_post", map[string]any{"workspaceId": "acme", "postId": id, "scheduledAt": future()})["post"].(map[string]any)
		Expect(p["phase"]).To(Equal("Scheduled"), "the answer describes the post it just scheduled")
		Expect(p["draft"]).To(BeFalse())
	})

	It("lets a post waiting for its profile's rate limit be edited: nothing was sent", func() {
		id := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Held back", "profileIds": []string{"sandbox"}, "scheduledAt": future()})["post"].(map[string]any)["id"].(string)
		stored := &socialv1alpha1.ScheduledPost{}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored) }).Should(Succeed())
		later := metav1.NewTime(time.Now().Add(time.Hour))
		stored.Status = socialv1alpha1.ScheduledPostStatus{ObservedGeneration: stored.Generation, Phase: socialv1alpha1.PostPublishing,
			Deliveries: []socialv1alpha1.Delivery{{Profile: "sandbox", Phase: socialv1alpha1.DeliveryPending, NextAttemptAt: &later, LastError: "waiting for the rate limit"}}}
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
		Eventually(func() map[string]any {
			return ok(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": id, "text": "Held back, reworded"})["post"].(map[string]any)
		}, 10*time.Second, 50*time.Millisecond).Should(HaveKeyWithValue("text", "Held back, reworded"))
	})

	It("retries an Unknown delivery only when it is named", func() {
		id := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Maybe online", "profileIds": []string{"sandbox"}, "scheduledAt": future()})["post"].(map[string]any)["id"].(string)
		stored := &socialv1alpha1.ScheduledPost{}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored) }).Should(Succeed())
		stored.Status = socialv1alpha1.ScheduledPostStatus{ObservedGeneration: stored.Generation, Phase: socialv1alpha1.PostUnknown,
			Deliveries: []socialv1alpha1.Delivery{{Profile: "sandbox", Platform: socialv1alpha1.Platform("sandbox"), Phase: socialv1alpha1.DeliveryUnknown, Attempts: 1, LastError: "no answer"}}}
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
		Eventually(func() string {
			return fails(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id})
		}, 10*time.Second, 50*time.Millisecond).Should(And(ContainSubstring("may already be online"), ContainSubstring("profileIds")))
		Expect(fails(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id, "profileIds": []string{"x-main"}})).To(ContainSubstring("not one of its profiles"))

		ok(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id, "profileIds": []string{"sandbox"}})
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored)).To(Succeed())
		Expect(stored.Annotations).To(HaveKeyWithValue(socialv1alpha1.AnnotationRetryProfiles, "sandbox"))
		Expect(stored.Annotations).To(HaveKey(socialv1alpha1.AnnotationRetryRequestedAt))
	})

	It("retries only Failed deliveries unnamed, a Missed one when named, and asks without touching the spec", func() {
		id := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Too late", "profileIds": []string{"sandbox"}, "scheduledAt": future()})["post"].(map[string]any)["id"].(string)
		stored := &socialv1alpha1.ScheduledPost{}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored) }).Should(Succeed())
		stored.Status = socialv1alpha1.ScheduledPostStatus{ObservedGeneration: stored.Generation, Phase: socialv1alpha1.PostMissed,
			Deliveries: []socialv1alpha1.Delivery{{Profile: "sandbox", Platform: socialv1alpha1.Platform("sandbox"), Phase: socialv1alpha1.DeliveryMissed, LastError: "beyond maxLateness"}}}
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
		Eventually(func() string {
			return fails(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id})
		}, 10*time.Second, 50*time.Millisecond).Should(And(ContainSubstring("no Failed deliveries"), ContainSubstring("sandbox: it was Missed and never sent"), ContainSubstring("profileIds")))
		Eventually(func() any {
			return ok(dev, "get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)["nextSteps"]
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(ContainSubstring(`ocoya_retry_post with profileIds ["sandbox"]`)))

		generation := stored.Generation
		ok(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id, "profileIds": []string{"sandbox"}})
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored)).To(Succeed())
		Expect(stored.Annotations).To(HaveKeyWithValue(socialv1alpha1.AnnotationRetryProfiles, "sandbox"))
		Expect(stored.Generation).To(Equal(generation), "a retry request is no edit: the reconciler must not take it for a new spec, which makes Missed deliveries due again")
	})

	It("explains times without an offset, in the past, and text over a platform's limit", func() {
		Expect(fails(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "t", "profileIds": []string{"sandbox"}, "scheduledAt": "2030-07-01T09:00:00"})).
			To(ContainSubstring("Use an ISO datetime such as 2026-07-01T09:00:00Z"))
		Expect(fails(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "t", "profileIds": []string{"sandbox"}, "scheduledAt": "2001-01-01T00:00:00Z"})).
			To(And(ContainSubstring("in the past"), ContainSubstring("ocoya_publish_post")))
		long := strings.Repeat("a", 300)
		msg := fails(dev, "create_post", map[string]any{"workspaceId": "acme", "text": long, "profileIds": []string{"x-main"}, "scheduledAt": future()})
		Expect(msg).To(And(ContainSubstring("x-main"), ContainSubstring("20")), "names the platform and by how much")
		Expect(fails(dev, "schedule_post", map[string]any{"workspaceId": "acme", "text": "no profiles", "scheduledAt": future()})).To(ContainSubstring("no profiles"))
	})

	It("previews per profile with the same rendering publishing uses", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.BrandKit{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "brand"},
			Spec:       socialv1alpha1.BrandKitSpec{DisplayName: "Brand", Signature: "— Acme", Hashtags: []string{"#Acme"}, BannedWords: []string{"cheap"}},
		})).To(Succeed())
		out := ok(dev, "preview_post", map[string]any{"workspaceId": "acme", "text": "Cheap coffee today", "profileIds": []string{"sandbox", "x-main"}, "brandKitId": "brand",
			"variants": []map[string]any{{"platform": "x", "text": "Short for X"}}})
		Expect(out["ok"]).To(BeFalse(), "the banned word stops it")
		previews := out["previews"].([]any)
		sandbox, x := previews[0].(map[string]any), previews[1].(map[string]any)
		Expect(sandbox["text"]).To(Equal("Cheap coffee today\n\n— Acme\n\n#Acme"))
		Expect(x["text"]).To(HavePrefix("Short for X"))
		Expect(x["limit"]).To(BeNumerically("==", 280))
		Expect(sandbox["problems"]).To(ContainElement(ContainSubstring("cheap")))
	})

	It("previews the media rules and posting limit of each platform", func() {
		instagram := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "insta"},
			Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("instagram"), Handle: "@acme",
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "insta"}},
		}
		Expect(k8sClient.Create(ctx, instagram)).To(Succeed())
		// Other specs list acme's profiles: leave them as they were.
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, instagram)).To(Succeed()) })
		out := ok(dev, "preview_post", map[string]any{"workspaceId": "acme", "text": "Words alone", "profileIds": []string{"insta", "sandbox"}})
		Expect(out["ok"]).To(BeFalse())
		insta := out["previews"].([]any)[0].(map[string]any)
		Expect(insta["problems"]).To(ConsistOf(ContainSubstring("Instagram posts need an image or a video")))
		Expect(insta["media"]).To(Equal("up to 10: 10 images of up to 8 MB (JPEG; 4:5 to 1.91:1), 10 videos of up to 1 GB (MP4 or MOV); an image or a video is required"))
		Expect(insta["postingLimit"]).To(Equal("1 post per hour, to stay within Instagram's limit of 25 posts per 24 hours through the API, content_publishing_limit"))
		Expect(out["previews"].([]any)[1].(map[string]any)["postingLimit"]).To(Equal("no limit"))

		out = ok(dev, "preview_post", map[string]any{"workspaceId": "acme", "text": "With a photo", "profileIds": []string{"insta"},
			"media": []map[string]any{{"url": "https://cdn.example/cup.jpg"}}})
		Expect(out["ok"]).To(BeTrue(), "a file that cannot be read is left to the platform")

		// The preview reads the start of each file as publishing does, and
		// reports what Instagram would refuse.
		host := httptest.NewServer(http.HandlerFunc(platformtest.ServeMedia))
		DeferCleanup(host.Close)
		out = ok(dev, "preview_post", map[string]any{"workspaceId": "acme", "text": "Two photos", "profileIds": []string{"insta", "sandbox"},
			"media": []map[string]any{{"url": host.URL + "/files/cup-1080x1350.jpg"}, {"url": host.URL + "/files/skyline-2400x1000.jpg"}}})
		Expect(out["ok"]).To(BeFalse())
		previews := out["previews"].([]any)
		Expect(previews[0].(map[string]any)["problems"]).To(ConsistOf(
			"Attachment 2 (" + host.URL + "/files/skyline-2400x1000.jpg): Instagram takes images from 4:5 (tallest) to 1.91:1 (widest), and this one is 2400×1000, 2.40:1; crop it to fit."))
		Expect(previews[1].(map[string]any)["ok"]).To(BeTrue(), "the sandbox takes any file")
		Expect(fails(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Two photos", "profileIds": []string{"insta"}, "scheduledAt": future(),
			"media": []map[string]any{{"url": host.URL + "/files/skyline-2400x1000.jpg"}}})).To(ContainSubstring("crop it to fit"), "what the preview refuses, scheduling refuses")
	})

	It("returns the same post for the same idempotency key", func() {
		args := map[string]any{"workspaceId": "acme", "text": "Once", "profileIds": []string{"sandbox"}, "scheduledAt": future(), "idempotencyKey": "key-1"}
		first := ok(dev, "create_post", args)
		second := ok(dev, "create_post", args)
		Expect(first["created"]).To(BeTrue())
		Expect(second).NotTo(HaveKey("created"))
		Expect(second["post"].(map[string]any)["id"]).To(Equal(first["post"].(map[string]any)["id"]))
		pub1 := ok(dev, "publish_post", map[string]any{"workspaceId": "acme", "text": "Now", "profileIds": []string{"sandbox"}, "idempotencyKey": "pub-1"})
		pub2 := ok(dev, "publish_post", map[string]any{"workspaceId": "acme", "text": "Now", "profileIds": []string{"sandbox"}, "idempotencyKey": "pub-1"})
		Expect(pub2["post"].(map[string]any)["id"]).To(Equal(pub1["post"].(map[string]any)["id"]))
	})

	It("refuses edits once publishing started, and concurrent edits with expectedRevision", func() {
		created := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Edit me"})["post"].(map[string]any)
		id, rev := created["id"].(string), created["revision"].(string)
		ok(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": id, "text": "Edited", "expectedRevision": rev})
		Expect(fails(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": id, "text": "Stale", "expectedRevision": rev})).To(ContainSubstring("changed since revision"))

		stored := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored)).To(Succeed())
		stored.Status.Phase = socialv1alpha1.PostPublished
		stored.Status.Deliveries = []socialv1alpha1.Delivery{{Profile: "sandbox", Phase: socialv1alpha1.DeliveryFailed, Attempts: 1, LastError: "boom"}}
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
		Eventually(func() string {
			return fails(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": id, "text": "Too late"})
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("publishing started"))

		// update_post reads around the cache; get_post reads it, which may lag.
		Eventually(func() any {
			return ok(dev, "get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)["nextSteps"]
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(ContainSubstring("ocoya_retry_post")))
		ok(dev, "retry_post", map[string]any{"workspaceId": "acme", "postId": id})
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored)).To(Succeed())
		Expect(stored.Annotations).To(HaveKey(socialv1alpha1.AnnotationRetryRequestedAt))
	})

	It("keeps GitOps-owned posts read-only, saying where to change them", func() {
		p := &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "from-git", Labels: map[string]string{
				"kustomize.toolkit.fluxcd.io/name": "social", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: "In Git", Draft: true},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Eventually(func() string {
			return fails(dev, "update_post", map[string]any{"workspaceId": "acme", "postId": "from-git", "text": "x"})
		}, 10*time.Second, 50*time.Millisecond).Should(And(ContainSubstring("read-only"), ContainSubstring("flux-system/social")))
		Expect(fails(dev, "delete_post", map[string]any{"workspaceId": "acme", "postId": "from-git"})).To(ContainSubstring("Git"))
	})

	It("cancels, then removes, a post", func() {
		id := ok(dev, "create_post", map[string]any{"workspaceId": "acme", "text": "Bye", "profileIds": []string{"sandbox"}, "scheduledAt": future()})["post"].(map[string]any)["id"].(string)
		Expect(ok(dev, "delete_post", map[string]any{"workspaceId": "acme", "postId": id})["canceled"]).To(BeTrue())
		stored := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored)).To(Succeed())
		Expect(stored.Spec.Canceled).To(BeTrue())
		Eventually(func() map[string]any {
			return ok(dev, "delete_post", map[string]any{"workspaceId": "acme", "postId": id, "remove": true})
		}, 10*time.Second, 50*time.Millisecond).Should(HaveKeyWithValue("removed", true))
		Expect(client.IgnoreNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: id}, stored))).To(Succeed())
	})
})

var _ = Describe("Pagination", func() {
	It("pages through 1,000 posts without skipping or repeating one", func() {
		seedWorkspace("bulk", "dev", socialv1alpha1.RoleEditor)
		for i := range 1000 {
			Expect(k8sClient.Create(ctx, &socialv1alpha1.ScheduledPost{
				ObjectMeta: metav1.ObjectMeta{Namespace: "bulk", Name: fmt.Sprintf("p-%04d", i)},
				Spec:       socialv1alpha1.ScheduledPostSpec{Text: "bulk", Draft: true},
			})).To(Succeed())
		}
		c := grant("dev", []string{"bulk"}, socialv1alpha1.ScopePostsRead)
		Eventually(func() int {
			return len(ok(c, "list_posts", map[string]any{"workspaceId": "bulk", "limit": 100})["posts"].([]any))
		}, 20*time.Second, 100*time.Millisecond).Should(Equal(100))
		Eventually(func() error {
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				args := map[string]any{"workspaceId": "bulk", "limit": 100}
				if cursor != "" {
					args["cursor"] = cursor
				}
				out := ok(c, "list_posts", args)
				for _, p := range out["posts"].([]any) {
					id := p.(map[string]any)["id"].(string)
					if seen[id] {
						return fmt.Errorf("%s seen twice", id)
					}
					seen[id] = true
				}
				next, _ := out["nextCursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != 1000 {
				return fmt.Errorf("saw %d posts", len(seen))
			}
			return nil
		}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
		Expect(fails(c, "list_posts", map[string]any{"workspaceId": "bulk", "cursor": "not-a-cursor!"})).To(ContainSubstring("nextCursor"))
	})
})

var _ = Describe("Workflow tools", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)

	It("runs a valid workflow with checked inputs, once per idempotency key", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "announce"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
				Inputs: []socialv1alpha1.WorkflowInput{{Name: "topic", Type: "string", Required: true}},
				Posts:  []socialv1alpha1.PostTemplate{{Text: "News: {{ .Inputs.topic }}", Profiles: []string{"sandbox"}}}},
		})).To(Succeed())
		Eventually(func() bool {
			return call(dev, "get_workflow", map[string]any{"workspaceId": "acme", "workflowId": "announce"}).IsError
		}, 10*time.Second, 50*time.Millisecond).Should(BeFalse())
		Expect(fails(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "announce"})).To(ContainSubstring("topic is required"))
		first := ok(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "announce", "inputs": map[string]string{"topic": "launch"}, "idempotencyKey": "run-1"})
		again := ok(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "announce", "inputs": map[string]string{"topic": "launch"}, "idempotencyKey": "run-1"})
		Expect(again["run"].(map[string]any)["id"]).To(Equal(first["run"].(map[string]any)["id"]))
	})

	It("refuses to run or toggle an invalid workflow, listing its validation errors", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "broken"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "every tuesday"},
				Posts: []socialv1alpha1.PostTemplate{{Text: "{{ .Inputs.x ", Profiles: []string{"nowhere"}}}},
		})).To(Succeed())
		Eventually(func() string {
			return fails(dev, "toggle_workflow", map[string]any{"workspaceId": "acme", "workflowId": "broken", "enabled": false})
		}, 10*time.Second, 50*time.Millisecond).Should(And(ContainSubstring("trigger.schedule"), ContainSubstring("nowhere"), ContainSubstring("not a valid post template")))
		Expect(fails(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "broken"})).To(ContainSubstring("invalid"))
	})
})

var _ = Describe("Reading one's own writes", func() {
	It("lists and gets a post the moment create_post returns", func() {
		seedWorkspace("fresh", "dev", socialv1alpha1.RoleEditor)
		c := grant("dev", []string{"fresh"}, allScopes()...)
		Eventually(func() bool {
			return call(c, "list_posts", map[string]any{"workspaceId": "fresh"}).IsError
		}, 10*time.Second, 50*time.Millisecond).Should(BeFalse())
		for i := range 20 {
			id := ok(c, "create_post", map[string]any{"workspaceId": "fresh", "text": fmt.Sprintf("note %d", i)})["post"].(map[string]any)["id"].(string)
			Expect(ok(c, "get_post", map[string]any{"workspaceId": "fresh", "postId": id})["post"].(map[string]any)["id"]).To(Equal(id))
			page := ok(c, "list_posts", map[string]any{"workspaceId": "fresh", "limit": 100})["posts"].([]any)
			Expect(page).To(HaveLen(i + 1))
			Expect(page).To(ContainElement(HaveKeyWithValue("id", id)))
		}
	})
})
