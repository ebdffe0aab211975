// Package controllers holds one reconciler per Herald kind.
package controllers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/cachetrim"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/egress"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/shard"
)

// Options tune every reconciler.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind are reconciled at once.
	MaxConcurrentReconciles int
	// PostWorkers is how many ScheduledPosts are reconciled at once; a
	// worker is busy for the length of a platform call, so this bounds the
	// platform calls in flight. 0 means MaxConcurrentReconciles.
	PostWorkers int
	// Clock tells the reconcilers the time; nil means the real clock. Tests
	// pass a fake one to move time.
	Clock clock.PassiveClock
	// Publishers maps each platform to its adapter; nil means
	// registry.Default with an egress-guarded client (no internal
	// addresses), a 30-second HTTP timeout and a new sandbox feed.
	Publishers publish.Registry
	// Retry bounds automatic retries; zero fields take DefaultRetryPolicy's.
	Retry RetryPolicy
	// Timing bounds each platform call and the claims made for it; zero
	// fields take DefaultTiming's.
	Timing Timing
	// Identity names this process in the claims it writes; empty means
	// the host name and a random suffix.
	Identity string
	// Leading reports whether this process holds the leader lease (see
	// ScheduledPostReconciler.Leading); nil when there is no election.
	Leading func() bool
	// RetryHint names, for messages, the MCP tool that retries a post.
	RetryHint string
	// FeedClient reads the feeds of feed-triggered workflows; nil means an
	// egress-guarded client (no internal addresses) with a 30-second
	// timeout.
	FeedClient *http.Client
	// InFlight records the reconciles under way, so a shutdown that
	// overruns its grace period names what it waited for; nil records
	// nothing.
	InFlight *inflight.Tracker
	// ReservedNamespaces are namespaces no Workspace may use (Herald's own).
	ReservedNamespaces []string
	// SecretsAccess is how Herald gets to read each workspace's Secrets.
	SecretsAccess SecretsAccess
	// Refresher renews the access tokens of profiles on OAuth platforms
	// (X) before they expire; nil renews none.
	Refresher *connect.Refresher
	// Ledger, when its Namespace is set, sends first attempts at their due
	// instant under claims in the publishing ledger kept there (see
	// Dispatcher); otherwise every attempt is claimed in its post's status.
	Ledger LedgerOptions
	// Shards, when its Count is set, splits the ScheduledPosts among
	// replicas by namespace, one Lease per shard (see ShardOptions);
	// otherwise the leader publishes every post.
	Shards ShardOptions
}

