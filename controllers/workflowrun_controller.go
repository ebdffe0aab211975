package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/workflow"
)

// Reasons the WorkflowRun reconciler reports.
const (
	ReasonRunSucceeded     = "PostsCreated"
	ReasonRunCancelled     = "Cancelled"
	ReasonWorkflowNotFound = "WorkflowNotFound"
	ReasonWorkflowInvalid  = "WorkflowInvalid"
	ReasonInputsInvalid    = "InputsInvalid"
	ReasonTemplateFailed   = "TemplateFailed"
	ReasonRunStarted       = "Running"
	labelWorkflow          = "social.herald.dev/workflow"
	labelWorkflowRun       = "social.herald.dev/workflow-run"
)

// WorkflowRunReconciler runs a workflow once: it checks the workflow and the
// inputs, then creates the workflow's posts, each exactly once.
type WorkflowRunReconciler struct {
	client.Client
	// APIReader confirms, around the cache, that a workflow is missing
	// before a run fails for it: applied together, the run may be seen
	// before its workflow. Nil trusts the cache.
	APIReader client.Reader
	// InFlight records each reconcile under way, so a shutdown that
	// overruns names it; nil records nothing.
	InFlight *inflight.Tracker
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Workers  int
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=workflowruns,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflowruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=brandkits,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces,verbs=get;list;watch

// Reconcile runs one WorkflowRun to completion.
func (r *WorkflowRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the run; a finished run is never run again. A change to
	// its spec afterwards (cancelling it) does nothing, and the status
	// says it was seen: otherwise health checks would wait on it forever.
	run := &socialv1alpha1.WorkflowRun{}
	if err := r.Get(ctx, req.NamespacedName, run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if finished(run.Status.Phase) {
		if run.Status.ObservedGeneration == run.Generation {
			return ctrl.Result{}, nil
		}
		base := run.DeepCopy()
		run.Status.ObservedGeneration = run.Generation
		return ctrl.Result{}, client.IgnoreNotFound(patchStatus(ctx, r.Client, run, base))
	}

	// 2. Write the status once at the end.
	base := run.DeepCopy()
	defer func() {
		run.Status.ObservedGeneration = run.Generation
		if err := patchStatus(ctx, r.Client, run, base); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()
	now := r.Clock.Now()
	if run.Status.StartTime == nil {
		run.Status.StartTime = &metav1.Time{Time: now}
		run.Status.Phase = socialv1alpha1.RunRunning
		setCondition(&run.Status.Conditions, run.Generation, socialv1alpha1.ConditionSucceeded, metav1.ConditionUnknown, ReasonRunStarted, "creating the workflow's posts")
		markReconciling(&run.Status.Conditions, run.Generation, ReasonRunStarted, "creating the workflow's posts")
	}

	// 3. A cancelled run stops before doing anything more.
	if run.Spec.Status == socialv1alpha1.RunCancelled {
		r.finish(run, socialv1alpha1.RunCancelledPhase, ReasonRunCancelled, "the run was cancelled before it finished")
		return ctrl.Result{}, nil
	}

	// 4. The workflow as it is now is what the run uses, recorded once.
	if run.Status.Workflow == nil {
		wf := &socialv1alpha1.Workflow{}
		key := client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowRef.Name}
		err := r.Get(ctx, key, wf)
		if apierrors.IsNotFound(err) && r.APIReader != nil {
			err = r.APIReader.Get(ctx, key, wf)
		}
		if err != nil {
			if apierrors.IsNotFound(err) {
				r.finish(run, socialv1alpha1.RunFailed, ReasonWorkflowNotFound, fmt.Sprintf("workflow %s does not exist in namespace %s", run.Spec.WorkflowRef.Name, run.Namespace))
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		run.Status.Workflow = wf.Spec.DeepCopy()
	}
	spec := run.Status.Workflow

	// 5. Check the workflow and the inputs.
	profiles := &socialv1alpha1.SocialProfileList{}
	if err := r.List(ctx, profiles, client.InNamespace(run.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	names := make([]string, 0, len(profiles.Items))
	for _, p := range profiles.Items {
		names = append(names, p.Name)
	}
	if errs := workflow.Validate(spec, names); len(errs) > 0 {
		r.finish(run, socialv1alpha1.RunFailed, ReasonWorkflowInvalid, "the workflow is invalid: "+strings.Join(errs, "; "))
		return ctrl.Result{}, nil
	}
	inputs, errs := workflow.ValidateInputs(spec, run.Spec.Inputs)
	if len(errs) > 0 {
		r.finish(run, socialv1alpha1.RunFailed, ReasonInputsInvalid, "the inputs do not fit the workflow: "+strings.Join(errs, "; "))
		return ctrl.Result{}, nil
	}

	// 6. Render every post, and check they fit the workspace's limits
	// before creating any.
	ws, _ := workspaceOf(ctx, r, run.Namespace) // none found: no limits, the namespace's name, UTC
	posts := make([]*socialv1alpha1.ScheduledPost, 0, len(spec.Posts))
	started := workflow.NewMoment(run.Status.StartTime.Time, zoneOf(spec, ws))
	for i, tmpl := range spec.Posts {
		kit, err := r.brandKit(ctx, run.Namespace, tmpl.BrandKit)
		if err != nil {
			return ctrl.Result{}, err
		}
		data := workflow.Data{Inputs: inputs, Item: feedItem(run.Spec.Item), Workspace: workspaceName(ws, run.Namespace), Now: started, BrandKit: kit}
		p, err := workflow.RenderPost(tmpl, data, run.Status.StartTime.Time)
		if err != nil {
			r.finish(run, socialv1alpha1.RunFailed, ReasonTemplateFailed, fmt.Sprintf("posts[%d]: %v", i, err))
			return ctrl.Result{}, nil
		}
		posts = append(posts, p)
	}
	if msg, err := r.checkQuota(ctx, run, ws, posts); err != nil {
		return ctrl.Result{}, err
	} else if msg != "" {
		r.finish(run, socialv1alpha1.RunFailed, ReasonWorkspaceLimit, "no posts were created: "+msg)
		return ctrl.Result{}, nil
	}

	// 7. Create each post under a name derived from the run, so a retried
	// reconcile finds the post it made instead of making another.
	run.Status.Posts = run.Status.Posts[:0]
	for i, p := range posts {
		p.Name = fmt.Sprintf("%s-%d", run.Name, i)
		p.Namespace = run.Namespace
		p.Labels = map[string]string{labelWorkflow: run.Spec.WorkflowRef.Name, labelWorkflowRun: run.Name}
		if by := run.Spec.RequestedBy; by != nil && by.Subject != "" {
			p.Annotations = map[string]string{socialv1alpha1.AnnotationRequestedBy: by.Subject, socialv1alpha1.AnnotationRequestedVia: by.Client}
		}
		if err := controllerutil.SetControllerReference(run, p, r.Scheme()); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, fmt.Errorf("creating post %s: %w", p.Name, err)
		}
		run.Status.Posts = append(run.Status.Posts, p.Name)
	}
	r.finish(run, socialv1alpha1.RunSucceeded, ReasonRunSucceeded, fmt.Sprintf("created %d posts: %s", len(run.Status.Posts), strings.Join(run.Status.Posts, ", ")))
	return ctrl.Result{}, nil
}

func finished(p socialv1alpha1.RunPhase) bool {
	return p == socialv1alpha1.RunSucceeded || p == socialv1alpha1.RunFailed || p == socialv1alpha1.RunCancelledPhase
}

// finish records the outcome, its time and an event.
func (r *WorkflowRunReconciler) finish(run *socialv1alpha1.WorkflowRun, phase socialv1alpha1.RunPhase, reason, message string) {
	now := r.Clock.Now()
	run.Status.Phase, run.Status.Message = phase, message
	run.Status.CompletionTime = &metav1.Time{Time: now}
	run.Status.Duration = now.Sub(run.Status.StartTime.Time).Round(10 * time.Millisecond).String()
	status, kind := metav1.ConditionFalse, corev1.EventTypeWarning
	if phase == socialv1alpha1.RunSucceeded {
		status, kind = metav1.ConditionTrue, corev1.EventTypeNormal
	}
	meta.SetStatusCondition(&run.Status.Conditions, metav1.Condition{Type: socialv1alpha1.ConditionSucceeded, Status: status, Reason: reason, Message: message, ObservedGeneration: run.Generation})
	// A finished run does not change again: Ready when it succeeded (or was
	// cancelled), Stalled when it failed, so GitOps tools show it Failed.
	if phase == socialv1alpha1.RunFailed {
		markStalled(&run.Status.Conditions, run.Generation, reason, message)
	} else {
		markReady(&run.Status.Conditions, run.Generation, reason, message)
	}
	r.Recorder.Eventf(run, nil, kind, reason, "Run", message)
}

// brandKit is what a template sees of the named brand kit: nil when none
// is named or it does not exist (the template then says so if it uses it).
func (r *WorkflowRunReconciler) brandKit(ctx context.Context, namespace, name string) (*workflow.BrandKitData, error) {
	if name == "" {
		return nil, nil
	}
	kit := &socialv1alpha1.BrandKit{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, kit); apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return workflow.BrandKitFor(kit), nil
}

// workspaceName is what templates see as .Workspace.
func workspaceName(ws *socialv1alpha1.Workspace, namespace string) string {
	if ws == nil {
		return namespace
	}
	return ws.Name
}

// checkQuota says whether the run's posts fit its workspace's limits
// beside the posts already there (the run's own, from an earlier try of
// this reconcile, aside), or which limit they would pass.
func (r *WorkflowRunReconciler) checkQuota(ctx context.Context, run *socialv1alpha1.WorkflowRun, ws *socialv1alpha1.Workspace, posts []*socialv1alpha1.ScheduledPost) (string, error) {
	if ws == nil {
		return "", nil
	}
	q := post.QuotaOf(ws)
	list := &socialv1alpha1.ScheduledPostList{}
	if err := r.List(ctx, list, client.InNamespace(run.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return "", err
	}
	var t post.Tally
	for i := range list.Items {
		if list.Items[i].Labels[labelWorkflowRun] != run.Name {
			q.Count(&t, &list.Items[i])
		}
	}
	for _, p := range posts {
		if err := q.Admit(t, p, ""); err != nil {
			return err.Error(), nil
		}
		q.Count(&t, p)
	}
	return "", nil
}

// SetupWithManager registers the reconciler.
func (r *WorkflowRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.WorkflowRun{}).
		Owns(&socialv1alpha1.ScheduledPost{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("workflowrun").
		Complete(r.InFlight.Reconciler("WorkflowRun", r))
}

// feedItem is what templates see of the feed item a run was queued for.
func feedItem(it *socialv1alpha1.FeedItem) *workflow.FeedItem {
	if it == nil {
		return nil
	}
	return &workflow.FeedItem{ID: it.ID, Title: it.Title, Link: it.Link, Summary: it.Summary}
}
