package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

const (
	// defaultVerifyInterval applies when spec.verifyInterval is unset
	// (the API server defaults it, so only objects from old clients).
	defaultVerifyInterval = time.Hour
	// unavailableRetry is how soon a platform that could not be reached is
	// asked again; shorter than any sensible verifyInterval.
	unavailableRetry = time.Minute
	// verifyTimeout bounds one Verify call, so a platform that hangs does
	// not hold a worker.
	verifyTimeout = 30 * time.Second
)

// SocialProfileReconciler checks each profile's credentials with its
// platform and reports the account they belong to.
type SocialProfileReconciler struct {
	client.Client
	// InFlight records each reconcile under way, so a shutdown that
	// overruns names it; nil records nothing.
	InFlight *inflight.Tracker
	// APIReader reads Secrets straight from the API server (see loadProfile).
	APIReader  client.Reader
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	Publishers publish.Registry
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile verifies one profile's credentials and records what the
// platform reported.
func (r *SocialProfileReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the profile; a deleted one needs nothing more.
	p := &socialv1alpha1.SocialProfile{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	// 2. Whatever happens below, write the status once at the end.
	base := p.DeepCopy()
	defer func() {
		p.Status.ObservedGeneration = p.Generation
		if err := r.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
		if retErr != nil {
			result = ctrl.Result{} // the error's backoff decides when to come back
		}
	}()

	// 3. Load the credentials; a missing Secret or key waits for the Secret
	// to change (the Secret watch brings the profile back).
	info := r.Publishers.Info(publish.Platform(p.Spec.Platform))
	prof, err := loadProfile(ctx, r.APIReader, p, info)
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		r.stalled(p, cerr.Reason, cerr.Message)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	// 4. Ask the platform.
	pub, err := r.Publishers.For(prof.Platform)
	if err != nil {
		r.stalled(p, ReasonVerificationFailed, fmt.Sprintf("Herald has no publisher for platform %s: %v", p.Spec.Platform, err))
		return ctrl.Result{}, nil
	}
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	acct, err := pub.Verify(vctx, prof)
	if err != nil {
		return r.verifyFailed(p, err), nil
	}

	// 5. Record the account and come back after verifyInterval.
	r.verified(p, acct, info)
	return ctrl.Result{RequeueAfter: verifyInterval(p)}, nil
}

func verifyInterval(p *socialv1alpha1.SocialProfile) time.Duration {
	if p.Spec.VerifyInterval != nil && p.Spec.VerifyInterval.Duration > 0 {
		return p.Spec.VerifyInterval.Duration
	}
	return defaultVerifyInterval
}

// stalled reports a problem only a person can fix, with an event on the
// transition only (a profile re-verified hourly must not spam events).
func (r *SocialProfileReconciler) stalled(p *socialv1alpha1.SocialProfile, reason, msg string) {
	if markStalled(&p.Status.Conditions, p.Generation, reason, msg) {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, reason, "Verify", msg)
	}
}

// verifyFailed sorts a Verify error: credentials refused or a request the
// platform refuses wait for a person; an unreachable platform is asked
// again soon. Adapter messages never hold credential values.
func (r *SocialProfileReconciler) verifyFailed(p *socialv1alpha1.SocialProfile, err error) ctrl.Result {
	secret := "its credentials Secret"
	if ref := p.Spec.CredentialsSecretRef; ref != nil {
		secret = "Secret " + p.Namespace + "/" + ref.Name
	}
	switch publish.KindOf(err) {
	case publish.CredentialsRejected:
		r.stalled(p, ReasonCredentialsRejected, fmt.Sprintf("%s refused the credentials: %v. Update %s with working credentials.", p.Spec.Platform, err, secret))
		return ctrl.Result{RequeueAfter: verifyInterval(p)}
	case publish.Permanent:
		r.stalled(p, ReasonVerificationFailed, fmt.Sprintf("verifying with %s failed: %v. Check spec.endpoint and %s.", p.Spec.Platform, err, secret))
		return ctrl.Result{RequeueAfter: verifyInterval(p)}
	default:
		wait := min(unavailableRetry, verifyInterval(p))
		msg := fmt.Sprintf("could not reach %s to verify the credentials: %v. Herald tries again in %s.", p.Spec.Platform, err, wait)
		if markReconciling(&p.Status.Conditions, p.Generation, ReasonPlatformUnavailable, msg) {
			r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonPlatformUnavailable, "Verify", msg)
		}
		return ctrl.Result{RequeueAfter: wait}
	}
}

func (r *SocialProfileReconciler) verified(p *socialv1alpha1.SocialProfile, acct publish.Account, info publish.Info) {
	p.Status.AccountID = acct.ID
	p.Status.Handle = acct.Handle
	p.Status.URL = acct.URL
	// The limit in force: the profile's own, else what the platform
	// reported for this account, else its documented one.
	reported := *p
	reported.Status.CharacterLimit = int32(min(acct.CharacterLimit, 1<<30))
	p.Status.CharacterLimit = int32(min(post.CharacterLimit(&reported, info), 1<<30))
	now := metav1.NewTime(r.Clock.Now())
	p.Status.LastVerifiedAt = &now
	handle := acct.Handle
	if handle == "" {
		handle = p.Spec.Handle
	}
	wasReady := meta.IsStatusConditionTrue(p.Status.Conditions, socialv1alpha1.ConditionReady)
	markReady(&p.Status.Conditions, p.Generation, ReasonVerified, fmt.Sprintf("credentials verified: %s account %s", p.Spec.Platform, handle))
	if !wasReady {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonVerified, "Verify", "Credentials verified: %s account %s", p.Spec.Platform, handle)
	}
}

// SetupWithManager registers the reconciler. Only spec changes wake it
// (its own status writes would otherwise re-verify at once), plus changes
// to the Secrets profiles name, watched as metadata only so Secret values
// never enter the cache.
func (r *SocialProfileReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.SocialProfile{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.profilesForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, workers)}).
		Named("socialprofile").
		Complete(r.InFlight.Reconciler("SocialProfile", r))
}

// profilesForSecret maps a Secret to the profiles in its namespace that name it.
func (r *SocialProfileReconciler) profilesForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &socialv1alpha1.SocialProfileList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{IndexProfileSecret: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the SocialProfiles that use a Secret", "secret", o.GetNamespace()+"/"+o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}
