package v1alpha1

import "fmt"

// Condition types shared by the Herald kinds. They follow the kstatus conventions:
// Ready is always present once an object has been reconciled; Reconciling and
// Stalled are present only while True.
const (
	// ConditionReady says whether the object is doing what its spec asks.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is still acting on the latest spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a person to change something.
	ConditionStalled = "Stalled"
	// ConditionPublished is True when every delivery of a post was published.
	ConditionPublished = "Published"
	// ConditionApproved says, on a post its workspace requires approval
	// for, whether it is approved: False (AwaitingApproval,
	// ApprovalWithdrawn) holds its deliveries back.
	ConditionApproved = "Approved"
	// ConditionValid says whether a Workflow passed validation.
	ConditionValid = "Valid"
	// ConditionSucceeded is the single condition of a WorkflowRun: Unknown while
	// it runs, then True or False.
	ConditionSucceeded = "Succeeded"
	// ConditionSpecIgnored is True when a post was edited after publishing started:
	// deliveries already made keep what was sent.
	ConditionSpecIgnored = "SpecChangeIgnored"
	// ConditionRemoteDeleted says, on a DeleteRemote post being deleted,
	// whether every published copy was taken down; its message names those
	// that may stay online.
	ConditionRemoteDeleted = "RemoteDeleted"
)

// Labels and annotations Herald reads or writes.
const (
	// LabelWorkspace marks a namespace with the Workspace it belongs to.
	LabelWorkspace = "social.herald.dev/workspace"
	// AnnotationCreatedBy marks a namespace Herald created for a Workspace; only
	// such namespaces are deleted with their Workspace.
	AnnotationCreatedBy = "social.herald.dev/created-by"
	// AnnotationReadOnly set to "true" makes an object read-only through MCP.
	AnnotationReadOnly = "social.herald.dev/read-only"
	// AnnotationRequestedBy records the user who asked for a change through MCP.
	AnnotationRequestedBy = "social.herald.dev/requested-by"
	// AnnotationRequestedVia records the OAuth client a change came through.
	AnnotationRequestedVia = "social.herald.dev/requested-via"
	// AnnotationRetryRequestedAt asks the controller to retry a post's
	// deliveries; its value is any token that differs from the last one
	// handled (a timestamp, as Flux's requestedAt). Without
	// AnnotationRetryProfiles it retries the Failed ones only.
	AnnotationRetryRequestedAt = "social.herald.dev/retry-requested-at"
	// AnnotationRetryProfiles names, comma-separated, the profiles a retry
	// request is for. Missed deliveries (their time passed) and Unknown ones
	// (which may be online) are retried only when named here.
	AnnotationRetryProfiles = "social.herald.dev/retry-profiles"
	// AnnotationRejectedBy records who rejected a post awaiting approval
	// (which cancels it); AnnotationRejectionReason says why.
	AnnotationRejectedBy      = "social.herald.dev/rejected-by"
	AnnotationRejectionReason = "social.herald.dev/rejection-reason"
	// LabelRecurringPost marks an occurrence's ScheduledPost with the
	// RecurringPost that made it.
	LabelRecurringPost = "social.herald.dev/recurring-post"
	// LabelRotationItem marks an evergreen occurrence's ScheduledPost with
	// the index of the rotation's post it publishes.
	LabelRotationItem = "social.herald.dev/rotation-item"
	// AnnotationOccurrence is the time, RFC 3339 in UTC, of the occurrence
	// an occurrence's ScheduledPost publishes.
	AnnotationOccurrence = "social.herald.dev/occurrence"
)

// LocalObjectReference names an object in the same namespace.
// +structType=atomic
type LocalObjectReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Platform is a social network or delivery target a SocialProfile publishes
// to; the adapters in Herald's publish registry declare each one, and a test
// keeps this enum equal to that list.
// +kubebuilder:validation:Enum=sandbox;webhook;mastodon;bluesky;discord;slack;telegram;linkedin;x;facebook;instagram;threads;pinterest;tiktok;youtube
type Platform string

// GitOpsOwner names what manages an object in Git (Flux, Argo CD, or the
// read-only annotation), or "" when MCP and Herald's pages may change it.
func GitOpsOwner(obj interface {
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}) string {
	labels, annotations := obj.GetLabels(), obj.GetAnnotations()
	switch {
	case annotations[AnnotationReadOnly] == "true":
		return fmt.Sprintf("it is marked %s: \"true\"", AnnotationReadOnly)
	case labels["kustomize.toolkit.fluxcd.io/name"] != "":
		return fmt.Sprintf("Flux Kustomization %s/%s manages it", labels["kustomize.toolkit.fluxcd.io/namespace"], labels["kustomize.toolkit.fluxcd.io/name"])
	case labels["helm.toolkit.fluxcd.io/name"] != "":
		return fmt.Sprintf("Flux HelmRelease %s/%s manages it", labels["helm.toolkit.fluxcd.io/namespace"], labels["helm.toolkit.fluxcd.io/name"])
	case labels["argocd.argoproj.io/instance"] != "":
		return fmt.Sprintf("Argo CD application %s manages it", labels["argocd.argoproj.io/instance"])
	case annotations["argocd.argoproj.io/tracking-id"] != "":
		return fmt.Sprintf("Argo CD manages it (%s)", annotations["argocd.argoproj.io/tracking-id"])
	}
	return ""
}
