package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunIntent is what a person wants of a run.
// +kubebuilder:validation:Enum=Cancelled
type RunIntent string

// RunCancelled asks for a run that has not finished to stop.
const RunCancelled RunIntent = "Cancelled"

// Requester records who queued a run.
type Requester struct {
	// subject is the user who asked, when a person did.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Subject string `json:"subject,omitempty"`

	// client is the OAuth client the request came through, for MCP requests.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Client string `json:"client,omitempty"`

	// via is how the run was queued.
	// +optional
	// +kubebuilder:validation:Enum=mcp;kubectl;schedule;feed
	Via string `json:"via,omitempty"`
}

// WorkflowRunSpec asks for one run of a workflow.
// +kubebuilder:validation:XValidation:rule="self.workflowRef == oldSelf.workflowRef",message="workflowRef cannot be changed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.inputs) || (has(self.inputs) && self.inputs == oldSelf.inputs)",message="inputs cannot be changed once the run is queued"
type WorkflowRunSpec struct {
	// workflowRef names the Workflow to run, in the same namespace.
	// +required
	WorkflowRef LocalObjectReference `json:"workflowRef"`

	// inputs are the run's values, by input name.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Inputs map[string]string `json:"inputs,omitempty"`

	// requestedBy records who queued the run.
	// +optional
	RequestedBy *Requester `json:"requestedBy,omitempty"`

	// status set to Cancelled stops a run that has not finished.
	// +optional
	Status RunIntent `json:"status,omitempty"`

	// idempotencyKey is the key a client sent to queue this run; the same key
	// returns this run instead of a new one.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	IdempotencyKey string `json:"idempotencyKey,omitempty"`

	// item is the feed entry a feed trigger queued this run for; post
	// templates see it as .Item (.Item.Title, .Item.Link, .Item.Summary).
	// +optional
	Item *FeedItem `json:"item,omitempty"`
}

// FeedItem is one entry of a workflow's RSS or Atom feed.
type FeedItem struct {
	// id is the entry's guid or id, else its link: what tells a new entry
	// from one seen before.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	ID string `json:"id"`

	// title of the entry, as plain text.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Title string `json:"title,omitempty"`

	// link to the entry's page.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Link string `json:"link,omitempty"`

	// summary of the entry as plain text (markup removed), cut after 2,000
	// characters.
	// +optional
	// +kubebuilder:validation:MaxLength=2001
	Summary string `json:"summary,omitempty"`

	// published is when the feed says the entry was published, if it says.
	// +optional
	Published *metav1.Time `json:"published,omitempty"`
}

// RunPhase is where a run is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Cancelled
type RunPhase string

// Run phases.
const (
	RunPending        RunPhase = "Pending"
	RunRunning        RunPhase = "Running"
	RunSucceeded      RunPhase = "Succeeded"
	RunFailed         RunPhase = "Failed"
	RunCancelledPhase RunPhase = "Cancelled"
)

// WorkflowRunStatus is the outcome of a run.
type WorkflowRunStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Pending, Running, Succeeded, Failed or Cancelled.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`

	// startTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// duration is how long the run took, such as 1.2s.
	// +optional
	Duration string `json:"duration,omitempty"`

	// posts are the ScheduledPosts the run created.
	// +optional
	Posts []string `json:"posts,omitempty"`

	// message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`

	// workflow is the workflow's spec as the run used it, so later edits do
	// not change what a finished run says it did.
	// +optional
	Workflow *WorkflowSpec `json:"workflow,omitempty"`

	// conditions: Succeeded is Unknown while the run is going, then True or False.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// WorkflowRun is one queued run of a Workflow.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wfr;run,categories=herald
// +kubebuilder:printcolumn:name="Workflow",type=string,JSONPath=`.spec.workflowRef.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkflowRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec asks for the run.
	// +required
	Spec WorkflowRunSpec `json:"spec"`

	// status is the run's outcome. Its observedGeneration is 0 until Herald
	// first reconciles the object, so tools that wait for it see it in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status WorkflowRunStatus `json:"status,omitempty"`
}

// WorkflowRunList is a list of WorkflowRuns.
// +kubebuilder:object:root=true
type WorkflowRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkflowRun `json:"items"`
}