// ShardOptions split publishing among replicas. Each namespace belongs to
// one of Count shards; every replica reconciles the posts of the shards
// whose Lease it holds, each shard with its own ledger, and holds about
// Count divided by the replicas alive.
type ShardOptions struct {
	// Count is the number of shards; 0 turns sharding off.
	Count int
	// Namespace holds the shard and member Leases: Herald's own.
	Namespace string
	// LeaseDuration, RenewDeadline and RetryPeriod time the shard Leases
	// as they do the leader's; zero takes DefaultShards'.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultShards times the shard Leases as the leader's: a failed replica's
// shards move within about 15 s.
var DefaultShards = ShardOptions{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// ShardLeasePrefix names the shard Leases (herald-publish-shard-0, …) and
// the replicas' member Leases.
const ShardLeasePrefix = "herald-publish-shard"

func (o ShardOptions) withDefaults() ShardOptions {
	orDefault(&o.LeaseDuration, DefaultShards.LeaseDuration)
	orDefault(&o.RenewDeadline, DefaultShards.RenewDeadline)
	orDefault(&o.RetryPeriod, DefaultShards.RetryPeriod)
	return o
}

// orDefault sets *v to def when *v is not positive.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// LedgerOptions place and tune the publishing ledger.
type LedgerOptions struct {
	// Namespace holds the ledger's ConfigMaps: Herald's own.
	Namespace string
	// Name is the ledger head's name; empty means DefaultLedgerName.
	Name string
	// Window is how far ahead of its due time a delivery is claimed;
	// Tick how often the ledger is written at most; Fresh how long after
	// its last ledger write a process still sends. Zero takes
	// DefaultLedger's.
	Window, Tick, Fresh time.Duration
	// CallsPerHost bounds the platform calls in flight to one host; 0
	// takes DefaultLedger's.
	CallsPerHost int
}

// DefaultLedgerName names the ledger's head ConfigMap.
const DefaultLedgerName = "herald-publish-ledger"

// DefaultLedger is used for the fields of Options.Ledger left zero. The
// window is several times a ledger write's p99 on a loaded API server
// (200-240 ms measured); freshness stays well inside the 15 s leader
// lease.
var DefaultLedger = LedgerOptions{Window: time.Second, Tick: 100 * time.Millisecond, Fresh: 5 * time.Second, CallsPerHost: 256}

func (o LedgerOptions) withDefaults() LedgerOptions {
	if o.Name == "" {
		o.Name = DefaultLedgerName
	}
	orDefault(&o.Window, DefaultLedger.Window)
	orDefault(&o.Tick, DefaultLedger.Tick)
	orDefault(&o.Fresh, DefaultLedger.Fresh)
	orDefault(&o.CallsPerHost, DefaultLedger.CallsPerHost)
	return o
}

// RetryPolicy says how retryable platform errors are retried.
type RetryPolicy struct {
	// MaxAttempts is how many platform calls one delivery may make before
	// it fails.
	MaxAttempts int32
	// Backoff is the wait after the first failed call; it doubles after
	// each further one, up to MaxBackoff. A platform's Retry-After is
	// honoured when longer, and up to a fifth more is added at random so
	// posts that failed together do not retry together.
	Backoff, MaxBackoff time.Duration
}

// DefaultRetryPolicy is used for the fields of Options.Retry left zero.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, Backoff: 30 * time.Second, MaxBackoff: 15 * time.Minute}

// Timing bounds a delivery's work after it is claimed. A call and the
// writes after it run on a context that shutdown does not cancel, so
// InFlight is how long stopping can take; the manager's graceful shutdown
// (and a pod's terminationGracePeriodSeconds) must be longer.
type Timing struct {
	// CallTimeout bounds one platform call, media uploads included.
	CallTimeout time.Duration
	// WriteTimeout bounds each status write made after a call.
	WriteTimeout time.Duration
	// ClaimTTL is how long a claim holds: its holder sends and writes the
	// outcome within it, and only after it may another process take the
	// delivery over. It must exceed CallTimeout plus WriteTimeout.
	ClaimTTL time.Duration
}

// DefaultTiming is used for the fields of Options.Timing left zero: a
// call may take 40 s and the writes after it 10 s each, so shutdown waits
// at most InFlight (a minute) for calls in flight; a claim lasts twice a
// call and its outcome's write.
var DefaultTiming = Timing{CallTimeout: 40 * time.Second, WriteTimeout: 10 * time.Second, ClaimTTL: 100 * time.Second}

// InFlight is the longest a call in flight keeps running once shutdown
// begins: the call, its outcome's write, and the reconcile's last write.
func (t Timing) InFlight() time.Duration { return t.CallTimeout + 2*t.WriteTimeout }

// WithDefaults fills the fields left zero: the defaults' call and write
// bounds, and a claim twice as long as a call and its outcome's write
// (never shorter than that sum).
func (t Timing) WithDefaults() Timing {
	if t.CallTimeout <= 0 {
		t.CallTimeout = DefaultTiming.CallTimeout
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = DefaultTiming.WriteTimeout
	}
	if t.ClaimTTL <= t.CallTimeout+t.WriteTimeout {
		t.ClaimTTL = 2 * (t.CallTimeout + t.WriteTimeout)
	}
	return t
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultRetryPolicy.Backoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultRetryPolicy.MaxBackoff
	}
	return p
}

// Field indexes the reconcilers register on the manager's cache. Other
// packages (the MCP server) may list with them too.
const (
	// IndexRunWorkflow indexes WorkflowRuns by the Workflow they run.
	IndexRunWorkflow = "spec.workflowRef.name"
)

// CacheOptions returns the cache settings the manager needs: managedFields
// are dropped before objects enter the cache, since no reconciler reads
// them and they are often the largest part of an object, and the strings
// posts repeat are held once (internal/cachetrim). interned bounds the
// distinct strings shared at a time.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: cachetrim.Transform(cachetrim.NewInterner(interned))}
}

