package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
)

// The ledger is tested against a real kube-apiserver: its promises are
// the API server's resourceVersion preconditions.
var direct client.Client

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	direct, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	code := 1
	if err == nil {
		code = m.Run()
	}
	_ = env.Stop()
	os.Exit(code)
}

var nsCount int

func store(t *testing.T) *Store {
	t.Helper()
	nsCount++
	ns := fmt.Sprintf("ledger-%d", nsCount)
	if err := direct.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return &Store{Client: direct, Reader: direct, Namespace: ns, Name: "ledger"}
}

func claim(i int) Record {
	return Record{Kind: Claim, Namespace: "posts", Name: fmt.Sprintf("p-%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
		Profile: "chat", AttemptID: "a1", Platform: "discord", Due: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

func TestTakeoverFencesTheOldHolder(t *testing.T) {
	ctx := context.Background()
	a := store(t)
	if _, recs, err := a.Acquire(ctx, "a"); err != nil || len(recs) != 0 {
		t.Fatalf("first acquire: %v, %d records", err, len(recs))
	}
	if _, err := a.Append(ctx, []Record{claim(1)}, claim(1).Due, nil); err != nil {
		t.Fatal(err)
	}

	b := &Store{Client: direct, Reader: direct, Namespace: a.Namespace, Name: a.Name}
	prior, recs, err := b.Acquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if prior.Holder != "a" || prior.Epoch != 1 {
		t.Errorf("prior head = %+v, want holder a at epoch 1", prior)
	}
	if len(recs) != 1 || recs[0].Key() != claim(1).Key() || !recs[0].Due.Equal(claim(1).Due) {
		t.Fatalf("the new holder read %+v, want a's claim", recs)
	}
	if _, err := a.Append(ctx, []Record{claim(2)}, claim(2).Due, nil); !errors.Is(err, ErrDeposed) {
		t.Fatalf("the old holder's write after a takeover: %v, want ErrDeposed", err)
	}
	// The old holder's segment, written before its head write failed,
	// does not count and is collected by the next takeover.
	c := &Store{Client: direct, Reader: direct, Namespace: a.Namespace, Name: a.Name}
	_, recs, err = c.Acquire(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Name == "p-2" {
			t.Errorf("a claim whose head write failed counts: %+v", r)
		}
	}
	var list corev1.ConfigMapList
	if err := direct.List(ctx, &list, client.InNamespace(a.Namespace), client.MatchingLabels{LabelPart: partSeg}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d segments left, want only the one the head names", len(list.Items))
	}
}

func TestALostAnswerIsAdoptedNotTakenForATakeover(t *testing.T) {
	ctx := context.Background()
	a := store(t)
	if _, _, err := a.Acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// The API server made a write whose answer a never saw: the stored
	// head moves on under the same holder and epoch.
	cm := a.head.DeepCopy()
	cm.Data[keySegments] = "ledger-1-9"
	if err := direct.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	names, err := a.Append(ctx, []Record{claim(1)}, claim(1).Due, nil)
	if err != nil {
		t.Fatalf("append after a lost answer: %v", err)
	}
	got := a.Holding().Segments
	if len(got) != 2 || got[0] != "ledger-1-9" || got[1] != names[0] {
		t.Errorf("head segments = %v, want the stored one kept and %v added", got, names)
	}
}

func TestLargeBatchesSplitIntoSegmentsTheAPIServerTakes(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	if _, _, err := s.Acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, 10000)
	for i := range recs {
		recs[i] = claim(i)
		recs[i].Message = strings.Repeat("x", 60) // a claim as long as real ones
	}
	names, err := s.Append(ctx, recs, recs[0].Due, nil)
	if err != nil {
		t.Fatalf("writing 10,000 claims: %v", err)
	}
	if len(names) < 2 {
		t.Errorf("10,000 claims in %d segment(s), want several below the size limit", len(names))
	}
	b := &Store{Client: direct, Reader: direct, Namespace: s.Namespace, Name: s.Name}
	_, back, err := b.Acquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(recs) {
		t.Fatalf("read back %d records, want %d", len(back), len(recs))
	}
	if err := b.Drop(ctx, names); err != nil {
		t.Fatal(err)
	}
	if segs := b.Holding().Segments; len(segs) != 0 {
		t.Errorf("head still names %v after the drop", segs)
	}
}

func TestARecordThatDoesNotDecodeIsAnError(t *testing.T) {
	if _, err := decodeRecords("{\"k\":\"c\"}\nnot json\n"); err == nil {
		t.Fatal("a corrupt segment decoded without error")
	}
}
