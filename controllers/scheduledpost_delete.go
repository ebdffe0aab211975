package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
)

const (
	// annotationRemoteDeleteStarted records when deleting a post's
	// published copies first failed, on the object being deleted.
	annotationRemoteDeleteStarted = "social.herald.dev/remote-delete-started"
	// remoteDeleteDeadline bounds how long platforms failing retryably
	// hold a deleted post: after it, Herald reports what stays online and
	// lets the object go, so an outage cannot block a namespace's deletion.
	remoteDeleteDeadline = 10 * time.Minute
)

// reconcileDelete handles deletionPolicy DeleteRemote: each published
// copy is deleted through its platform's API, where the platform has one.
// A copy already gone counts as deleted, so trying again after a crash or
// a retryable failure is safe. What cannot be deleted is named in an
// event, to be deleted by hand, and the object goes.
func (r *ScheduledPostReconciler) reconcileDelete(ctx context.Context, post *socialv1alpha1.ScheduledPost) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(post, DeleteRemoteFinalizer) {
		return ctrl.Result{}, nil
	}
	// A fresh read: the cache can still hold the finalizer that a
	// reconcile a moment ago removed after deleting everything.
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(post), post); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !controllerutil.ContainsFinalizer(post, DeleteRemoteFinalizer) {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	started, err := time.Parse(time.RFC3339, post.Annotations[annotationRemoteDeleteStarted])
	if err != nil {
		started = now
	}
	patient := now.Sub(started) < remoteDeleteDeadline

	var deleted, left, retrying []string
	wait := r.Retry.Backoff
	for _, d := range post.Status.Deliveries {
		if d.Phase != socialv1alpha1.DeliveryPublished || d.ExternalID == "" {
			continue
		}
		where := d.URL
		if where == "" {
			where = d.ExternalID
		}
		err := r.deleteRemote(ctx, post.Namespace, d)
		switch {
		case err == nil:
			deleted = append(deleted, fmt.Sprintf("%s (%s)", d.Profile, where))
		case publish.IsRetryable(err) && patient:
			retrying = append(retrying, fmt.Sprintf("%s (%s): %v", d.Profile, where, err))
			wait = max(wait, publish.RetryAfter(err))
		default:
			left = append(left, fmt.Sprintf("%s (%s): %v", d.Profile, where, err))
		}
	}
	if len(retrying) > 0 {
		if _, ok := post.Annotations[annotationRemoteDeleteStarted]; !ok {
			// The deadline counts from the first failure, across restarts.
			metaPatch := client.MergeFrom(post.DeepCopy())
			if post.Annotations == nil {
				post.Annotations = map[string]string{}
			}
			post.Annotations[annotationRemoteDeleteStarted] = started.UTC().Format(time.RFC3339)
			if err := r.Patch(ctx, post, metaPatch); err != nil {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
		}
		r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonRemoteDeleteRetry, "DeleteRemote",
			"trying again in %s: %s", wait.Round(time.Second), strings.Join(retrying, "; "))
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if len(deleted) > 0 {
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonRemoteDeleted, "DeleteRemote",
			"deleted the published post on %s", strings.Join(deleted, ", "))
	}
	if len(left) > 0 {
		r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonRemoteDeleteFailed, "DeleteRemote",
			"these published copies stay online; delete them on the platform by hand: %s", strings.Join(left, "; "))
	}
	controllerutil.RemoveFinalizer(post, DeleteRemoteFinalizer)
	if err := r.Update(ctx, post); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
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
		return publish.Errorf(publish.Permanent, "%s's API cannot delete what Herald published", profile.Spec.Platform)
	}
	prof, err := loadProfile(ctx, r.APIReader, profile)
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		return publish.Errorf(publish.Permanent, "%s", cerr.Message)
	}
	if err != nil {
		return publish.Errorf(publish.Retryable, "reading the credentials of SocialProfile %s/%s: %v", ns, d.Profile, err)
	}
	return deleter.Delete(ctx, prof, d.ExternalID)
}
