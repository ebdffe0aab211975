package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
)

// WorkspaceFinalizer lets the Workspace reconciler delete the namespace it
// created before the Workspace goes away.
const WorkspaceFinalizer = "social.herald.dev/workspace"

// Reasons the Workspace reconciler reports in conditions and events.
const (
	ReasonReady             = "Ready"
	ReasonInvalidTimeZone   = "InvalidTimeZone"
	ReasonNamespaceCreated  = "NamespaceCreated"
	ReasonNamespaceConflict = "NamespaceConflict"
	ReasonNamespaceDeleting = "NamespaceTerminating"
	ReasonNamespaceDeleted  = "NamespaceDeleted"
	ReasonProgressing       = "Progressing"
)

// WorkspaceReconciler gives every Workspace a namespace and checks its time zone.
type WorkspaceReconciler struct {
	client.Client
	// InFlight records each reconcile under way, so a shutdown that
	// overruns names it; nil records nothing.
	InFlight *inflight.Tracker
	Recorder events.EventRecorder
	// ReservedNamespaces are never a workspace's (Herald's own).
	ReservedNamespaces []string
	// SecretsAccess, when set, is the RoleBinding each workspace namespace
	// gets so Herald can read the Secrets there.
	SecretsAccess SecretsAccess
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Workspace's namespace and status in line with its spec.
func (r *WorkspaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the Workspace; a deleted one needs nothing more.
	ws := &socialv1alpha1.Workspace{}
	if err := r.Get(ctx, req.NamespacedName, ws); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// 2. Whatever happens below, write the status once at the end.
	base := ws.DeepCopy()
	defer func() {
		if retErr == nil && !ws.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(ws, WorkspaceFinalizer) {
			return // the object is gone, or going, with nothing left to report
		}
		ws.Status.ObservedGeneration = ws.Generation
		if err := patchStatus(ctx, r.Client, ws, base); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	// 3. Deletion: remove what Herald created, then let the Workspace go.
	if !ws.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ws)
	}

	// 4. Make sure deletion will come back here first.
	if controllerutil.AddFinalizer(ws, WorkspaceFinalizer) {
		if err := r.Update(ctx, ws); err != nil {
			return ctrl.Result{}, err
		}
		base = base.DeepCopy()
		base.ObjectMeta = *ws.ObjectMeta.DeepCopy()
	}

	// 5. The time zone must be one Go knows; a bad one waits for a spec change.
	if !r.reconcileTimeZone(ws) {
		return ctrl.Result{}, nil
	}

	// 6. The namespace must exist and belong to this workspace.
	return r.reconcileNamespace(ctx, ws)
}

// reconcileTimeZone reports whether the workspace's time zone is valid.
func (r *WorkspaceReconciler) reconcileTimeZone(ws *socialv1alpha1.Workspace) bool {
	tz := ws.Spec.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		msg := fmt.Sprintf("timeZone %q is not an IANA time zone (such as Europe/Berlin or America/New_York): %v", tz, err)
		if markStalled(&ws.Status.Conditions, ws.Generation, ReasonInvalidTimeZone, msg) {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeWarning, ReasonInvalidTimeZone, "Validate", msg)
		}
		return false
	}
	return true
}

