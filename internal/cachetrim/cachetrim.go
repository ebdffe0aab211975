// Package cachetrim shrinks the objects Herald's informer cache holds. A
// large install keeps every ScheduledPost in memory, and most of a post's
// strings repeat across posts: the namespace, the profile names, the
// platform, every phase, the condition types, statuses, reasons and the
// usual messages, the annotation keys. Decoding gives each post its own copy
// of each; Transform makes posts share one, and drops managedFields, which
// Herald never reads.
//
// Only strings are replaced, each by an equal one, small label and
// annotation maps by one shared map of the same contents, equal delivery
// times by one shared time, and slices by copies without spare room, so an
// object reads and writes back exactly as the API server sent it. Sharing
// is safe because the cache hands out deep copies, and Herald's readers
// that skip the copy only read.
package cachetrim

import (
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// Interner hands out one copy of each short string it is given. It
// remembers a bounded number and starts afresh when full, so a stream of
// distinct values (a message naming a time) cannot grow it forever, while
// strings that keep coming back (a new workspace's namespace) are shared
// again from then on; objects already holding a copy keep it.
type Interner struct {
	mu      sync.RWMutex
	strings map[string]string
	maps    map[string]map[string]string
	max     int
}

// maxLen is the longest string worth sharing: longer ones are post texts,
// URLs and error messages, distinct per post.
const maxLen = 96

// NewInterner remembers up to max strings at a time.
func NewInterner(max int) *Interner {
	return &Interner{strings: make(map[string]string), maps: make(map[string]map[string]string), max: max}
}

// Intern returns the shared copy of s.
func (in *Interner) Intern(s string) string {
	if s == "" || len(s) > maxLen {
		return s
	}
	in.mu.RLock()
	shared, ok := in.strings[s]
	in.mu.RUnlock()
	if ok {
		return shared
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.strings[s]; ok {
		return shared
	}
	if len(in.strings) >= in.max {
		in.strings = make(map[string]string, in.max)
	}
	in.strings[s] = s
	return s
}

// Len is how many strings in holds.
func (in *Interner) Len() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return len(in.strings)
}

// Transform returns a cache transform that drops managedFields from every
// object and shares the repeated strings of ScheduledPosts through in.
func Transform(in *Interner) func(any) (any, error) {
	return func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		if p, ok := obj.(*socialv1alpha1.ScheduledPost); ok {
			in.post(p)
		}
		return obj, nil
	}
}

func (in *Interner) post(p *socialv1alpha1.ScheduledPost) {
	p.Namespace = in.Intern(p.Namespace)
	in.meta(&p.ObjectMeta)
	s := &p.Spec
	in.all(s.Profiles)
	for i := range s.Variants {
		v := &s.Variants[i]
		v.Profile, v.Platform = in.Intern(v.Profile), socialv1alpha1.Platform(in.Intern(string(v.Platform)))
	}
	for i := range s.Media {
		s.Media[i].Type = in.Intern(s.Media[i].Type)
	}
	s.BrandKit = in.Intern(s.BrandKit)
	s.DeletionPolicy = socialv1alpha1.DeletionPolicy(in.Intern(string(s.DeletionPolicy)))
	if a := s.Approval; a != nil {
		a.ApprovedBy = in.Intern(a.ApprovedBy)
	}
	s.Profiles, s.Variants = clip(s.Profiles), clip(s.Variants)
	st := &p.Status
	st.Deliveries, st.Conditions = clip(st.Deliveries), clip(st.Conditions)
	st.Phase = socialv1alpha1.PostPhase(in.Intern(string(st.Phase)))
	for i := range st.Deliveries {
		d := &st.Deliveries[i]
		d.Profile, d.ClaimedBy, d.Progress = in.Intern(d.Profile), in.Intern(d.ClaimedBy), in.Intern(d.Progress)
		d.Platform = socialv1alpha1.Platform(in.Intern(string(d.Platform)))
		d.Phase = socialv1alpha1.DeliveryPhase(in.Intern(string(d.Phase)))
		d.AttemptStartedAt, d.LastAttemptAt = sameTime(d.AttemptStartedAt, d.PublishedAt), sameTime(d.LastAttemptAt, d.PublishedAt)
	}
	in.conditions(st.Conditions)
}

// meta shares the keys of labels and annotations, and their short values.
func (in *Interner) meta(m *metav1.ObjectMeta) {
	m.Labels, m.Annotations = in.sharedMap(m.Labels), in.sharedMap(m.Annotations)
	in.all(m.Finalizers)
	for i := range m.OwnerReferences {
		r := &m.OwnerReferences[i]
		r.APIVersion, r.Kind = in.Intern(r.APIVersion), in.Intern(r.Kind)
	}
}

func (in *Interner) conditions(cs []metav1.Condition) {
	for i := range cs {
		c := &cs[i]
		c.Type, c.Reason, c.Message = in.Intern(c.Type), in.Intern(c.Reason), in.Intern(c.Message)
		c.Status = metav1.ConditionStatus(in.Intern(string(c.Status)))
	}
}

// maxShared is the most entries a map may have to be shared whole: posts
// carry a few annotations (who asked, which workflow), repeated across
// thousands of posts, while a map of many entries is rarely seen twice.
const maxShared = 8

// sharedMap returns the one map held for m's contents, or m with shared
// keys and values when m is too large or holds a long value.
func (in *Interner) sharedMap(m map[string]string) map[string]string {
	key, ok := contentsOf(m)
	if !ok {
		return in.strMap(m)
	}
	in.mu.RLock()
	shared, found := in.maps[key]
	in.mu.RUnlock()
	if found {
		return shared
	}
	shared = in.strMap(m)
	in.mu.Lock()
	defer in.mu.Unlock()
	if prior, found := in.maps[key]; found {
		return prior
	}
	if len(in.maps) >= in.max {
		in.maps = make(map[string]map[string]string, in.max)
	}
	in.maps[key] = shared
	return shared
}

// contentsOf spells m's entries in key order, NUL-separated (no key or value
// of a label or annotation holds a NUL), or reports that m is not worth
// sharing whole.
func contentsOf(m map[string]string) (string, bool) {
	if len(m) == 0 || len(m) > maxShared {
		return "", false
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if len(k) > maxLen || len(v) > maxLen {
			return "", false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String(), true
}

// strMap returns m with shared keys and values. Assigning to an existing
// key would keep the map's own copy of the key, so it is a new map.
func (in *Interner) strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[in.Intern(k)] = in.Intern(v)
	}
	return out
}

// sameTime returns published in place of t when the two are equal: a
// delivery that succeeded at its first attempt started, last tried and
// published at one instant, and three copies of it cost 48 bytes a post.
func sameTime(t, published *metav1.Time) *metav1.Time {
	if t != nil && published != nil && t.Equal(published) {
		return published
	}
	return t
}

// clip returns s in an array of its own length: decoding grows slices by
// doubling, so three conditions sit in room for four.
func clip[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	return append(make([]T, 0, len(s)), s...)
}

func (in *Interner) all(ss []string) {
	for i := range ss {
		ss[i] = in.Intern(ss[i])
	}
}
