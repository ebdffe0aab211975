package ledger

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestAnOldLedgerIsAdoptedShardByShardThenDeleted(t *testing.T) {
	ctx := context.Background()
	old := store(t)
	if _, _, err := old.Acquire(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	inA, inB := claim(1), claim(2)
	inA.Namespace, inB.Namespace = "brand-a", "brand-b"
	if _, err := old.Append(ctx, []Record{inA, inB}, inB.Due, nil); err != nil {
		t.Fatal(err)
	}
	heads, err := Heads(ctx, direct, old.Namespace)
	if err != nil || len(heads) != 1 || heads[0] != old.Name {
		t.Fatalf("heads = %v, %v; want [%s]", heads, err, old.Name)
	}

	// Shard 0 of 2 holds brand-a, shard 1 brand-b.
	shardOf := map[string]int{"brand-a": 0, "brand-b": 1}
	part := func(i int) func(Record) bool { return func(r Record) bool { return shardOf[r.Namespace] == i } }
	adopter := &Store{Client: direct, Reader: direct, Namespace: old.Namespace, Name: old.Name}
	recs, err := adopter.Adopt(ctx, "new-0", 2, 0, part(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Key() != inA.Key() {
		t.Fatalf("shard 0 adopted %+v, want only brand-a's claim", recs)
	}
	if _, err := old.Append(ctx, []Record{claim(3)}, claim(3).Due, nil); !errors.Is(err, ErrDeposed) {
		t.Fatalf("the old holder's write after an adoption: %v, want ErrDeposed", err)
	}
	// Until shard 0 marks its part taken, adopting again yields it again
	// (a crash between the copy and the mark loses nothing).
	if again, err := adopter.Adopt(ctx, "new-0b", 2, 0, part(0)); err != nil || len(again) != 1 {
		t.Fatalf("adopting again before the mark: %+v, %v", again, err)
	}
	if err := adopter.MarkAdopted(ctx, 2, 0); err != nil {
		t.Fatal(err)
	}
	if again, err := adopter.Adopt(ctx, "new-0c", 2, 0, part(0)); err != nil || len(again) != 0 {
		t.Fatalf("adopting a part already taken: %+v, %v", again, err)
	}
	// A mark made under another count does not count for this one.
	if recs, err := adopter.Adopt(ctx, "other", 3, 0, func(Record) bool { return true }); err != nil || len(recs) != 2 {
		t.Fatalf("shard 0 of 3 adopted %+v, %v; want both records", recs, err)
	}
	head := &corev1.ConfigMap{}
	if err := direct.Get(ctx, client.ObjectKey{Namespace: old.Namespace, Name: old.Name}, head); err != nil {
		t.Fatalf("the old head is gone before every shard took its part: %v", err)
	}

	if recs, err := adopter.Adopt(ctx, "new-1", 2, 1, part(1)); err != nil || len(recs) != 1 || recs[0].Key() != inB.Key() {
		t.Fatalf("shard 1 adopted %+v, %v; want only brand-b's claim", recs, err)
	}
	if err := adopter.MarkAdopted(ctx, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := direct.Get(ctx, client.ObjectKey{Namespace: old.Namespace, Name: old.Name}, head); !apierrors.IsNotFound(err) {
		t.Fatalf("the old head after every shard took its part: %v, want it deleted", err)
	}
	var segs corev1.ConfigMapList
	if err := direct.List(ctx, &segs, client.InNamespace(old.Namespace), client.MatchingLabels{LabelPart: partSeg}); err != nil {
		t.Fatal(err)
	}
	if len(segs.Items) != 0 {
		t.Errorf("%d segments of the old ledger left", len(segs.Items))
	}
	if recs, err := adopter.Adopt(ctx, "late", 2, 1, part(1)); err != nil || len(recs) != 0 {
		t.Errorf("adopting a deleted ledger: %+v, %v; want nothing", recs, err)
	}
}

func TestAdoptedValueRoundTrips(t *testing.T) {
	cm := &corev1.ConfigMap{}
	cm.Annotations = map[string]string{AnnotationAdopted: adoptedValue(4, map[int]bool{0: true, 2: true})}
	if got := cm.Annotations[AnnotationAdopted]; got != "4/0,2" {
		t.Errorf("value = %q, want 4/0,2", got)
	}
	if done := adopted(cm, 4); len(done) != 2 || !done[0] || !done[2] {
		t.Errorf("read back %v", done)
	}
	cm.Annotations[AnnotationAdopted] = "4/0,9,x"
	if done := adopted(cm, 4); len(done) != 1 || !done[0] {
		t.Errorf("out-of-range and malformed shards were read: %v", done)
	}
}