func (r *WorkspaceReconciler) reconcileNamespace(ctx context.Context, ws *socialv1alpha1.Workspace) (ctrl.Result, error) {
	name := ws.NamespaceName()
	ws.Status.Namespace = name
	if why := r.namespaceAllowed(name); why != "" {
		if markStalled(&ws.Status.Conditions, ws.Generation, ReasonNamespaceNotAllowed, why) {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeWarning, ReasonNamespaceNotAllowed, "Validate", why)
		}
		return ctrl.Result{}, nil
	}

	ns := &corev1.Namespace{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case apierrors.IsNotFound(err):
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{socialv1alpha1.LabelWorkspace: ws.Name},
			Annotations: map[string]string{socialv1alpha1.AnnotationCreatedBy: createdByValue(ws)},
		}}
		if err := r.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			markReconciling(&ws.Status.Conditions, ws.Generation, ReasonProgressing, fmt.Sprintf("creating namespace %s: %v", name, err))
			return ctrl.Result{}, err
		}
		ws.Status.NamespaceCreated = true
		r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, ReasonNamespaceCreated, "CreateNamespace", "Created namespace %s for the workspace's objects", name)
	case err != nil:
		return ctrl.Result{}, err
	}

	if owner, ok := ns.Labels[socialv1alpha1.LabelWorkspace]; ok && owner != ws.Name {
		msg := fmt.Sprintf("namespace %s already belongs to workspace %s; choose another spec.namespace", name, owner)
		if markStalled(&ws.Status.Conditions, ws.Generation, ReasonNamespaceConflict, msg) {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeWarning, ReasonNamespaceConflict, "Validate", msg)
		}
		return ctrl.Result{}, nil
	}
	if !ns.DeletionTimestamp.IsZero() {
		markReconciling(&ws.Status.Conditions, ws.Generation, ReasonNamespaceDeleting, fmt.Sprintf("namespace %s is being deleted; it is recreated once it is gone", name))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if ns.Labels[socialv1alpha1.LabelWorkspace] != ws.Name {
		// An existing namespace is adopted with a label, never with the
		// created-by annotation, so deleting the workspace leaves it alone.
		patch := client.MergeFrom(ns.DeepCopy())
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[socialv1alpha1.LabelWorkspace] = ws.Name
		if err := r.Patch(ctx, ns, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	ws.Status.NamespaceCreated = ns.Annotations[socialv1alpha1.AnnotationCreatedBy] == createdByValue(ws)
	if err := r.reconcileSecretsAccess(ctx, ws, name); err != nil {
		markReconciling(&ws.Status.Conditions, ws.Generation, ReasonProgressing, fmt.Sprintf("granting Herald read access to the Secrets of namespace %s: %v", name, err))
		return ctrl.Result{}, err
	}

	markReady(&ws.Status.Conditions, ws.Generation, ReasonReady, fmt.Sprintf("namespace %s holds the workspace's objects", name))
	return ctrl.Result{}, nil
}

func (r *WorkspaceReconciler) reconcileDelete(ctx context.Context, ws *socialv1alpha1.Workspace) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ws, WorkspaceFinalizer) {
		return ctrl.Result{}, nil
	}
	name := ws.NamespaceName()
	ns := &corev1.Namespace{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, err
	case ns.Annotations[socialv1alpha1.AnnotationCreatedBy] == createdByValue(ws):
		if ns.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, ReasonNamespaceDeleted, "DeleteNamespace", "Deleted namespace %s, which Herald created for this workspace", name)
		}
	default:
		// Not ours: only take our label and our RoleBinding off.
		if ns.Labels[socialv1alpha1.LabelWorkspace] == ws.Name {
			if err := r.removeSecretsAccess(ctx, ns); err != nil {
				return ctrl.Result{}, err
			}
		}
		if _, labelled := ns.Labels[socialv1alpha1.LabelWorkspace]; labelled && ns.Labels[socialv1alpha1.LabelWorkspace] == ws.Name {
			patch := client.MergeFrom(ns.DeepCopy())
			delete(ns.Labels, socialv1alpha1.LabelWorkspace)
			if err := r.Patch(ctx, ns, patch); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
		}
	}
	controllerutil.RemoveFinalizer(ws, WorkspaceFinalizer)
	return ctrl.Result{}, r.Update(ctx, ws)
}

// createdByValue identifies a workspace by name and UID, so a namespace left
// by an earlier workspace of the same name is not mistaken for this one's.
func createdByValue(ws *socialv1alpha1.Workspace) string {
	return "workspace/" + ws.Name + "/" + string(ws.UID)
}

// SetupWithManager registers the reconciler; it also watches the namespaces
// workspaces use, so a deleted namespace is recreated.
func (r *WorkspaceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.Workspace{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if ws, ok := o.GetLabels()[socialv1alpha1.LabelWorkspace]; ok {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: ws}}}
			}
			return nil
		})).
		Named("workspace").
		Complete(r.InFlight.Reconciler("Workspace", r))
}
