package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sync"
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
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
	// Refresher renews the access tokens of OAuth platforms (X); nil
	// renews none.
	Refresher *connect.Refresher

	// verifiedWith holds, by profile UID, the resourceVersion of the
	// Secret the profile was last verified with.
	verifiedWith sync.Map
	// renewedTokens holds, by profile UID, tokens a platform issued that
	// are not yet in the profile's Secret. X's refresh tokens are
	// single-use: once renewed, the new ones are the only working ones,
	// so they are kept until written.
	renewedTokens sync.Map
}

// tokenRenewAhead is how long before an access token expires it is
// renewed: several times the reconciler's look at the Secret
// (credentialsCheck), so a renewal that fails once is tried again in time.
const tokenRenewAhead = 15 * time.Minute

func ptrResult(r *ctrl.Result) ctrl.Result {
	if r == nil {
		return ctrl.Result{}
	}
	return *r
}

// renewTokens renews the profile's access token when it expires within
// tokenRenewAhead and writes the new tokens to its Secret, updating creds.
// A non-nil result ends the reconcile with it.
func (r *SocialProfileReconciler) renewTokens(ctx context.Context, p *socialv1alpha1.SocialProfile, creds publish.Credentials) (bool, *ctrl.Result, error) {
	refresh := strings.TrimSpace(string(creds["refreshToken"]))
	if pending, ok := r.renewedTokens.Load(p.UID); ok {
		// Renewed before, but the write failed: write now what the
		// platform issued then; the old refresh token no longer works.
		t := pending.(connect.Tokens)
		if err := r.writeTokens(ctx, p, refresh, t); err != nil {
			return false, nil, err
		}
		r.renewedTokens.Delete(p.UID)
		maps.Copy(creds, t.Credentials())
		return true, nil, nil
	}
	now := r.Clock.Now()
	expires, known := connect.ExpiresAt(creds)
	if refresh == "" || (known && expires.Sub(now) > tokenRenewAhead) {
		return false, nil, nil
	}
	tctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	t, err := r.Refresher.Refresh(tctx, p.Spec.Platform, refresh, now)
	switch {
	case errors.Is(err, connect.ErrReconnect):
		r.stalled(p, ReasonReconnectRequired, fmt.Sprintf("%v. Connect the account again: the MCP tool %s gives the link (profileId %s)", err, connectionTool, p.Name))
		r.verifiedWith.Delete(p.UID)
		return false, &ctrl.Result{RequeueAfter: credentialsCheck}, nil
	case err != nil:
		msg := fmt.Sprintf("could not renew the %s access token: %v. Herald tries again in %s.", p.Spec.Platform, err, unavailableRetry)
		if markReconciling(&p.Status.Conditions, p.Generation, ReasonPlatformUnavailable, msg) {
			r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonPlatformUnavailable, "Renew", msg)
		}
		return false, &ctrl.Result{RequeueAfter: unavailableRetry}, nil
	}
	if err := r.writeTokens(ctx, p, refresh, t); err != nil {
		r.renewedTokens.Store(p.UID, t)
		return false, nil, fmt.Errorf("keeping the renewed %s tokens in the profile's Secret (held until written): %w", p.Spec.Platform, err)
	}
	maps.Copy(creds, t.Credentials())
	r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonTokenRenewed, "Renew", "renewed the %s access token; the new one expires at %s", p.Spec.Platform, t.ExpiresAt.UTC().Format(time.RFC3339))
	return true, nil, nil
}

// connectionTool names the MCP tool that reconnects an account, for messages.
const connectionTool = "ocoya_get_social_connection_url"

