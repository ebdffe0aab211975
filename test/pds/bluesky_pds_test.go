package pds

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf16"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/bluesky"
	"github.com/herald-dev/herald/internal/testenv"
)

const postCollection = "app.bsky.feed.post"

// postText has a link, a mention of the PDS account's own handle and a
// hashtag, after multi-byte characters (é is 2 bytes, ☕ 3, — 3), so UTF-8
// byte offsets differ from rune and UTF-16 offsets.
const postText = "Café ☕ is open — notes at https://example.com/notes?id=1, thanks @herald.test! #HeraldLaunch 🚀"

// feedRecord is an app.bsky.feed.post as getRecord and listRecords return it.
type feedRecord struct {
	URI   string `json:"uri"`
	CID   string `json:"cid"`
	Value struct {
		Type      string `json:"$type"`
		Text      string `json:"text"`
		CreatedAt string `json:"createdAt"`
		Facets    []struct {
			Index struct {
				ByteStart int `json:"byteStart"`
				ByteEnd   int `json:"byteEnd"`
			} `json:"index"`
			Features []map[string]string `json:"features"`
		} `json:"facets"`
	} `json:"value"`
}

func getRecord(g Gomega, rkey string) feedRecord {
	var rec feedRecord
	xrpcGet(g, "com.atproto.repo.getRecord", url.Values{"repo": {pds.DID}, "collection": {postCollection}, "rkey": {rkey}}, &rec)
	return rec
}

// listPosts returns every post record in the account's repository.
func listPosts(g Gomega) []feedRecord {
	var out struct {
		Records []feedRecord `json:"records"`
	}
	xrpcGet(g, "com.atproto.repo.listRecords", url.Values{"repo": {pds.DID}, "collection": {postCollection}, "limit": {"100"}}, &out)
	return out.Records
}

// withRKey returns the records whose key is rkey.
func withRKey(recs []feedRecord, rkey string) []feedRecord {
	var out []feedRecord
	for _, r := range recs {
		if strings.HasSuffix(r.URI, "/"+postCollection+"/"+rkey) {
			out = append(out, r)
		}
	}
	return out
}

// blueskyProfile creates the credentials Secret and a bluesky SocialProfile
// pointing at the PDS, and waits until it is Ready.
func blueskyProfile(ns, name string) *socialv1alpha1.SocialProfile {
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-credentials"},
		StringData: map[string]string{"identifier": pds.Handle, "appPassword": pds.Password},
	})).To(Succeed())
	p := &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{
			Platform: socialv1alpha1.Platform("bluesky"), Handle: "@" + pds.Handle, Endpoint: pds.URL,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-credentials"},
		},
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	EventuallyWithOffset(1, func(g Gomega) {
		got := &socialv1alpha1.SocialProfile{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		ready := meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
		g.Expect(got.Status.AccountID).To(Equal(pds.DID), "the PDS's getSession names the account")
		g.Expect(got.Status.Handle).To(ContainSubstring(pds.Handle))
	}, timeout, interval).Should(Succeed())
	return p
}

func getPost(g Gomega, post *socialv1alpha1.ScheduledPost) *socialv1alpha1.ScheduledPost {
	out := &socialv1alpha1.ScheduledPost{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), out)).To(Succeed())
	return out
}

func delivery(g Gomega, post *socialv1alpha1.ScheduledPost, profile string) socialv1alpha1.Delivery {
	for _, d := range post.Status.Deliveries {
		if d.Profile == profile {
			return d
		}
	}
	g.Expect(post.Status.Deliveries).To(ContainElement(HaveField("Profile", profile)))
	return socialv1alpha1.Delivery{}
}

