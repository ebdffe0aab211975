package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// The helpers below keep conditions in the shape kstatus reads: Ready always
// present, Reconciling and Stalled only while True.

// markReady sets Ready=True and clears Reconciling and Stalled.
func markReady(conds *[]metav1.Condition, generation int64, reason, message string) bool {
	changed := setCondition(conds, generation, socialv1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	changed = meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionReconciling) || changed
	return meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionStalled) || changed
}

// markStalled says progress needs a person: Ready=False and Stalled=True with
// the same reason. It reports whether anything changed, so callers emit an
// event only on the transition.
func markStalled(conds *[]metav1.Condition, generation int64, reason, message string) bool {
	changed := setCondition(conds, generation, socialv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	changed = setCondition(conds, generation, socialv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message) || changed
	return meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionReconciling) || changed
}

// markNotReady says something outside Herald fails and is retried on its
// own: Ready=False, neither Reconciling nor Stalled.
func markNotReady(conds *[]metav1.Condition, generation int64, reason, message string) bool {
	changed := setCondition(conds, generation, socialv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	changed = meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionReconciling) || changed
	return meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionStalled) || changed
}

// markReconciling says the controller is still working: Reconciling=True and
// Ready=Unknown.
func markReconciling(conds *[]metav1.Condition, generation int64, reason, message string) bool {
	changed := setCondition(conds, generation, socialv1alpha1.ConditionReady, metav1.ConditionUnknown, reason, message)
	changed = setCondition(conds, generation, socialv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message) || changed
	return meta.RemoveStatusCondition(conds, socialv1alpha1.ConditionStalled) || changed
}

func setCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}
