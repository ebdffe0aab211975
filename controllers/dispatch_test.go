package controllers

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/ledger"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/shard"
)

// The dispatcher tests run a manager of their own on the real clock (the
// dispatcher's timers are its instants), with the publishing ledger in a
// namespace of its own, seeing only posts labelled "ledger".
const ledgerLabel = "ledger"

// startLedgerManager starts a manager with the publishing ledger in
// ledgerNS under identity, and returns a function that stops it and waits.
func startLedgerManager(ledgerNS, identity string, o LedgerOptions) func() {
	return startShardedLedgerManager(ledgerNS, identity, o, 0)
}

// startShardedLedgerManager is startLedgerManager with publishing split in
// shards (0: none, the leader publishes), every one held by this manager.
func startShardedLedgerManager(ledgerNS, identity string, o LedgerOptions, shards int) func() {
	cacheOpts := CacheOptions()
	sel := labels.SelectorFromSet(labels.Set{LabelTestManager: ledgerLabel})
	cacheOpts.ByObject = map[client.Object]cache.ByObject{&socialv1alpha1.ScheduledPost{}: {Label: sel},
		&socialv1alpha1.Workflow{}: {Label: sel}, &socialv1alpha1.WorkflowRun{}: {Label: sel}, &socialv1alpha1.RecurringPost{}: {Label: sel}}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}, Cache: cacheOpts,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	o.Namespace = ledgerNS
	Expect(Setup(mgr, Options{MaxConcurrentReconciles: 2, PostWorkers: 4, Clock: clock.RealClock{}, Publishers: testPublishers(),
		Retry: testRetry, Identity: identity, Ledger: o, Shards: ShardOptions{Count: shards, Namespace: ledgerNS}})).To(Succeed())
	mctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return func() { stop(); Eventually(done, timeout).Should(BeClosed()) }
}

func ledgerPost(ns, name string, due time.Time, profile string) *socialv1alpha1.ScheduledPost {
	p := newPost(ns, name, due, profile)
	p.Labels = map[string]string{LabelTestManager: ledgerLabel}
	return p
}

// nextSecond is a due time at least lead from now, on a whole second (as
// scheduledAt is written).
func nextSecond(lead time.Duration) time.Time {
	return time.Now().Add(lead).Truncate(time.Second).Add(time.Second)
}

// namespacePerShard makes a namespace in each of n publishing shards.
func namespacePerShard(n int) []string {
	out := make([]string, n)
	for found := 0; found < n; {
		ns := newNamespace("ledger-posts")
		if i := shard.Of(ns, n); out[i] == "" {
			out[i] = ns
			found++
		}
	}
	return out
}

// ledgerRecords reads every record of the segments the ledger's head
// names: those that count.
func ledgerRecords(g Gomega, ns string) []ledger.Record {
	head := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, objectKey(ns, DefaultLedgerName), head)).To(Succeed())
	var out []ledger.Record
	for _, name := range strings.Fields(head.Data["segments"]) {
		cm := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, objectKey(ns, name), cm)).To(Succeed())
		for _, line := range strings.Split(strings.TrimSpace(cm.Data["records"]), "\n") {
			if line == "" {
				continue
			}
			var r ledger.Record
			g.Expect(json.Unmarshal([]byte(line), &r)).To(Succeed())
			out = append(out, r)
		}
	}
	return out
}

// writeLedger leaves a ledger as a holder that died would: a head naming
// one segment with records.
func writeLedger(ns, holder string, records ...ledger.Record) {
	writeNamedLedger(ns, DefaultLedgerName, holder, records...)
}

func writeNamedLedger(ns, name, holder string, records ...ledger.Record) {
	var lines []string
	for _, r := range records {
		b, err := json.Marshal(r)
		Expect(err).NotTo(HaveOccurred())
		lines = append(lines, string(b))
	}
	seg := name + "-1-1"
	Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: seg, Labels: map[string]string{ledger.LabelPart: "segment"}},
		Data:       map[string]string{"records": strings.Join(lines, "\n") + "\n"},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{ledger.LabelPart: "head"}},
		Data:       map[string]string{"holder": holder, "epoch": "1", "segments": seg},
	})).To(Succeed())
}

// deadHolderPost creates a post that fell due two seconds ago to profile
// on platform, and the ledger a dead holder left with records for its
// attempt a1 (each given the post's identity and the claim's fields).
func deadHolderPost(ledgerNS, ns, name, profile, platform string, kinds ...ledger.Kind) *socialv1alpha1.ScheduledPost {
	p, recs := claimedPost(ns, name, profile, platform, kinds...)
	writeLedger(ledgerNS, "herald-dead", recs...)
	return p
}