func expectPhase(post *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) *socialv1alpha1.ScheduledPost {
	var got *socialv1alpha1.ScheduledPost
	EventuallyWithOffset(1, func(g Gomega) {
		got = getPost(g, post)
		g.Expect(got.Status.Phase).To(Equal(phase), "deliveries: %+v", got.Status.Deliveries)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, timeout, interval).Should(Succeed())
	return got
}

// tick wakes the reconciler for obj after the fake clock was stepped (see testenv.Tick).
func tick(obj client.Object) {
	ExpectWithOffset(1, testenv.Tick(ctx, k8sClient, obj, fakeClock.Now())).To(Succeed())
}

// expectFacets checks the record's text and its three facets against
// UTF-8 byte offsets computed from the text.
func expectFacets(rec feedRecord) {
	Expect(rec.Value.Type).To(Equal(postCollection))
	Expect(rec.Value.Text).To(Equal(postText))

	span := func(s string) (int, int) {
		i := strings.Index(postText, s)
		Expect(i).To(BeNumerically(">=", 0))
		return i, i + len(s)
	}
	linkStart, linkEnd := span("https://example.com/notes?id=1")
	mentionStart, mentionEnd := span("@herald.test")
	tagStart, tagEnd := span("#HeraldLaunch")
	// The offsets are bytes, not runes or UTF-16 units, and this text tells
	// them apart.
	Expect(linkStart).NotTo(Equal(len([]rune(postText[:linkStart]))))
	Expect(linkStart).NotTo(Equal(len(utf16.Encode([]rune(postText[:linkStart])))))

	Expect(rec.Value.Facets).To(HaveLen(3), "a link, a mention and a tag: %+v", rec.Value.Facets)
	type want struct {
		start, end int
		feature    map[string]string
	}
	for i, w := range []want{
		{linkStart, linkEnd, map[string]string{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/notes?id=1"}},
		{mentionStart, mentionEnd, map[string]string{"$type": "app.bsky.richtext.facet#mention", "did": pds.DID}},
		{tagStart, tagEnd, map[string]string{"$type": "app.bsky.richtext.facet#tag", "tag": "HeraldLaunch"}},
	} {
		f := rec.Value.Facets[i]
		Expect(f.Index.ByteStart).To(Equal(w.start), "facet %d start", i)
		Expect(f.Index.ByteEnd).To(Equal(w.end), "facet %d end", i)
		Expect(f.Features).To(ConsistOf(w.feature), "facet %d", i)
		Expect(rec.Value.Text[f.Index.ByteStart:f.Index.ByteEnd]).To(Equal(postText[w.start:w.end]))
	}
}

var _ = Describe("The Bluesky adapter against the reference PDS", func() {
	It("publishes at the due time with link, mention and tag facets, and a replayed delivery leaves one record", func() {
		stop, _ := startManager(publishers(), false)
		defer stop()
		profile := blueskyProfile("bsky-due", "bsky")
		before := len(listPosts(Default))
		creates := len(traffic.statuses("com.atproto.repo.createRecord"))
		createStatuses := func() []int { return traffic.statuses("com.atproto.repo.createRecord")[creates:] }
		gets := len(traffic.statuses("com.atproto.repo.getRecord"))

		due := fakeClock.Now().Add(10 * time.Minute)
		post := &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: profile.Namespace, Name: "launch"},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: postText, Profiles: []string{profile.Name}, ScheduledAt: due.Format(time.RFC3339)},
		}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		By("nothing reaches the PDS before the due time")
		expectPhase(post, socialv1alpha1.PostScheduled)
		Consistently(func(g Gomega) {
			g.Expect(listPosts(g)).To(HaveLen(before))
		}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
		Expect(createStatuses()).To(BeEmpty())

		By("at the due time the reconciler publishes")
		fakeClock.SetTime(due)
		tick(post)
		got := expectPhase(post, socialv1alpha1.PostPublished)
		d := delivery(Default, got, profile.Name)
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished))
		Expect(d.Attempts).To(BeEquivalentTo(1))
		key := controllers.IdempotencyKey(got.UID, profile.Name, d.AttemptID)
		rkey := bluesky.RecordKey(key)
		Expect(d.ExternalID).To(Equal("at://"+pds.DID+"/"+postCollection+"/"+rkey), "the record key derives from the idempotency key")
		Expect(d.URL).To(Equal("https://bsky.app/profile/" + pds.Handle + "/post/" + rkey))
		Expect(createStatuses()).To(Equal([]int{200}))

		By("getRecord returns the text and facets with UTF-8 byte offsets")
		rec := getRecord(Default, rkey)
		Expect(rec.URI).To(Equal(d.ExternalID))
		expectFacets(rec)
		Expect(listPosts(Default)).To(HaveLen(before + 1))

		By("replaying the delivery after a crash (a new process, same idempotency key) finds the record instead of adding one")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: profile.Namespace, Name: profile.Spec.CredentialsSecretRef.Name}, secret)).To(Succeed())
		fresh := publishers()[publish.Platform("bluesky")] // no cached session, like a restarted manager
		res, err := fresh.Publish(ctx, publish.Profile{
			Platform: publish.Platform("bluesky"), Handle: profile.Spec.Handle, Endpoint: profile.Spec.Endpoint, Credentials: secret.Data,
		}, publish.Post{Text: postText, IdempotencyKey: key})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.ExternalID).To(Equal(d.ExternalID))
		Expect(res.URL).To(Equal(d.URL))
		Expect(res.PublishedAt.UTC().Format("2006-01-02T15:04:05.000Z")).To(Equal(rec.Value.CreatedAt), "the first record's createdAt, not the replay's time")
		Expect(createStatuses()).To(Equal([]int{200, 500}), "the PDS refuses the repeated key with HTTP 500")
		Expect(traffic.statuses("com.atproto.repo.getRecord")[gets:]).To(Equal([]int{200}), "the adapter confirmed with getRecord")

		recs := listPosts(Default)
		Expect(recs).To(HaveLen(before+1), "listRecords: still exactly one post")
		Expect(withRKey(recs, rkey)).To(HaveLen(1))
		Expect(getRecord(Default, rkey).CID).To(Equal(rec.CID), "the record is unchanged")
	})

	It("resumes a delivery interrupted between the PDS's answer and the status write: one record", func() {
		stopCrashing, crashed := startManager(publishers(), true)
		defer stopCrashing()
		profile := blueskyProfile("bsky-crash", "bsky")
		before := len(listPosts(Default))
		creates := len(traffic.statuses("com.atproto.repo.createRecord"))
		post := &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: profile.Namespace, Name: "interrupted"},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: postText, Profiles: []string{profile.Name}, ScheduledAt: fakeClock.Now().Format(time.RFC3339)},
		}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(crashed, timeout).Should(BeClosed(), "the hook stops the manager after the PDS created the record")

		got := getPost(Default, post)
		d := delivery(Default, got, profile.Name)
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing), "the claim was written, the outcome was not")
		rkey := bluesky.RecordKey(controllers.IdempotencyKey(got.UID, profile.Name, d.AttemptID))
		Expect(withRKey(listPosts(Default), rkey)).To(HaveLen(1), "the interrupted attempt reached the PDS")
		Expect(traffic.statuses("com.atproto.repo.createRecord")[creates:]).To(Equal([]int{200}))

		By("once the claim lapses, a new manager resumes the same attempt; the PDS refuses the key and getRecord finds the record")
		stop, _ := startManager(publishers(), false)
		defer stop()
		fakeClock.Step(controllers.DefaultTiming.ClaimTTL)
		Expect(testenv.Tick(ctx, k8sClient, got, fakeClock.Now())).To(Succeed())
		got = expectPhase(post, socialv1alpha1.PostPublished)
		resumed := delivery(Default, got, profile.Name)
		Expect(resumed.AttemptID).To(Equal(d.AttemptID), "same attempt, so same record key")
		Expect(resumed.Attempts).To(BeEquivalentTo(2))
		Expect(resumed.ExternalID).To(Equal("at://" + pds.DID + "/" + postCollection + "/" + rkey))
		Expect(traffic.statuses("com.atproto.repo.createRecord")[creates:]).To(Equal([]int{200, 500}))

		recs := listPosts(Default)
		Expect(recs).To(HaveLen(before+1), "listRecords: exactly one more post")
		Expect(withRKey(recs, rkey)).To(HaveLen(1))
		expectFacets(getRecord(Default, rkey))
	})

	It("deletes the record of a DeleteRemote post when its object is deleted", func() {
		stop, _ := startManager(publishers(), false)
		defer stop()
		profile := blueskyProfile("bsky-delete", "bsky")
		before := len(listPosts(Default))
		deletes := len(traffic.statuses("com.atproto.repo.deleteRecord"))
		post := &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: profile.Namespace, Name: "short-lived"},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: "Here for a moment", Profiles: []string{profile.Name},
				ScheduledAt: fakeClock.Now().Format(time.RFC3339), DeletionPolicy: socialv1alpha1.DeletionDeleteRemote},
		}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostPublished)
		uri := delivery(Default, got, profile.Name).ExternalID
		rkey := uri[strings.LastIndex(uri, "/")+1:]
		Expect(withRKey(listPosts(Default), rkey)).To(HaveLen(1))

		Expect(k8sClient.Delete(ctx, got)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{})).NotTo(Succeed())
		}, timeout, interval).Should(Succeed())
		Expect(traffic.statuses("com.atproto.repo.deleteRecord")[deletes:]).To(Equal([]int{200}))
		recs := listPosts(Default)
		Expect(withRKey(recs, rkey)).To(BeEmpty(), "listRecords no longer has the post")
		Expect(recs).To(HaveLen(before))
	})
})
