package inflight

import (
	"context"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestTrackerNamesWhatRuns(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	tr := New(clock)
	endFirst := tr.Begin("first")
	clock.SetTime(clock.Now().Add(2 * time.Second))
	endSecond := tr.Begin("second")
	clock.SetTime(clock.Now().Add(time.Second))
	if got, want := tr.Running(), []string{"first (for 3s)", "second (for 1s)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Running() = %q, want %q", got, want)
	}
	endFirst()
	endSecond()
	if got := tr.Running(); len(got) != 0 {
		t.Errorf("Running() after both ended = %q", got)
	}

	var inside []string
	r := tr.Reconciler("Workflow", reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		inside = tr.Running()
		return reconcile.Result{}, nil
	}))
	_, _ = r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "demo", Name: "weekly"}})
	if want := []string{"Workflow reconcile of demo/weekly (for 0s)"}; !reflect.DeepEqual(inside, want) {
		t.Errorf("during a reconcile Running() = %q, want %q", inside, want)
	}
	if got := tr.Running(); len(got) != 0 {
		t.Errorf("Running() after the reconcile = %q", got)
	}
}

func TestNilTrackerTracksNothing(t *testing.T) {
	var tr *Tracker
	tr.Begin("anything")()
	if tr.Running() != nil {
		t.Error("a nil tracker reports activities")
	}
	inner := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return reconcile.Result{}, nil })
	if got := tr.Reconciler("Kind", inner); reflect.ValueOf(got).Pointer() != reflect.ValueOf(inner).Pointer() {
		t.Error("a nil tracker wraps the reconciler")
	}
}
