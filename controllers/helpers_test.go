package controllers

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/testenv"
)

// newFakeMastodon starts a Mastodon instance that accepts token.
func newFakeMastodon(token string) *mastodontest.Fake { return mastodontest.New(GinkgoTB(), token) }

// newFakeDiscord starts a Discord webhook: Discord has no idempotency key.
func newFakeDiscord() *discordtest.Fake { return discordtest.New(GinkgoTB()) }

// failStatuses makes the next n status posts to f answer with status,
// header and body.
func failStatuses(f *mastodontest.Fake, n int, status int, header http.Header, body string) {
	f.FailNext("POST /api/v1/statuses", n, platformtest.Fault{Status: status, Header: header, Body: body})
}

var nsCounter atomic.Int32

// newNamespace creates a namespace of its own for one test.
func newNamespace(prefix string) string {
	name := fmt.Sprintf("%s-%d", prefix, nsCounter.Add(1))
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

func createSecret(ns, name string, data map[string]string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data})).To(Succeed())
}

// mastodonProfile creates a Secret and a SocialProfile for the fake.
func mastodonProfile(ns, name string, f *mastodontest.Fake, mutate ...func(*socialv1alpha1.SocialProfile)) *socialv1alpha1.SocialProfile {
	createSecret(ns, name+"-token", map[string]string{"accessToken": f.Token})
	p := &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{
			Platform: socialv1alpha1.Platform("mastodon"), Handle: "@herald@fake.example", Endpoint: f.URL,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-token"},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

func discordProfile(ns, name string, f *discordtest.Fake) *socialv1alpha1.SocialProfile {
	createSecret(ns, name+"-hook", map[string]string{"webhookURL": f.WebhookURL()})
	p := &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{
			Platform: socialv1alpha1.Platform("discord"), Handle: "Herald",
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-hook"},
		},
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

// newPost returns a post due at due to profiles (not yet created).
func newPost(ns, name string, due time.Time, profiles ...string) *socialv1alpha1.ScheduledPost {
	return &socialv1alpha1.ScheduledPost{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.ScheduledPostSpec{
			Text: "Our autumn roast is here.", Profiles: profiles, ScheduledAt: due.UTC().Format(time.RFC3339),
		},
	}
}

func getPost(g Gomega, post *socialv1alpha1.ScheduledPost) *socialv1alpha1.ScheduledPost {
	out := &socialv1alpha1.ScheduledPost{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), out)).To(Succeed())
	return out
}

// delivery returns the post's delivery to profile, failing when absent.
func delivery(g Gomega, p *socialv1alpha1.ScheduledPost, profile string) socialv1alpha1.Delivery {
	d := post.Find(p.Status.Deliveries, profile)
	g.Expect(d).NotTo(BeNil(), "no delivery for %s in %+v", profile, p.Status.Deliveries)
	return *d
}

// expectPhase waits for the post's phase and returns the post.
func expectPhase(post *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) *socialv1alpha1.ScheduledPost {
	var got *socialv1alpha1.ScheduledPost
	EventuallyWithOffset(1, func(g Gomega) {
		got = getPost(g, post)
		g.Expect(got.Status.Phase).To(Equal(phase), "deliveries: %+v", got.Status.Deliveries)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, timeout, interval).Should(Succeed())
	return got
}

func condition(post *socialv1alpha1.ScheduledPost, typ string) metav1.Condition {
	c := meta.FindStatusCondition(post.Status.Conditions, typ)
	Expect(c).NotTo(BeNil(), "no %s condition in %+v", typ, post.Status.Conditions)
	return *c
}

// tick wakes the reconciler for obj after the fake clock was stepped (see testenv.Tick).
func tick(obj client.Object) {
	ExpectWithOffset(1, testenv.Tick(ctx, k8sClient, obj, fakeClock.Now())).To(Succeed())
}

// directReconcile runs one reconcile of post synchronously, with the
// suite's clock, outside the manager, and returns its result: this is how
// tests see the exact RequeueAfter a reconcile asks for.
func directReconcile(post *socialv1alpha1.ScheduledPost) ctrl.Result {
	r := &ScheduledPostReconciler{
		Client: k8sClient, APIReader: k8sClient, Recorder: &events.FakeRecorder{},
		Clock: fakeClock, Publishers: testPublishers(), Retry: testRetry, Timing: DefaultTiming, Identity: "direct",
	}
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(post)})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return res
}

// eventReasons lists the reasons of events about the named object.
func eventReasonsFor(ns, kind, name string) []string {
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// eventNotes returns the notes of every event in ns.
func eventNotes(ns string) []string {
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		notes = append(notes, e.Note)
	}
	return notes
}

func objectKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
