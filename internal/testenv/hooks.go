package testenv

import (
	"context"
	"time"

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

// CrashAfterSend is the hook of the crash tests: it lets the platform
// receive the post, then stops the manager (Stop) before the reconciler can
// write the outcome, as a process killed at that instant would. It returns
// only once the reconcile's context is done, so the outcome write that
// follows fails the way it would in a dead process.
type CrashAfterSend struct {
	publish.Publisher
	Stop context.CancelFunc
}

// Publish sends, then crashes.
func (c *CrashAfterSend) Publish(ctx context.Context, p publish.Profile, post publish.Post) (publish.Result, error) {
	res, err := c.Publisher.Publish(ctx, p, post)
	c.Stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second): // a bug elsewhere; the test's assertions report it
	}
	return res, err
}
