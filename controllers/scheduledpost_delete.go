package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

const (
	// annotationRemoteDeleteStarted records when deleting a post's
	// published copies first had to wait, on the object being deleted.
	annotationRemoteDeleteStarted = "social.herald.dev/remote-delete-started"
	// remoteDeleteDeadline bounds how long platforms failing retryably
	// hold a deleted post: after it, Herald reports what stays online and
	// lets the object go, so an outage cannot block a namespace's deletion.
	remoteDeleteDeadline = 10 * time.Minute
)

// reconcileDelete handles deletionPolicy DeleteRemote: each published
// copy is deleted through its platform's API, where the platform has one.
// A call still in flight is waited for first, since it may publish a copy
// a moment from now. A copy already gone counts as deleted, so trying again
// after a crash or a retryable failure is safe. What cannot be deleted, and
// every copy that may be online without Herald knowing where (an Unknown
// or interrupted attempt), is named in an event and the RemoteDeleted
// condition, to be deleted by hand; then the object goes.
func (r *ScheduledPostReconciler) reconcileDelete(ctx context.Context, p *socialv1alpha1.ScheduledPost) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, DeleteRemoteFinalizer) {
		return ctrl.Result{}, nil
	}
	// A fresh read: the cache can still hold the finalizer that a
	// reconcile a moment ago removed after deleting everything.
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !controllerutil.ContainsFinalizer(p, DeleteRemoteFinalizer) {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	started, err := time.Parse(time.RFC3339, p.Annotations[annotationRemoteDeleteStarted])
	if err != nil {
		started = now
	}
	patient := now.Sub(started) < remoteDeleteDeadline

	var deleted, left, retrying, unknown, inFlight []string
	wait := r.Retry.Backoff
	for i := range p.Status.Deliveries {
		d := &p.Status.Deliveries[i]
		where := d.URL
		if where == "" {
			where = d.ExternalID
		}
		switch {
		case post.ClaimLive(d, now) && patient:
			inFlight = append(inFlight, d.Profile)
			wait = min(wait, max(d.ClaimExpiresAt.Sub(now), minRequeue))
		case d.Phase == socialv1alpha1.DeliveryPublished && d.ExternalID != "":
			err := r.deleteRemote(ctx, p.Namespace, *d)
			switch {
			case err == nil:
				deleted = append(deleted, fmt.Sprintf("%s (%s)", d.Profile, where))
			case publish.IsRetryable(err) && patient:
				retrying = append(retrying, fmt.Sprintf("%s (%s): %v", d.Profile, where, err))
				wait = max(wait, publish.RetryAfter(err))
			default:
				left = append(left, fmt.Sprintf("%s (%s): %v", d.Profile, where, err))
			}
		case post.MayBeOnline(d):
			unknown = append(unknown, fmt.Sprintf("%s (%s: an attempt may have been published, Herald has no id to delete it by)", d.Profile, d.Phase))
		}
	}
	if len(inFlight) > 0 || len(retrying) > 0 {
		if err := r.markRemoteDeleteStarted(ctx, p, started); err != nil {
			return ctrl.Result{}, err
		}
		if len(retrying) > 0 {
			r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonRemoteDeleteRetry, "DeleteRemote",
				"trying again in %s: %s", wait.Round(time.Second), strings.Join(retrying, "; "))
		} else {
			r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonRemoteDeleteWait, "DeleteRemote",
				"waiting for the call in flight to %s to finish before deleting what it published", strings.Join(inFlight, ", "))
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}

	// Everything is decided: say so on the object and in events, then let it go.
	stays := append(left, unknown...)
	msg := "every published copy was deleted"
	if len(deleted) > 0 {
		msg = "deleted the published post on " + strings.Join(deleted, ", ")
	}
	if len(stays) > 0 {
		msg += "; these may stay online, delete them on the platform by hand: " + strings.Join(stays, "; ")
	}
	status := metav1.ConditionTrue
	if len(stays) > 0 {
		status = metav1.ConditionFalse
	}
	if setCondition(&p.Status.Conditions, p.Generation, socialv1alpha1.ConditionRemoteDeleted, status, ReasonRemoteDeleted, truncate(msg)) {
		if err := r.Status().Update(ctx, p); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	if len(deleted) > 0 {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonRemoteDeleted, "DeleteRemote",
			"deleted the published post on %s", strings.Join(deleted, ", "))
	}
	if len(stays) > 0 {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonRemoteDeleteFailed, "DeleteRemote",
			"these published copies may stay online; delete them on the platform by hand: %s", strings.Join(stays, "; "))
	}
	controllerutil.RemoveFinalizer(p, DeleteRemoteFinalizer)
	if err := r.Update(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// markRemoteDeleteStarted records when the deletion first had to wait, so
// the deadline counts from there across restarts.
func (r *ScheduledPostReconciler) markRemoteDeleteStarted(ctx context.Context, p *socialv1alpha1.ScheduledPost, started time.Time) error {
	if _, ok := p.Annotations[annotationRemoteDeleteStarted]; ok {
		return nil
	}
	patch := client.MergeFrom(p.DeepCopy())
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[annotationRemoteDeleteStarted] = started.UTC().Format(time.RFC3339)
	return client.IgnoreNotFound(r.Patch(ctx, p, patch))
}

// deleteRemote deletes one delivery's published copy.
func (r *ScheduledPostReconciler) deleteRemote(ctx context.Context, ns string, d socialv1alpha1.Delivery) error {
	profile := &socialv1alpha1.SocialProfile{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Profile}, profile); err != nil {
		if apierrors.IsNotFound(err) {
			return publish.Errorf(publish.Permanent, "SocialProfile %s/%s no longer exists, so Herald has no credentials to delete with", ns, d.Profile)
		}
		return publish.Errorf(publish.Retryable, "reading SocialProfile %s/%s: %v", ns, d.Profile, err)
	}
	pub, err := r.Publishers.For(publish.Platform(profile.Spec.Platform))
	if err != nil {
		return err
	}
	deleter, ok := pub.(publish.Deleter)
	if !ok {
		return publish.Errorf(publish.Permanent, "%s's API cannot delete what Herald published", pub.Info().Name())
	}
	prof, err := loadProfile(ctx, r.APIReader, profile, pub.Info())
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		return publish.Errorf(publish.Permanent, "%s", cerr.Message)
	}
	if err != nil {
		return publish.Errorf(publish.Retryable, "reading the credentials of SocialProfile %s/%s: %v", ns, d.Profile, err)
	}
	return deleter.Delete(ctx, prof, d.ExternalID)
}
