package cachetrim

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// decoded is post n as the informer would hold it: decoded from the API
// server's JSON, so every string has its own copy.
func decoded(t *testing.T, n int) *socialv1alpha1.ScheduledPost {
	t.Helper()
	at := metav1.Now()
	p := &socialv1alpha1.ScheduledPost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "brand", Name: fmt.Sprintf("post-%d", n), UID: "u",
			Annotations:   map[string]string{socialv1alpha1.AnnotationRequestedBy: "alice"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "herald", Operation: metav1.ManagedFieldsOperationUpdate}}},
		Spec: socialv1alpha1.ScheduledPostSpec{Text: fmt.Sprintf("text %d", n), Profiles: []string{"main", "news"},
			Variants: []socialv1alpha1.PostVariant{{Profile: "news", Text: "short"}}},
		Status: socialv1alpha1.ScheduledPostStatus{Phase: socialv1alpha1.PostPublished,
			Deliveries: []socialv1alpha1.Delivery{{Profile: "main", Platform: "mastodon", Phase: socialv1alpha1.DeliveryPublished, PublishedAt: &at,
				ExternalID: fmt.Sprint(n), URL: fmt.Sprintf("https://example.social/@brand/%d", n)}},
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Published", Message: "published to main", LastTransitionTime: at}}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out := &socialv1alpha1.ScheduledPost{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestPostsShareRepeatedStrings(t *testing.T) {
	transform := Transform(NewInterner(100))
	a, b := decoded(t, 1), decoded(t, 2)
	if same(a.Namespace, b.Namespace) {
		t.Fatal("decoded posts already share their namespace; the test proves nothing")
	}
	want := a.DeepCopy()
	want.ManagedFields = nil
	for _, p := range []*socialv1alpha1.ScheduledPost{a, b} {
		if _, err := transform(p); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(a, want) {
		t.Fatalf("transform changed the post beyond managedFields:\n got %+v\nwant %+v", a, want)
	}
	shared := map[string][2]string{
		"namespace":        {a.Namespace, b.Namespace},
		"profile":          {a.Spec.Profiles[1], b.Spec.Profiles[1]},
		"variant profile":  {a.Spec.Variants[0].Profile, b.Spec.Variants[0].Profile},
		"phase":            {string(a.Status.Phase), string(b.Status.Phase)},
		"delivery phase":   {string(a.Status.Deliveries[0].Phase), string(b.Status.Deliveries[0].Phase)},
		"platform":         {string(a.Status.Deliveries[0].Platform), string(b.Status.Deliveries[0].Platform)},
		"condition reason": {a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason},
		"message":          {a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
		"annotation value": {a.Annotations[socialv1alpha1.AnnotationRequestedBy], b.Annotations[socialv1alpha1.AnnotationRequestedBy]},
	}
	for what, pair := range shared {
		if !same(pair[0], pair[1]) {
			t.Errorf("the two posts' %s %q are two copies", what, pair[0])
		}
	}
	for k := range a.Annotations {
		for k2 := range b.Annotations {
			if !same(k, k2) {
				t.Errorf("annotation key %q is two copies", k)
			}
		}
	}
	if cap(a.Status.Conditions) != len(a.Status.Conditions) || cap(a.Status.Deliveries) != len(a.Status.Deliveries) {
		t.Errorf("slices keep spare room: conditions %d of %d, deliveries %d of %d",
			len(a.Status.Conditions), cap(a.Status.Conditions), len(a.Status.Deliveries), cap(a.Status.Deliveries))
	}
	if same(a.Spec.Text, b.Spec.Text) || same(a.Status.Deliveries[0].URL, b.Status.Deliveries[0].URL) {
		t.Error("distinct values share storage")
	}
}

func TestInternerStaysBounded(t *testing.T) {
	in := NewInterner(10)
	for i := range 1000 {
		in.Intern(fmt.Sprintf("publishes at %d", i))
		if in.Len() > 10 {
			t.Fatalf("holds %d strings, more than its bound of 10", in.Len())
		}
	}
	// After starting afresh it shares again.
	x, y := in.Intern(string([]byte("ns-new"))), in.Intern(string([]byte("ns-new")))
	if !same(x, y) {
		t.Error("a string given twice after the interner filled up is two copies")
	}
	long := string(make([]byte, maxLen+1))
	if in.Intern(long); in.Len() > 10 || in.strings[long] != "" {
		t.Error("a long string was remembered")
	}
}

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestSmallMapsAreSharedWhole(t *testing.T) {
	transform := Transform(NewInterner(100))
	a, b, c := decoded(t, 1), decoded(t, 2), decoded(t, 3)
	c.Annotations["other"] = "value"
	big := decoded(t, 4)
	for i := range maxShared + 1 {
		big.Annotations[fmt.Sprintf("k%d", i)] = "v"
	}
	wantBig := maps.Clone(big.Annotations)
	for _, p := range []*socialv1alpha1.ScheduledPost{a, b, c, big} {
		if _, err := transform(p); err != nil {
			t.Fatal(err)
		}
	}
	if !sameMap(a.Annotations, b.Annotations) {
		t.Error("two posts with the same annotations hold two maps")
	}
	if sameMap(a.Annotations, c.Annotations) || len(c.Annotations) != 2 || c.Annotations["other"] != "value" {
		t.Errorf("a post with other annotations shares a map, or lost one: %v", c.Annotations)
	}
	if !maps.Equal(big.Annotations, wantBig) {
		t.Errorf("a map too large to share changed: %v", big.Annotations)
	}
	// What the cache hands out is a deep copy: changing it leaves the
	// shared map alone.
	copyOfA := a.DeepCopy()
	copyOfA.Annotations["added"] = "x"
	if _, ok := b.Annotations["added"]; ok {
		t.Error("changing a copy changed the shared map")
	}
}

func TestContentsOfTellsMapsApart(t *testing.T) {
	x, _ := contentsOf(map[string]string{"a": "bc"})
	y, _ := contentsOf(map[string]string{"ab": "c"})
	if x == y {
		t.Errorf("two different maps spell the same: %q", x)
	}
	if _, ok := contentsOf(map[string]string{"a": string(make([]byte, maxLen+1))}); ok {
		t.Error("a map with a long value is shared whole")
	}
}

func TestEqualDeliveryTimesShareOneTime(t *testing.T) {
	p := decoded(t, 1)
	d := &p.Status.Deliveries[0]
	started, tried := *d.PublishedAt, metav1.NewTime(d.PublishedAt.Add(time.Hour))
	d.AttemptStartedAt, d.LastAttemptAt = &started, &tried
	want := p.DeepCopy()
	want.ManagedFields = nil
	if _, err := Transform(NewInterner(100))(p); err != nil {
		t.Fatal(err)
	}
	if d.AttemptStartedAt != d.PublishedAt {
		t.Error("an attempt start equal to the publish time is a copy of its own")
	}
	if d.LastAttemptAt == d.PublishedAt {
		t.Error("a different last attempt time was replaced by the publish time")
	}
	if !equality.Semantic.DeepEqual(p, want) {
		t.Errorf("sharing times changed the post:\n got %+v\nwant %+v", p.Status.Deliveries, want.Status.Deliveries)
	}
}
