package mcpserver

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// settleTimeout bounds how long a write tool waits for its own write to
// reach this replica's cache; the watch normally brings it within
// milliseconds.
const settleTimeout = 2 * time.Second

// cacheEvents tells a tool when this replica's informer has delivered an
// object it wrote. A tool registers its interest before the write, so an
// event that arrives before the write's answer is not missed, and waits for
// the resourceVersion the write returned: a value compared for equality
// only, as the API asks.
type cacheEvents struct {
	mu      sync.Mutex
	waiting map[objectKey][]*cacheWait
}

type objectKey struct {
	kind      reflect.Type
	namespace string
	name      string
}

// cacheWait is one tool's interest in one object.
type cacheWait struct {
	events *cacheEvents
	key    objectKey
	mu     sync.Mutex
	seen   map[string]bool // resourceVersions delivered since expect
	gone   bool
	notify chan struct{}
}

// watch registers the handlers that feed events, one per kind that tools
// write.
func (e *cacheEvents) watch(ctx context.Context, c ctrlcache.Cache, objs ...client.Object) error {
	for _, obj := range objs {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T for the tools' own writes: %w", obj, err)
		}
		kind := reflect.TypeOf(obj)
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { e.deliver(kind, o, false) },
			UpdateFunc: func(_, o any) { e.deliver(kind, o, false) },
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				e.deliver(kind, o, true)
			},
		}); err != nil {
			return err
		}
	}
	return nil
}

func keyOf(kind reflect.Type, obj client.Object) objectKey {
	return objectKey{kind: kind, namespace: obj.GetNamespace(), name: obj.GetName()}
}

func (e *cacheEvents) deliver(kind reflect.Type, o any, deleted bool) {
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	key := keyOf(kind, obj)
	e.mu.Lock()
	waits := e.waiting[key]
	e.mu.Unlock()
	for _, w := range waits {
		w.mu.Lock()
		w.seen[obj.GetResourceVersion()], w.gone = true, w.gone || deleted
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// expect registers interest in obj (named, of its kind) before it is written.
func (e *cacheEvents) expect(obj client.Object) *cacheWait {
	w := &cacheWait{events: e, key: keyOf(reflect.TypeOf(obj), obj), seen: map[string]bool{}, notify: make(chan struct{}, 1)}
	if e == nil {
		return w
	}
	e.mu.Lock()
	if e.waiting == nil {
		e.waiting = map[objectKey][]*cacheWait{}
	}
	e.waiting[w.key] = append(e.waiting[w.key], w)
	e.mu.Unlock()
	return w
}

// wait returns once the cache holds obj at the resourceVersion it now
// carries (or, when gone, no longer holds it), the context ends, or
// timeout passes on clk. It looks at the cache (c) first, for an event that
// came before the interest was registered (a generated name is known only
// after the write).
func (w *cacheWait) wait(ctx context.Context, clk clock.Clock, c client.Reader, obj client.Object, gone bool, timeout time.Duration) {
	if w.events == nil {
		return // no cache to wait for
	}
	rv := obj.GetResourceVersion()
	if cur, ok := obj.DeepCopyObject().(client.Object); ok {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), cur)
		if (gone && apierrors.IsNotFound(err)) || (!gone && err == nil && cur.GetResourceVersion() == rv) {
			return
		}
	}
	timer := clk.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		done := (gone && w.gone) || (!gone && w.seen[rv])
		w.mu.Unlock()
		if done {
			return
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		case <-timer.C():
			return
		}
	}
}

// cancel withdraws the interest.
func (w *cacheWait) cancel() {
	e := w.events
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	waits := e.waiting[w.key]
	for i, x := range waits {
		if x == w {
			waits = append(waits[:i], waits[i+1:]...)
			break
		}
	}
	if len(waits) == 0 {
		delete(e.waiting, w.key)
	} else {
		e.waiting[w.key] = waits
	}
}