// claimedPost creates a post that fell due two seconds ago to profile on
// platform, and returns the records a holder made of its attempt a1.
func claimedPost(ns, name, profile, platform string, kinds ...ledger.Kind) (*socialv1alpha1.ScheduledPost, []ledger.Record) {
	due := time.Now().Add(-2 * time.Second).Truncate(time.Second)
	p := ledgerPost(ns, name, due, profile)
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	var recs []ledger.Record
	for _, k := range kinds {
		r := ledger.Record{Kind: k, Namespace: ns, Name: p.Name, UID: p.UID, Profile: profile, AttemptID: "a1", Platform: platform}
		if k == ledger.Claim {
			r.Due = due
		} else {
			r.SentAt, r.ExternalID, r.URL = due, "1234", "https://discord.example/1234"
		}
		recs = append(recs, r)
	}
	return p, recs
}

var _ = Describe("The publishing ledger", func() {
	It("sends a post at its due time under a claim in the ledger, and writes its status once, with the outcome", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeDiscord()
		discordProfile(ns, "chat", fake)
		stop := startLedgerManager(ledgerNS, "herald-a", LedgerOptions{})
		defer stop()

		p := ledgerPost(ns, "on-time", nextSecond(1500*time.Millisecond), "chat")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		// Watch every status the post is given on its way.
		w, err := watchClient.Watch(ctx, &socialv1alpha1.ScheduledPostList{}, client.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		defer w.Stop()
		var phases []socialv1alpha1.DeliveryPhase
		Eventually(func() socialv1alpha1.PostPhase {
			for {
				select {
				case ev := <-w.ResultChan():
					if sp, ok := ev.Object.(*socialv1alpha1.ScheduledPost); ok && len(sp.Status.Deliveries) > 0 {
						phases = append(phases, sp.Status.Deliveries[0].Phase)
						if sp.Status.Phase == socialv1alpha1.PostPublished {
							return sp.Status.Phase
						}
					}
				default:
					return ""
				}
			}
		}, timeout, 20*time.Millisecond).Should(Equal(socialv1alpha1.PostPublished))
		Expect(fake.Sent()).To(Equal(1))
		Expect(phases).NotTo(ContainElement(socialv1alpha1.DeliveryPublishing),
			"the claim is in the ledger, not in the post's status")

		got := getPost(Default, p)
		d := delivery(Default, got, "chat")
		Expect(d.Attempts).To(BeEquivalentTo(1))
		Expect(d.AttemptID).NotTo(BeEmpty())
		Expect(d.ExternalID).NotTo(BeEmpty())
		Expect(d.LastAttemptAt.Time).NotTo(BeTemporally("<", p.CreationTimestamp.Time.Truncate(time.Second)))

		head := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, objectKey(ledgerNS, DefaultLedgerName), head)).To(Succeed())
		Expect(head.Data["holder"]).To(Equal("herald-a"))
		// Once the status holds the outcome, the ledger lets the claim go.
		Eventually(func(g Gomega) {
			g.Expect(ledgerRecords(g, ledgerNS)).To(BeEmpty())
		}, timeout).Should(Succeed())
	})

	It("takes over a ledger whose holder died: an outcome it recorded is written without a second call", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeDiscord()
		discordProfile(ns, "chat", fake)
		p := deadHolderPost(ledgerNS, ns, "answered", "chat", "discord", ledger.Claim, ledger.Outcome)

		stop := startLedgerManager(ledgerNS, "herald-b", LedgerOptions{})
		defer stop()
		got := expectPhase(p, socialv1alpha1.PostPublished)
		d := delivery(Default, got, "chat")
		Expect(d.ExternalID).To(Equal("1234"))
		Expect(d.AttemptID).To(Equal("a1"))
		Expect(fake.Sent()).To(BeZero(), "the post was sent by the holder that died")
	})

	It("takes over a ledger whose holder died mid-call: a claim without an outcome on a platform without idempotency ends Unknown, never sent twice", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeDiscord()
		discordProfile(ns, "chat", fake)
		p := deadHolderPost(ledgerNS, ns, "in-flight", "chat", "discord", ledger.Claim)

		stop := startLedgerManager(ledgerNS, "herald-b", LedgerOptions{})
		defer stop()
		got := expectPhase(p, socialv1alpha1.PostUnknown)
		d := delivery(Default, got, "chat")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryUnknown))
		Expect(d.LastError).To(ContainSubstring("interrupted"))
		Expect(d.AttemptID).To(Equal("a1"))
		Consistently(fake.Sent, "1s").Should(BeZero())
	})

	It("takes over a ledger whose holder died mid-call: on Mastodon the attempt is sent again with the same Idempotency-Key", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeMastodon("tok-ledger")
		mastodonProfile(ns, "masto", fake)
		p := deadHolderPost(ledgerNS, ns, "resumed", "masto", "mastodon", ledger.Claim)

		stop := startLedgerManager(ledgerNS, "herald-b", LedgerOptions{})
		defer stop()
		got := expectPhase(p, socialv1alpha1.PostPublished)
		Expect(delivery(Default, got, "masto").AttemptID).To(Equal("a1"))
		posts := fake.StatusPosts()
		Expect(posts).To(HaveLen(1))
		Expect(posts[0].Header.Get("Idempotency-Key")).To(Equal(IdempotencyKey(p.UID, "masto", "a1")))
	})

	It("releases claims not yet sent when it stops, so the next holder sends them once instead of calling them interrupted", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeDiscord()
		discordProfile(ns, "chat", fake)
		// A long window: the claim is made at once, the send is seconds away.
		o := LedgerOptions{Window: 30 * time.Second}
		stop := startLedgerManager(ledgerNS, "herald-a", o)
		p := ledgerPost(ns, "handed-over", nextSecond(6*time.Second), "chat")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(ledgerRecords(g, ledgerNS)).To(ContainElement(HaveField("Kind", ledger.Claim)))
		}, timeout).Should(Succeed())
		stop()
		Expect(ledgerRecords(Default, ledgerNS)).To(ContainElement(HaveField("Kind", ledger.Release)))
		Expect(fake.Sent()).To(BeZero())

		stop = startLedgerManager(ledgerNS, "herald-b", o)
		defer stop()
		got := expectPhase(p, socialv1alpha1.PostPublished)
		Expect(delivery(Default, got, "chat").Attempts).To(BeEquivalentTo(1))
		Expect(fake.Sent()).To(Equal(1))
	})

	It("adopts the ledger a one-shard install left when it runs with two shards: its claims are settled, none sent again, and the old ledger goes", func() {
		ledgerNS := newNamespace("ledger")
		nsOfShard := namespacePerShard(2)
		fake := newFakeDiscord()
		var posts []*socialv1alpha1.ScheduledPost
		var recs []ledger.Record
		for _, ns := range nsOfShard {
			discordProfile(ns, "chat", fake)
			p, r := claimedPost(ns, "in-flight", "chat", "discord", ledger.Claim)
			posts, recs = append(posts, p), append(recs, r...)
		}
		answered, r := claimedPost(nsOfShard[1], "answered", "chat", "discord", ledger.Claim, ledger.Outcome)
		writeNamedLedger(ledgerNS, DefaultLedgerName, "herald-one-shard", append(recs, r...)...)

		stop := startShardedLedgerManager(ledgerNS, "herald-two-shards", LedgerOptions{}, 2)
		defer stop()
		for _, p := range posts {
			d := delivery(Default, expectPhase(p, socialv1alpha1.PostUnknown), "chat")
			Expect(d.LastError).To(ContainSubstring("interrupted"))
			Expect(d.AttemptID).To(Equal("a1"))
		}
		Expect(delivery(Default, expectPhase(answered, socialv1alpha1.PostPublished), "chat").ExternalID).To(Equal("1234"))
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, objectKey(ledgerNS, DefaultLedgerName), &corev1.ConfigMap{}))
		}, timeout).Should(BeTrue(), "the old ledger is deleted once both shards took their part")
		Consistently(fake.Sent, "1s").Should(BeZero(), "every post was claimed by the old install")
	})

	It("adopts the ledgers of two shards when it runs as one, and publishes new posts as before", func() {
		ledgerNS := newNamespace("ledger")
		nsOfShard := namespacePerShard(2)
		fake := newFakeDiscord()
		var claimed []*socialv1alpha1.ScheduledPost
		for i, ns := range nsOfShard {
			discordProfile(ns, "chat", fake)
			p, recs := claimedPost(ns, "in-flight", "chat", "discord", ledger.Claim)
			writeNamedLedger(ledgerNS, ShardLedgerName(DefaultLedgerName, i, 2), "herald-shard", recs...)
			claimed = append(claimed, p)
		}
		stop := startLedgerManager(ledgerNS, "herald-leader", LedgerOptions{})
		defer stop()
		for _, p := range claimed {
			Expect(delivery(Default, expectPhase(p, socialv1alpha1.PostUnknown), "chat").LastError).To(ContainSubstring("interrupted"))
		}
		fresh := ledgerPost(nsOfShard[0], "new", nextSecond(1500*time.Millisecond), "chat")
		Expect(k8sClient.Create(ctx, fresh)).To(Succeed())
		expectPhase(fresh, socialv1alpha1.PostPublished)
		Eventually(func(g Gomega) {
			heads, err := ledger.Heads(ctx, k8sClient, ledgerNS)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(heads).To(Equal([]string{DefaultLedgerName}))
		}, timeout).Should(Succeed())
		Expect(fake.Sent()).To(Equal(1), "only the new post is sent")
	})

	It("leaves a post edited after its claim to the reconciler, which publishes it once", func() {
		ledgerNS, ns := newNamespace("ledger"), newNamespace("ledger-posts")
		fake := newFakeDiscord()
		discordProfile(ns, "chat", fake)
		stop := startLedgerManager(ledgerNS, "herald-a", LedgerOptions{Window: 30 * time.Second})
		defer stop()
		p := ledgerPost(ns, "edited", nextSecond(4*time.Second), "chat")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(ledgerRecords(g, ledgerNS)).To(ContainElement(HaveField("Kind", ledger.Claim)))
		}, timeout).Should(Succeed())
		Eventually(func() error {
			cur := getPost(Default, p)
			cur.Spec.Text = "Our winter roast is here."
			return k8sClient.Update(ctx, cur)
		}, timeout).Should(Succeed())
		expectPhase(p, socialv1alpha1.PostPublished)
		Expect(fake.Sent()).To(Equal(1))
	})
})
