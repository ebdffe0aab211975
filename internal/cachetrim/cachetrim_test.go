package cachetrim

import (
	"encoding/json"
	"fmt"
	"testing"
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
