package post

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestSettled(t *testing.T) {
	settled := func() *socialv1alpha1.ScheduledPost {
		return &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Generation: 2},
			Status: socialv1alpha1.ScheduledPostStatus{ObservedGeneration: 2, Phase: socialv1alpha1.PostPartiallyPublished,
				Deliveries: []socialv1alpha1.Delivery{{Profile: "a", Phase: socialv1alpha1.DeliveryPublished}, {Profile: "b", Phase: socialv1alpha1.DeliveryFailed}}},
		}
	}
	if !Settled(settled()) {
		t.Fatal("a post whose deliveries all ended, reconciled at its generation, is not settled")
	}
	now := metav1.Now()
	for name, change := range map[string]func(p *socialv1alpha1.ScheduledPost){
		"edited since":       func(p *socialv1alpha1.ScheduledPost) { p.Generation = 3 },
		"being deleted":      func(p *socialv1alpha1.ScheduledPost) { p.DeletionTimestamp = &now },
		"never reconciled":   func(p *socialv1alpha1.ScheduledPost) { p.Status = socialv1alpha1.ScheduledPostStatus{} },
		"a delivery retries": func(p *socialv1alpha1.ScheduledPost) { p.Status.Deliveries[1].Phase = socialv1alpha1.DeliveryRetrying },
		"a delivery in flight": func(p *socialv1alpha1.ScheduledPost) {
			p.Status.Deliveries[1].Phase = socialv1alpha1.DeliveryPublishing
		},
		"a delivery waits": func(p *socialv1alpha1.ScheduledPost) { p.Status.Deliveries[0].Phase = socialv1alpha1.DeliveryPending },
		"a retry requested": func(p *socialv1alpha1.ScheduledPost) {
			p.Annotations = map[string]string{socialv1alpha1.AnnotationRetryRequestedAt: "2026-12-01T10:00:00Z"}
		},
	} {
		p := settled()
		change(p)
		if Settled(p) {
			t.Errorf("%s: settled, but the reconciler has work left", name)
		}
	}
	answered := settled()
	answered.Annotations = map[string]string{socialv1alpha1.AnnotationRetryRequestedAt: "2026-12-01T10:00:00Z"}
	answered.Status.LastHandledRetry = "2026-12-01T10:00:00Z"
	if !Settled(answered) {
		t.Error("a post whose retry request was answered is not settled")
	}
}
