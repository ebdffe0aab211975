package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TriggerType says what starts a workflow.
// +kubebuilder:validation:Enum=manual;schedule;feed
type TriggerType string

// Trigger types.
const (
	// TriggerManual runs only when asked (ocoya_run_workflow or a WorkflowRun).
	TriggerManual TriggerType = "manual"
	// TriggerSchedule runs on a cron schedule.
	TriggerSchedule TriggerType = "schedule"
	// TriggerFeed runs once for each new item of an RSS or Atom feed.
	TriggerFeed TriggerType = "feed"
)

// FeedTrigger polls an RSS or Atom feed: each item published after the
// workflow first read it queues one run.
type FeedTrigger struct {
	// url of the feed (http or https).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="feed.url must be an http or https URL"
	URL string `json:"url"`

	// interval between polls. Defaults to 15m; at least 1m.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="feed.interval must be at least 1m"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// WorkflowTrigger says when a workflow runs.
// +kubebuilder:validation:XValidation:rule="self.type != 'schedule' || has(self.schedule)",message="a schedule trigger needs schedule, a cron expression such as \"0 9 * * MON\""
// +kubebuilder:validation:XValidation:rule="self.type != 'feed' || has(self.feed)",message="a feed trigger needs feed.url"
// +kubebuilder:validation:XValidation:rule="self.type == 'schedule' || !has(self.schedule)",message="schedule is only used by a schedule trigger"
// +kubebuilder:validation:XValidation:rule="self.type == 'schedule' || !has(self.startingDeadline)",message="startingDeadline is only used by a schedule trigger"
// +kubebuilder:validation:XValidation:rule="!has(self.startingDeadline) || duration(self.startingDeadline) >= duration('10s')",message="startingDeadline must be at least 10s, such as 1h"
type WorkflowTrigger struct {
	// type is manual, schedule or feed.
	// +required
	Type TriggerType `json:"type"`

	// schedule is a five-field cron expression (minute hour day-of-month month
	// day-of-week), such as "0 9 * * MON-FRI", read in timeZone.
	// +optional
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule,omitempty"`

	// timeZone is the IANA time zone the schedule is read in. Defaults to the
	// workspace's time zone.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// feed is the RSS or Atom feed a feed trigger polls.
	// +optional
	Feed *FeedTrigger `json:"feed,omitempty"`

	// startingDeadline is how late a scheduled run may still start, such as
	// 1h. A run Herald finds later than this after its time (Herald was not
	// running, or the workflow was disabled) is skipped, with a RunSkipped
	// event and status.lastSkippedTime. Unset, the latest missed run starts
	// however late it is; earlier missed ones never do.
	// +optional
	StartingDeadline *metav1.Duration `json:"startingDeadline,omitempty"`

	// concurrencyPolicy is what a scheduled run does while an earlier run of
	// the workflow has not finished: Allow starts it anyway, Forbid skips it
	// (with a RunSkipped event), Replace cancels the earlier run and starts
	// this one. Defaults to Allow.
	// +optional
	// +kubebuilder:default=Allow
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
}

// ConcurrencyPolicy says how a scheduled run treats an unfinished earlier run.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

// The concurrency policies, as Kubernetes' CronJob names them.
const (
	ConcurrencyAllow   ConcurrencyPolicy = "Allow"
	ConcurrencyForbid  ConcurrencyPolicy = "Forbid"
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// WorkflowInputType is the type of a workflow input.
// +kubebuilder:validation:Enum=string;text;url;number;boolean;datetime
type WorkflowInputType string

// WorkflowInput declares a value a run provides.
type WorkflowInput struct {
	// name of the input, used in templates as {{ .Inputs.name }}.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_]{0,62}$`
	Name string `json:"name"`

	// description tells people and assistants what to provide.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Description string `json:"description,omitempty"`

	// type of the value. Defaults to string.
	// +optional
	// +kubebuilder:default=string
	Type WorkflowInputType `json:"type,omitempty"`

	// required inputs must be given to every run.
	// +optional
	Required bool `json:"required,omitempty"`

	// default is used when a run does not give the input.
	// +optional
	// +kubebuilder:validation:MaxLength=4000
	Default string `json:"default,omitempty"`

	// enum lists the only values accepted, when set.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Enum []string `json:"enum,omitempty"`
}

// PostTemplate is a post a workflow run creates.
// +kubebuilder:validation:XValidation:rule="size(self.text) + (has(self.variants) ? self.variants.map(v, size(v.text)).sum() : 0) <= 100000",message="text and variants together may hold at most 100,000 characters"
type PostTemplate struct {
	// text is a Go template for the post's text. It sees .Inputs (the run's
	// inputs), .Item (the feed item: Title, Link, Summary), .Workspace, .Now
	// (when the run started, in the workflow's time zone: .Now.Weekday,
	// .Now.Date, .Now.Time, .Now.Format "Monday 2 January") and .BrandKit
	// (the brandKit's DisplayName, Voice, Signature and Hashtags).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40000
	Text string `json:"text"`

	// profiles are the SocialProfiles to publish to.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Profiles []string `json:"profiles"`

	// variants replace the text for one profile or platform, at most one
	// each; their text is a template too. The templates of text and
	// variants hold at most 100,000 characters together, and so do their
	// renderings.
	// +optional
	Variants PostVariants `json:"variants,omitempty"`

	// media to attach.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Media []PostMedia `json:"media,omitempty"`

	// brandKit names the BrandKit to apply.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	BrandKit string `json:"brandKit,omitempty"`

	// after is how long after the run starts the post is scheduled; 0 publishes at once.
	// +optional
	After *metav1.Duration `json:"after,omitempty"`

	// draft creates the post as a draft for a person to review.
	// +optional
	Draft bool `json:"draft,omitempty"`
}

// WorkflowSpec is an automation: when it runs, what it takes and which posts it makes.
type WorkflowSpec struct {
	// description says what the workflow is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1000
	Description string `json:"description,omitempty"`

	// enabled workflows run on their trigger and can be run by hand; disabled
	// ones do neither. Defaults to true.
	// +optional
	// +kubebuilder:default=true
	Enabled bool `json:"enabled"`

	// trigger says when the workflow runs.
	// +required
	Trigger WorkflowTrigger `json:"trigger"`

	// inputs a run provides.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Inputs []WorkflowInput `json:"inputs,omitempty"`

	// posts each run creates.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Posts []PostTemplate `json:"posts"`

	// successfulRunsHistoryLimit is how many finished runs that succeeded
	// (or were cancelled) are kept; older ones are deleted. A run is deleted
	// only once all its posts are done (published, failed, missed or
	// canceled), and its posts go with it; what was published stays on the
	// platforms. Defaults to 3.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// failedRunsHistoryLimit is how many failed runs are kept, the same way.
	// Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`
}

// WorkflowStatus says whether a workflow is valid and when it ran.
type WorkflowStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// validationErrors lists every problem found in the spec; empty when valid.
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`

	// lastRun names the newest WorkflowRun.
	// +optional
	LastRun string `json:"lastRun,omitempty"`

	// lastRunTime is when the newest run was queued.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`

	// nextRunTime is when a schedule trigger runs next, or when a feed
	// trigger reads its feed next.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`

	// lastSkippedTime is the due time of the latest scheduled run that was
	// skipped (past startingDeadline, or by concurrencyPolicy Forbid).
	// +optional
	LastSkippedTime *metav1.Time `json:"lastSkippedTime,omitempty"`

	// nextRunLocal is nextRunTime in the schedule's time zone, as people
	// read it, such as 2026-07-07T09:00:00+02:00 (Europe/Berlin).
	// +optional
	NextRunLocal string `json:"nextRunLocal,omitempty"`

	// lastPollTime is when a feed trigger last read its feed.
	// +optional
	LastPollTime *metav1.Time `json:"lastPollTime,omitempty"`

	// lastFeedItem is the id of the newest feed item seen. The first read of
	// a feed only records it; each later read queues a run for every item
	// newer than it (at most 10 a read, oldest first). When it has left the
	// feed, the newest item becomes the new starting point.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	LastFeedItem string `json:"lastFeedItem,omitempty"`

	// conditions: Valid (the spec passed validation) and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Workflow is an automation kept in Git: a trigger, typed inputs and post
// templates. Each run is a WorkflowRun.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wf,categories=herald
// +kubebuilder:printcolumn:name="Enabled",type=boolean,JSONPath=`.spec.enabled`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.trigger.type`
// +kubebuilder:printcolumn:name="Next Run",type=string,JSONPath=`.status.nextRunLocal`
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastRunTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workflow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the automation.
	// +required
	Spec WorkflowSpec `json:"spec"`

	// status says whether it is valid and when it ran. Its observedGeneration is 0 until Herald
	// first reconciles the object, so tools that wait for it see it in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status WorkflowStatus `json:"status,omitempty"`
}

// WorkflowList is a list of Workflows.
// +kubebuilder:object:root=true
type WorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workflow `json:"items"`
}
