package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/feed"
)

const (
	// defaultFeedInterval is feed.interval's default, also in the CRD.
	defaultFeedInterval = 15 * time.Minute
	// maxRunsPerPoll bounds the runs one read of a feed queues, so a feed
	// that published a backlog at once does not flood the profiles.
	maxRunsPerPoll = 10
	// maxSummary is how many characters of an item's summary a run keeps.
	maxSummary = 2000
)

// staleFeedCopy reports whether wf is a feed workflow that looks never
// read and is older than the API server's copy: starting from the newest
// item on it would skip the items published since the read it has not
// seen, and a status written from it would drop what that read recorded.
func (r *WorkflowReconciler) staleFeedCopy(ctx context.Context, wf *socialv1alpha1.Workflow) (bool, error) {
	if wf.Spec.Trigger.Type != socialv1alpha1.TriggerFeed || wf.Status.LastFeedItem != "" || r.APIReader == nil {
		return false, nil
	}
	fresh := &socialv1alpha1.Workflow{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(wf), fresh); err != nil {
		return false, err
	}
	return fresh.ResourceVersion != wf.ResourceVersion, nil
}

// reconcileFeed reads the feed when it is due (or the spec changed) and
// queues a run for each item newer than the last one seen, oldest first.
// Runs are named after the item, so a read repeated after a crash between
// the runs' creation and the status write finds them instead of making
// more.
func (r *WorkflowReconciler) reconcileFeed(ctx context.Context, wf *socialv1alpha1.Workflow) (ctrl.Result, error) {
	interval := defaultFeedInterval
	if iv := wf.Spec.Trigger.Feed.Interval; iv != nil && iv.Duration > 0 {
		interval = iv.Duration
	}
	now := r.Clock.Now()
	specChanged := wf.Status.ObservedGeneration != wf.Generation
	if next := wf.Status.NextRunTime; next != nil && wf.Status.LastPollTime != nil && now.Before(next.Time) && !specChanged {
		return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
	}

	items, err := feed.Fetch(ctx, r.FeedClient, wf.Spec.Trigger.Feed.URL)
	wf.Status.LastPollTime = &metav1.Time{Time: now}
	wf.Status.NextRunTime = &metav1.Time{Time: now.Add(interval)}
	if err != nil {
		msg := fmt.Sprintf("%v; trying again at %s", err, now.Add(interval).UTC().Format(time.RFC3339))
		if markNotReady(&wf.Status.Conditions, wf.Generation, ReasonFeedUnreachable, msg) {
			r.Recorder.Eventf(wf, nil, corev1.EventTypeWarning, ReasonFeedUnreachable, "ReadFeed", msg)
		}
		return ctrl.Result{RequeueAfter: interval}, nil
	}
	ready := func(format string, args ...any) (ctrl.Result, error) {
		markReady(&wf.Status.Conditions, wf.Generation, ReasonFeedPolled,
			fmt.Sprintf(format, args...)+fmt.Sprintf("; next read at %s", now.Add(interval).UTC().Format(time.RFC3339)))
		return ctrl.Result{RequeueAfter: interval}, nil
	}
	if len(items) == 0 {
		return ready("the feed has no items yet")
	}

	newest := items[0].ID
	seen := slices.IndexFunc(items, func(it feed.Item) bool { return it.ID == wf.Status.LastFeedItem })
	if wf.Status.LastFeedItem == "" || seen < 0 {
		why := "first read of the feed"
		if wf.Status.LastFeedItem != "" {
			why = "the last item seen is no longer in the feed"
		}
		r.Recorder.Eventf(wf, nil, corev1.EventTypeNormal, ReasonFeedBaseline, "ReadFeed",
			"%s: starting from %q; items published after it queue runs", why, items[0].Title)
		wf.Status.LastFeedItem = newest
		return ready("%s: starting from %q", why, items[0].Title)
	}

	fresh := items[:seen]
	if len(fresh) > maxRunsPerPoll {
		r.Recorder.Eventf(wf, nil, corev1.EventTypeWarning, ReasonFeedItemsSkipped, "ReadFeed",
			"%d new items at once; queued runs for the newest %d only", len(fresh), maxRunsPerPoll)
		fresh = fresh[:maxRunsPerPoll]
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		run := feedRun(wf, fresh[i])
		if err := r.Create(ctx, run); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, err
		} else if err == nil {
			r.Recorder.Eventf(wf, nil, corev1.EventTypeNormal, ReasonRunQueued, "ReadFeed", "Queued run %s for %q", run.Name, fresh[i].Title)
		}
		wf.Status.LastRun, wf.Status.LastRunTime = run.Name, &metav1.Time{Time: now}
	}
	wf.Status.LastFeedItem = newest
	return ready("%d new items queued runs", len(fresh))
}

// feedRun is the run for one feed item, named after the item.
func feedRun(wf *socialv1alpha1.Workflow, it feed.Item) *socialv1alpha1.WorkflowRun {
	sum := sha256.Sum256([]byte(it.ID))
	base := strings.TrimRight(firstRunes(wf.Name, 200), ".-")
	item := &socialv1alpha1.FeedItem{ID: firstRunes(it.ID, 2048), Title: firstRunes(it.Title, 1024), Link: firstRunes(it.Link, 2048), Summary: it.Summary}
	if cut := firstRunes(item.Summary, maxSummary); cut != item.Summary {
		item.Summary = cut + "…"
	}
	if !it.Published.IsZero() {
		item.Published = &metav1.Time{Time: it.Published}
	}
	return &socialv1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: base + "-feed-" + hex.EncodeToString(sum[:5])},
		Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: wf.Name},
			RequestedBy: &socialv1alpha1.Requester{Via: "feed"}, Item: item},
	}
}

// firstRunes cuts s to at most n characters.
func firstRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
