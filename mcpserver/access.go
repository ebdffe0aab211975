package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

func (s *Server) caller(ctx context.Context) *Caller {
	if c, ok := oauth.CallerFrom(ctx); ok {
		return c
	}
	return &Caller{}
}

// workspace resolves a workspace id for caller c and a tool's scope. A
// workspace outside the grant, or one the user is no longer a member of,
// does not exist for them: the answer is the same "not found" as for a
// workspace that does not exist. The Workspace returned is the cache's own
// copy (every tool call reads one, and no tool changes one): read it, never
// modify it.
func (s *Server) workspace(ctx context.Context, c *Caller, id string, scope socialv1alpha1.Scope) (*socialv1alpha1.Workspace, error) {
	notFound := func() error {
		return invalidArgument("workspace %q not found. Call %s for the workspaces this connection may use, and pass one of their ids.",
			id, s.toolName("list_workspaces"))
	}
	if id == "" {
		return nil, invalidArgument("workspaceId is required. Call %s for the workspaces this connection may use.", s.toolName("list_workspaces"))
	}
	if !slices.Contains(c.Workspaces, id) {
		return nil, notFound()
	}
	ws := &socialv1alpha1.Workspace{}
	if err := s.client.Get(ctx, client.ObjectKey{Name: id}, ws, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound()
		}
		return nil, err
	}
	role := ws.RoleOf(c.Subject)
	if role == "" {
		return nil, notFound()
	}
	if !role.Allows(scope) {
		return nil, invalidArgument("your role in workspace %q is %s, which does not allow %s; ask a workspace owner to change your role", id, role, scope)
	}
	return ws, nil
}

// writable refuses changes to objects GitOps owns, saying where to make them.
func writable(obj client.Object, what string) error {
	if owner := socialv1alpha1.GitOpsOwner(obj); owner != "" {
		return invalidArgument("%s %q is read-only here because %s; change it in that Git repository instead", what, obj.GetName(), owner)
	}
	return nil
}

// stamp records who asked for a change.
func stamp(obj client.Object, c *Caller) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[socialv1alpha1.AnnotationRequestedBy] = c.Subject
	a[socialv1alpha1.AnnotationRequestedVia] = c.ClientID
	obj.SetAnnotations(a)
}

// lookup reads the object named id in the call's workspace into obj with
// get. A name the workspace does not hold answers notFound, formatted with
// the id, the workspace and the (prefixed) tool that lists such objects.
func lookup[T client.Object](ctx context.Context, s *toolCall, get func(context.Context, client.ObjectKey, client.Object) error,
	id string, obj T, notFound, listTool string) (T, error) {
	if err := get(ctx, client.ObjectKey{Namespace: s.ws.NamespaceName(), Name: id}, obj); err != nil {
		var none T
		if apierrors.IsNotFound(err) {
			return none, invalidArgument(notFound, id, s.ws.Name, s.toolName(listTool))
		}
		return none, err
	}
	return obj, nil
}

// listViews lists the call's workspace's objects of one kind into list and
// returns each one's view, sorted by id.
func listViews[T client.Object, V any](ctx context.Context, s *toolCall, list client.ObjectList, view func(T) (V, error), id func(V) string) ([]V, error) {
	if err := s.client.List(ctx, list, client.InNamespace(s.ws.NamespaceName())); err != nil {
		return nil, err
	}
	out := []V{}
	err := meta.EachListItem(list, func(o runtime.Object) error {
		item, ok := o.(T)
		if !ok {
			return fmt.Errorf("listing %T found a %T", list, o)
		}
		v, err := view(item)
		out = append(out, v)
		return err
	})
	sort.Slice(out, func(i, j int) bool { return id(out[i]) < id(out[j]) })
	return out, err
}

// get reads from the cache and, when the object is not there yet, from the
// API server: a client that creates something and uses it in its next call
// must find it even if the informer has not caught up.
func (s *Server) get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := s.client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && s.opts.APIReader != nil {
		return s.opts.APIReader.Get(ctx, key, obj)
	}
	return err
}

// writeSeen waits, briefly, until this replica's cache holds obj as just
// written (or, when gone, no longer holds it), so a client's next call
// reads its own write: a toggle followed by a run, an update followed by a
// get. write makes the change (and leaves obj as written); the cache's
// event for it is awaited, however soon after the write it arrives.
func (s *Server) writeSeen(ctx context.Context, obj client.Object, gone bool, write func() error) error {
	w := s.seen.expect(obj)
	defer func() { w.cancel() }()
	if err := write(); err != nil {
		return err
	}
	if w.key.name != obj.GetName() { // a generated name, known only now
		w.cancel()
		w = s.seen.expect(obj)
	}
	w.wait(ctx, s.clock, s.client, obj, gone, settleTimeout)
	return nil
}

// updateFresh reads the object named by obj from the API server, applies
// change, and writes it; a conflict (the reconciler writing status, another
// client) is retried on a fresh copy. It returns the object as written,
// seen by this replica's cache.
func (s *Server) updateFresh(ctx context.Context, obj client.Object, change func() error) error {
	key := client.ObjectKeyFromObject(obj)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := s.reader().Get(ctx, key, obj); err != nil {
			return err
		}
		before := obj.DeepCopyObject().(client.Object)
		if err := change(); err != nil {
			return err
		}
		return s.writeSeen(ctx, obj, false, func() error { return s.update(ctx, obj, before) })
	})
}

// update writes what change made of obj since before, refused with a
// conflict when obj changed since it was read, as Update is. It sends only
// the fields that changed: a whole object re-spells what the API server
// stored in another spelling (a defaulted maxLateness "15m" is sent back
// as "15m0s"), which counts as a spec change and bumps the generation, so
// an annotation-only request such as a retry would look like an edit to
// the reconciler and make Missed deliveries due again.
func (s *Server) update(ctx context.Context, obj, before client.Object) error {
	return s.client.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}
