package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Frequency is how often a recurrence repeats.
// +kubebuilder:validation:Enum=Daily;Weekly;Monthly
type Frequency string

// Frequencies, as RFC 5545's FREQ names them.
const (
	FrequencyDaily   Frequency = "Daily"
	FrequencyWeekly  Frequency = "Weekly"
	FrequencyMonthly Frequency = "Monthly"
)

// Weekday is a day of the week, as RFC 5545 abbreviates it.
// +kubebuilder:validation:Enum=MO;TU;WE;TH;FR;SA;SU
type Weekday string

// Recurrence is when a recurring post is published: a subset of RFC 5545's
// RRULE (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL) with the times of
// day it publishes at, read on the wall clock of timeZone. A time of day that
// does not happen on a day (the hour skipped when clocks go forward) is
// published at the same distance after the change (02:30 becomes 03:30), and
// one that happens twice (the hour repeated when clocks go back) is published
// once, the first time, as RFC 5545 reads local times.
// +kubebuilder:validation:XValidation:rule="!(has(self.count) && has(self.until))",message="give count or until, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.byMonthDay) || self.frequency == 'Monthly'",message="byMonthDay is only used with frequency Monthly"
// +kubebuilder:validation:XValidation:rule="!has(self.byWeekday) || self.frequency != 'Monthly'",message="byWeekday is only used with frequency Daily or Weekly"
type Recurrence struct {
	// frequency is Daily, Weekly or Monthly.
	// +required
	Frequency Frequency `json:"frequency"`

	// interval repeats every interval-th day, week or month: 2 with Weekly
	// is every other week. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=366
	Interval int32 `json:"interval,omitempty"`

	// byWeekday lists the days of the week: with Weekly, the days it
	// publishes on in each week (weeks start on Monday); with Daily, the only
	// days it publishes on. Defaults, with Weekly, to start's day.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	ByWeekday []Weekday `json:"byWeekday,omitempty"`

	// byMonthDay lists the days of the month it publishes on, 1 to 31, or
	// -1 for the last day, -2 for the one before it and so on; a month
	// without that day is passed over. Defaults, with Monthly, to start's day.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=31
	// +kubebuilder:validation:items:Minimum=-31
	// +kubebuilder:validation:items:Maximum=31
	// +kubebuilder:validation:XValidation:rule="self.all(d, d != 0)",message="byMonthDay days are 1 to 31, or -1 (the last day) to -31"
	ByMonthDay []int32 `json:"byMonthDay,omitempty"`

	// times are the times of day it publishes at, as HH:MM on the wall
	// clock of timeZone, such as ["09:00", "17:30"]. Defaults to start's time.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=24
	// +kubebuilder:validation:items:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Times []string `json:"times,omitempty"`

	// start is the first time it may publish, an RFC 3339 time such as
	// 2026-12-01T09:00:00+01:00. Its day and time of day, in timeZone, are the
	// defaults of byWeekday, byMonthDay and times.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$')",message="start must be an RFC 3339 time with a time-zone offset, such as 2026-12-01T09:00:00Z"
	Start string `json:"start"`

	// until is the last time it may publish (RFC 3339); unset, it goes on.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$')",message="until must be an RFC 3339 time with a time-zone offset, such as 2027-06-30T23:59:59Z"
	Until string `json:"until,omitempty"`

	// count is how many occurrences the rule names, skipped ones included;
	// unset, it goes on.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Count *int32 `json:"count,omitempty"`

	// timeZone is the IANA time zone the times are read in, such as
	// Europe/Berlin. Defaults to the workspace's time zone.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// PostContent is what one occurrence publishes.
// +kubebuilder:validation:XValidation:rule="size(self.text) + (has(self.variants) ? self.variants.map(v, size(v.text)).sum() : 0) <= 100000",message="text and variants together may hold at most 100,000 characters"
type PostContent struct {
	// text is the post's body; the brand kit's signature and hashtags are
	// added when it is published.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40000
	Text string `json:"text"`

	// profiles are the SocialProfiles, in the same namespace, to publish to.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Profiles []string `json:"profiles"`

	// variants replace the text for one profile or platform, at most one
	// each; text and variants together hold at most 100,000 characters.
	// +optional
	Variants PostVariants `json:"variants,omitempty"`

	// media are images or videos to attach.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Media []PostMedia `json:"media,omitempty"`

	// brandKit names a BrandKit in the same namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	BrandKit string `json:"brandKit,omitempty"`
}

// Evergreen is a rotation of posts: each occurrence publishes the post of
// the list published longest ago (one never published first, in list order),
// passing over those published less than skipPublishedWithin before it.
type Evergreen struct {
	// posts are the posts of the rotation.
	// +required
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=100
	Posts []PostContent `json:"posts"`

	// skipPublishedWithin passes over a post this rotation published less
	// than this long before an occurrence, such as 720h (30 days). When every
	// post is that recent, the occurrence is skipped with an
	// EvergreenExhausted event. Unset, posts are only rotated.
	// +optional
	SkipPublishedWithin *metav1.Duration `json:"skipPublishedWithin,omitempty"`
}

// RecurringPostSpec is a post that repeats, or a rotation of evergreen posts.
// +kubebuilder:validation:XValidation:rule="has(self.post) != has(self.evergreen)",message="give post (one post that repeats) or evergreen (posts published in rotation), not both"
type RecurringPostSpec struct {
	// enabled recurring posts publish their occurrences; disabled ones create
	// none, and occurrences they would have made are not made up later.
	// Defaults to true.
	// +optional
	// +kubebuilder:default=true
	Enabled bool `json:"enabled"`

	// recurrence is when it publishes.
	// +required
	Recurrence Recurrence `json:"recurrence"`

	// post is what every occurrence publishes.
	// +optional
	Post *PostContent `json:"post,omitempty"`

	// evergreen is a rotation of posts, one published at each occurrence.
	// +optional
	Evergreen *Evergreen `json:"evergreen,omitempty"`

	// skip lists occurrences not to publish, each the RFC 3339 time the rule
	// names (any offset). Skipping an occurrence whose post already exists
	// cancels that post, unless publishing has started.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=64
	Skip []string `json:"skip,omitempty"`

	// maxLateness is how late an occurrence may still be published, for
	// example after Herald was not running; occurrences later than that are
	// counted in an OccurrencesMissed event, not published. Defaults to 15m.
	// +optional
	// +kubebuilder:default="15m"
	MaxLateness *metav1.Duration `json:"maxLateness,omitempty"`

	// labels are added to each occurrence's ScheduledPost, beside
	// social.herald.dev/recurring-post, such as a campaign name to select
	// them by.
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	Labels map[string]string `json:"labels,omitempty"`

	// historyLimit is how many finished occurrence posts are kept; older
	// ones are deleted (what was published stays on the platforms).
	// Defaults to 10.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	HistoryLimit *int32 `json:"historyLimit,omitempty"`

	// approval approves every occurrence at once, where the workspace
	// requires approval: each occurrence's post is made approved by the same
	// person. Its contentDigest covers the recurrence and the posts, so
	// changing either withdraws it (skipping an occurrence does not).
	// Through MCP only an owner or approver sets it (ocoya_approve_post
	// with the recurring post's id).
	// +optional
	Approval *PostApproval `json:"approval,omitempty"`
}

// RotationEntry is when a post of an evergreen rotation was last published.
type RotationEntry struct {
	// index of the post in spec.evergreen.posts.
	// +required
	Index int32 `json:"index"`

	// lastPublishedTime is the occurrence time of its latest post that was
	// published (or is still on its way).
	// +optional
	LastPublishedTime *metav1.Time `json:"lastPublishedTime,omitempty"`
}

// RecurringPostStatus says what the recurring post published and does next.
type RecurringPostStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// validationErrors lists every problem found in the spec; empty when valid.
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`

	// nextOccurrences are the next few occurrence times, in timeZone,
	// skipped ones left out.
	// +optional
	NextOccurrences []string `json:"nextOccurrences,omitempty"`

	// nextOccurrenceTime is the next occurrence.
	// +optional
	NextOccurrenceTime *metav1.Time `json:"nextOccurrenceTime,omitempty"`

	// lastOccurrenceTime is the latest occurrence Herald has dealt with
	// (made its post, skipped or missed it); it never makes one at or
	// before it.
	// +optional
	LastOccurrenceTime *metav1.Time `json:"lastOccurrenceTime,omitempty"`

	// lastPost names the ScheduledPost of the latest occurrence.
	// +optional
	LastPost string `json:"lastPost,omitempty"`

	// occurrences counts the occurrence posts made.
	// +optional
	Occurrences int32 `json:"occurrences,omitempty"`

	// rotation records, for an evergreen rotation, when each post was last
	// published, so the record outlives the occurrence posts historyLimit
	// deletes.
	// +optional
	// +listType=map
	// +listMapKey=index
	Rotation []RotationEntry `json:"rotation,omitempty"`

	// approval is spec.approval, when it carries no contentDigest, as Herald
	// first saw it, with the digest of the recurrence and posts it then
	// approved. While spec.approval stays the same, a change of them
	// withdraws the approval; a new approvedAt or approvedBy approves the
	// series as it then stands.
	// +optional
	Approval *PostApproval `json:"approval,omitempty"`

	// conditions: Valid (the spec passed validation) and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RecurringPost publishes a post at every time a recurrence rule names, or
// a rotation of evergreen posts. Each occurrence is a ScheduledPost named
// after the recurring post and its time, made a minute before it is due.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp,categories=herald
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="a recurring post's name is at most 63 characters: its occurrences carry it in a label"
// +kubebuilder:printcolumn:name="Enabled",type=boolean,JSONPath=`.spec.enabled`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Frequency",type=string,JSONPath=`.spec.recurrence.frequency`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextOccurrences[0]`
// +kubebuilder:printcolumn:name="Occurrences",type=integer,JSONPath=`.status.occurrences`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RecurringPost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is when it publishes and what.
	// +required
	Spec RecurringPostSpec `json:"spec"`

	// status says what it published and does next. Its observedGeneration
	// is 0 until Herald first reconciles the object.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status RecurringPostStatus `json:"status,omitempty"`
}

// RecurringPostList is a list of RecurringPosts.
// +kubebuilder:object:root=true
type RecurringPostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RecurringPost `json:"items"`
}