// writeTokens puts renewed tokens into the profile's Secret, unless the
// Secret no longer holds the refresh token they replace: a person
// reconnected the account meanwhile, and their tokens are the newer.
func (r *SocialProfileReconciler) writeTokens(ctx context.Context, p *socialv1alpha1.SocialProfile, replaced string, t connect.Tokens) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.CredentialsSecretRef.Name}, sec); err != nil {
			return err
		}
		if replaced != "" && strings.TrimSpace(string(sec.Data["refreshToken"])) != replaced {
			return nil
		}
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		maps.Copy(sec.Data, t.Credentials())
		return r.Update(ctx, sec)
	})
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles/status,verbs=get;update;patch
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
		if err := patchStatus(ctx, r.Client, p, base); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
		if retErr != nil {
			result = ctrl.Result{} // the error's backoff decides when to come back
		}
	}()

	// 3. Load the credentials. Herald may not watch Secrets, so it reads
	// the profile's own every credentialsCheck: a missing Secret or key,
	// or a changed one, is seen within that time.
	info := r.Publishers.Info(publish.Platform(p.Spec.Platform))
	prof, version, err := loadProfileVersion(ctx, r.APIReader, p, info)
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		r.stalled(p, cerr.Reason, cerr.Message)
		r.verifiedWith.Delete(p.UID)
		return ctrl.Result{RequeueAfter: credentialsCheck}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	// 3b. Renew an OAuth access token that expires soon, before anything
	// uses it; a renewal the platform refuses waits for a person.
	if r.Refresher.Refreshes(p.Spec.Platform) {
		renewed, res, err := r.renewTokens(ctx, p, prof.Credentials)
		if err != nil || res != nil {
			return ptrResult(res), err
		}
		if renewed {
			version = "" // verify with the new token
		}
	}
	if next, current := r.stillVerified(p, version); current {
		return ctrl.Result{RequeueAfter: next}, nil
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

	// 5. Record the account; look at the Secret again soon, and ask the
	// platform again after verifyInterval.
	r.verified(p, acct, info)
	r.verifiedWith.Store(p.UID, version)
	return ctrl.Result{RequeueAfter: min(credentialsCheck, verifyInterval(p))}, nil
}

// credentialsCheck is how often a profile's Secret is read to notice a
// change.
const credentialsCheck = 2 * time.Minute

// stillVerified reports whether p was verified, as its spec now stands,
// with the Secret at version, less than verifyInterval ago; then next is
// when to look again.
func (r *SocialProfileReconciler) stillVerified(p *socialv1alpha1.SocialProfile, version string) (next time.Duration, current bool) {
	seen, ok := r.verifiedWith.Load(p.UID)
	if !ok || seen.(string) != version || p.Status.ObservedGeneration != p.Generation || p.Status.LastVerifiedAt == nil ||
		!meta.IsStatusConditionTrue(p.Status.Conditions, socialv1alpha1.ConditionReady) {
		return 0, false
	}
	due := p.Status.LastVerifiedAt.Add(verifyInterval(p)).Sub(r.Clock.Now())
	if due <= 0 {
		return 0, false
	}
	return min(credentialsCheck, due), true
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
	msg := fmt.Sprintf("credentials verified: %s account %s", p.Spec.Platform, handle)
	if acct.Note != "" {
		msg += "; " + acct.Note
	}
	markReady(&p.Status.Conditions, p.Generation, ReasonVerified, msg)
	if !wasReady {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonVerified, "Verify", "Credentials verified: %s account %s", p.Spec.Platform, handle)
	}
}

// SetupWithManager registers the reconciler. Only spec and annotation
// changes wake it (its own status writes would otherwise re-verify at
// once); Secrets are not watched (see credentialsCheck).
func (r *SocialProfileReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	// A namespace's profiles are looked at again as soon as its Workspace
	// grants Herald read access to its Secrets, which for a Workspace and
	// profiles applied together comes a moment after the profiles.
	granted := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		if o.GetName() != WorkspaceSecretsBinding {
			return nil
		}
		list := &socialv1alpha1.SocialProfileList{}
		if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.SocialProfile{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&rbacv1.RoleBinding{}, granted, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(e event.CreateEvent) bool { return e.Object.GetName() == WorkspaceSecretsBinding },
			UpdateFunc: func(e event.UpdateEvent) bool { return e.ObjectNew.GetName() == WorkspaceSecretsBinding },
			DeleteFunc: func(event.DeleteEvent) bool { return false },
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, workers)}).
		Named("socialprofile").
		Complete(r.InFlight.Reconciler("SocialProfile", r))
}
