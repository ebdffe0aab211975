package testenv

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/internal/publish"
)

// TickAnnotation is the annotation Tick writes.
const TickAnnotation = "test.herald.dev/tick"

// Tick wakes the reconciler for obj the way a requeue does, with a change
// that leaves the spec alone. Controller-runtime times RequeueAfter with the
// real clock, so a test that steps a fake clock to a due time delivers the
// wake-up that RequeueAfter would have delivered; now (the fake clock's
// time) makes each tick a change.
func Tick(ctx context.Context, c client.Client, obj client.Object, now time.Time) error {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[TickAnnotation] = now.Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
	return c.Patch(ctx, obj, patch)
}

// Process stands for one Herald process in a test whose connection to the
// API server can be cut at once, as killing a real process cuts it:
// nothing the process does after Kill reaches the API server, and its
// manager, stopped then, cannot write on its way out.
type Process struct{ dead atomic.Bool }

// errKilled is what every request of a killed Process gets.
var errKilled = errors.New("this test process was killed; nothing it sends reaches the API server")

// Config returns a copy of cfg whose requests are refused once p is killed.
func (p *Process) Config(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if p.dead.Load() {
				return nil, errKilled
			}
			return rt.RoundTrip(r)
		})
	})
	return out
}

// Transport returns rt refusing every request once p is killed, for the
// process's calls to platforms: a killed process sends nothing more.
func (p *Process) Transport(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if p.dead.Load() {
			return nil, errKilled
		}
		return rt.RoundTrip(r)
	})
}

// Kill cuts the process's connections to the API server and the platforms.
func (p *Process) Kill() { p.dead.Store(true) }

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// CrashAfterSend is the hook of the crash tests: it lets the platform
// receive the post, then kills the process (Kill) and stops its manager
// (Stop) before the reconciler can write the outcome, as a process killed
// at that instant would: the claim stays written, the outcome never is.
type CrashAfterSend struct {
	publish.Publisher
	Kill func()
	Stop context.CancelFunc
}

// Publish sends, then crashes.
func (c *CrashAfterSend) Publish(ctx context.Context, p publish.Profile, post publish.Post) (publish.Result, error) {
	res, err := c.Publisher.Publish(ctx, p, post)
	c.Kill()
	c.Stop()
	return res, err
}

// CrashAfterCheckpoint is the hook of the crash tests for platforms that
// publish in steps: it lets the adapter record its progress (a media
// container made on the platform, Post.Checkpoint), then kills the process
// and stops its manager before the call that publishes, as a process
// killed at that instant would. The progress stays written; the post is
// not published.
type CrashAfterCheckpoint struct {
	publish.Publisher
	Kill func()
	Stop context.CancelFunc
	// Skip is how many records to let through before the one after
	// which the process dies (TikTok records twice: before init, and the
	// publish_id after it).
	Skip int
}

// errCrashed stops the adapter where the process died.
var errCrashed = errors.New("the process was killed after recording its progress")

// Publish sends until the progress is recorded, then crashes.
func (c *CrashAfterCheckpoint) Publish(ctx context.Context, p publish.Profile, post publish.Post) (publish.Result, error) {
	record := post.Record
	post.Record = func(ctx context.Context, progress string) error {
		if err := record(ctx, progress); err != nil {
			return err
		}
		if c.Skip > 0 {
			c.Skip--
			return nil
		}
		c.Kill()
		c.Stop()
		return errCrashed
	}
	return c.Publisher.Publish(ctx, p, post)
}