// interned is enough for the namespaces, profile names, reasons and usual
// messages of a large install, and at most a few megabytes.
const interned = 20000

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Publishers == nil {
		o.Publishers = registry.Default(egress.Policy{}.Client(30*time.Second), nil)
	}
	if o.PostWorkers <= 0 {
		o.PostWorkers = o.MaxConcurrentReconciles
	}
	if err := metrics.Register(); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if err := setupIndexes(mgr); err != nil {
		return err
	}

	if err := (&WorkspaceReconciler{
		InFlight:           o.InFlight,
		ReservedNamespaces: o.ReservedNamespaces,
		SecretsAccess:      o.SecretsAccess,
		Client:             mgr.GetClient(),
		Recorder:           mgr.GetEventRecorder("herald-workspace"),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Workspace reconciler: %w", err)
	}
	if err := (&SocialProfileReconciler{
		InFlight:   o.InFlight,
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder("herald-socialprofile"),
		Clock:      o.Clock,
		Publishers: o.Publishers,
		Refresher:  o.Refresher,
	}).SetupWithManager(mgr, o.MaxConcurrentReconciles); err != nil {
		return fmt.Errorf("setting up the SocialProfile reconciler: %w", err)
	}
	if o.Identity == "" {
		o.Identity = ProcessIdentity()
	}
	posts := &ScheduledPostReconciler{
		InFlight:   o.InFlight,
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder("herald-scheduledpost"),
		Clock:      o.Clock,
		Publishers: o.Publishers,
		Retry:      o.Retry.withDefaults(),
		Timing:     o.Timing.WithDefaults(),
		Identity:   o.Identity,
		Leading:    o.Leading,
		RetryHint:  o.RetryHint,
	}
	if err := setupDispatch(mgr, posts, o); err != nil {
		return err
	}
	if err := posts.SetupWithManager(mgr, o.PostWorkers); err != nil {
		return fmt.Errorf("setting up the ScheduledPost reconciler: %w", err)
	}
	feeds := o.FeedClient
	if feeds == nil {
		feeds = egress.Policy{}.Client(30 * time.Second)
	}
	if err := (&WorkflowReconciler{
		InFlight:   o.InFlight,
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder("herald-workflow"),
		Clock:      o.Clock,
		FeedClient: feeds,
		Workers:    o.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Workflow reconciler: %w", err)
	}
	if err := (&RecurringPostReconciler{
		InFlight: o.InFlight,
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("herald-recurringpost"),
		Clock:    o.Clock,
	}).SetupWithManager(mgr, o.MaxConcurrentReconciles); err != nil {
		return fmt.Errorf("setting up the RecurringPost reconciler: %w", err)
	}
	if err := (&WorkflowRunReconciler{
		InFlight:  o.InFlight,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("herald-workflowrun"),
		Clock:     o.Clock,
		Workers:   o.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the WorkflowRun reconciler: %w", err)
	}
	return nil
}

// setupDispatch gives the ScheduledPost reconciler its dispatcher (one for
// the leader, or one per shard this process holds) and its shards.
func setupDispatch(mgr ctrl.Manager, posts *ScheduledPostReconciler, o Options) error {
	lo := o.Ledger.withDefaults()
	// The dispatcher of shard i of n; without shards, the leader's is
	// shard 0 of 1.
	var dispatcherFor func(i, n int) *Dispatcher
	if o.Ledger.Namespace != "" {
		dispatcherFor = func(i, n int) *Dispatcher {
			named := lo
			named.Name = ShardLedgerName(lo.Name, i, n)
			d := newDispatcher(mgr, posts, named)
			d.Shard, d.Shards, d.Old = i, n, oldLedgers(lo.Name, n)
			return d
		}
	}
	if o.Ledger.Namespace != "" || o.Shards.Count > 0 {
		posts.wake = make(chan event.GenericEvent, 4096)
	}
	if o.Shards.Count <= 0 {
		if dispatcherFor == nil {
			return nil
		}
		posts.Dispatch = dispatcherFor(0, 1)
		if err := mgr.Add(posts.Dispatch); err != nil {
			return fmt.Errorf("adding the dispatcher: %w", err)
		}
		return nil
	}
	so := o.Shards.withDefaults()
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("making the shard Leases' client: %w", err)
	}
	set := &shard.Set{N: so.Count, Namespace: so.Namespace, Prefix: ShardLeasePrefix, Identity: o.Identity,
		Leases: cs.CoordinationV1(), LeaseDuration: so.LeaseDuration, RenewDeadline: so.RenewDeadline, RetryPeriod: so.RetryPeriod}
	set.Run = func(ctx context.Context, i int, leading func() bool) {
		posts.runShard(ctx, dispatcherFor, i, leading)
	}
	posts.Shards = &postShards{set: set}
	if err := mgr.Add(set); err != nil {
		return fmt.Errorf("adding the publishing shards: %w", err)
	}
	return nil
}

// ProcessIdentity names this process among replicas: the host name (a
// pod's name) and a random suffix, so a restarted process is never taken
// for the one before it.
func ProcessIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "herald"
	}
	return host + "_" + utilrand.String(8)
}

func setupIndexes(mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	ctx := context.Background() // IndexField only registers; the context is not kept
	if err := idx.IndexField(ctx, &socialv1alpha1.WorkflowRun{}, IndexRunWorkflow, func(o client.Object) []string {
		if run, ok := o.(*socialv1alpha1.WorkflowRun); ok {
			return []string{run.Spec.WorkflowRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing WorkflowRuns by workflow: %w", err)
	}
	return nil
}
