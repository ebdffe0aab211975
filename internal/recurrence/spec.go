package recurrence

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// Spec is a RecurringPost's spec, checked: its rule and the times it skips.
type Spec struct {
	Rule *Rule
	// Skip holds the Unix seconds of the skipped occurrences.
	Skip map[int64]bool
}

// Skipped reports whether the occurrence at t is skipped.
func (s *Spec) Skipped(t time.Time) bool { return s.Skip[t.Unix()] }

// Check reads a RecurringPost's spec in the workspace's time zone and lists
// every problem found, profiles that do not exist among them; with profiles
// nil, which profiles exist is not checked (a reader of a spec checked when
// it was written).
func Check(spec *socialv1alpha1.RecurringPostSpec, workspaceZone string, profiles []string) (*Spec, []string) {
	rule, errs := Parse(&spec.Recurrence, workspaceZone)
	skip, skipErrs := ParseSkip(spec.Skip)
	errs = append(errs, skipErrs...)
	for i, c := range Contents(spec) {
		field := "post"
		if spec.Evergreen != nil {
			field = fmt.Sprintf("evergreen.posts[%d]", i)
		}
		for _, p := range c.Profiles {
			if profiles != nil && !slices.Contains(profiles, p) {
				errs = append(errs, fmt.Sprintf("%s: profile %q does not exist in this namespace", field, p))
			}
		}
		for _, msg := range post.ContentProblems(c.Text, c.Profiles, c.Variants) {
			errs = append(errs, field+": "+msg)
		}
	}
	for k, v := range spec.Labels {
		for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			errs = append(errs, fmt.Sprintf("labels[%q]: %s", k, msg))
		}
		if strings.HasPrefix(k, "social.herald.dev/") {
			errs = append(errs, fmt.Sprintf("labels[%q]: the social.herald.dev/ prefix is Herald's own", k))
		}
	}
	slices.Sort(errs)
	return &Spec{Rule: rule, Skip: skip}, errs
}

// Contents lists what the occurrences publish: the one post, or the
// rotation's posts.
func Contents(spec *socialv1alpha1.RecurringPostSpec) []socialv1alpha1.PostContent {
	if spec.Evergreen != nil {
		return spec.Evergreen.Posts
	}
	if spec.Post != nil {
		return []socialv1alpha1.PostContent{*spec.Post}
	}
	return nil
}

// SeriesDigest is what an approval of a recurring post covers: its
// recurrence and its posts, not the occurrences it skips.
func SeriesDigest(spec *socialv1alpha1.RecurringPostSpec) string {
	r := spec.Recurrence
	r.Interval = max(r.Interval, 1)  // as the API server defaults it, so a digest taken before is the same
	data, _ := json.Marshal(struct { // plain values: cannot fail
		Recurrence socialv1alpha1.Recurrence   `json:"recurrence"`
		Post       *socialv1alpha1.PostContent `json:"post"`
		Evergreen  *socialv1alpha1.Evergreen   `json:"evergreen"`
	}{r, spec.Post, spec.Evergreen})
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SeriesApproved reports whether rp carries an approval of itself as it
// stands; one written without a contentDigest covers the series as it was
// first seen with it (status.approval, RecordApproval).
func SeriesApproved(rp *socialv1alpha1.RecurringPost) bool {
	a := rp.Spec.Approval
	current := SeriesDigest(&rp.Spec)
	return a != nil && post.ApprovedDigest(a, rp.Status.Approval, current) == current
}

// RecordApproval keeps rp's status.approval (post.PinApproval). The
// reconciler calls it on every pass, before anything judges the approval.
func RecordApproval(rp *socialv1alpha1.RecurringPost) {
	rp.Status.Approval = post.PinApproval(rp.Spec.Approval, rp.Status.Approval, SeriesDigest(&rp.Spec))
}

// OccurrenceName is the name of the ScheduledPost of the occurrence at t:
// one name per occurrence, so it is never made twice.
func OccurrenceName(recurringPost string, t time.Time) string {
	return recurringPost + "-" + t.UTC().Format("20060102t1504z")
}
