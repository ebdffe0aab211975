package leader

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// memoryLock is a resourcelock.Interface that keeps the record in memory
// and fails when told to.
type memoryLock struct {
	record resourcelock.LeaderElectionRecord
	fail   bool
}

func (m *memoryLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r := m.record
	return &r, nil, nil
}
func (m *memoryLock) Create(_ context.Context, ler resourcelock.LeaderElectionRecord) error {
	return m.write(ler)
}
func (m *memoryLock) Update(_ context.Context, ler resourcelock.LeaderElectionRecord) error {
	return m.write(ler)
}
func (m *memoryLock) write(ler resourcelock.LeaderElectionRecord) error {
	if m.fail {
		return errors.New("the API server is unavailable")
	}
	m.record = ler
	return nil
}
func (m *memoryLock) RecordEvent(string) {}
func (m *memoryLock) Identity() string   { return "me" }
func (m *memoryLock) Describe() string   { return "memory" }

func TestLeadingOnlyWithinTheLeaseOfTheLastRenewal(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	inner := &memoryLock{}
	l := &Lock{Interface: inner, LeaseDuration: 15 * time.Second, Now: func() time.Time { return now }}
	g.Expect(l.Leading()).To(BeFalse(), "never acquired")

	g.Expect(l.Create(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"})).To(Succeed())
	g.Expect(l.Leading()).To(BeTrue())

	now = now.Add(13 * time.Second)
	g.Expect(l.Leading()).To(BeTrue(), "within the lease, less the margin")
	now = now.Add(time.Second)
	g.Expect(l.Leading()).To(BeFalse(), "a paused process resumes past its lease: another may lead")

	g.Expect(l.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"})).To(Succeed())
	g.Expect(l.Leading()).To(BeTrue(), "renewed")

	inner.fail = true
	now = now.Add(5 * time.Second)
	g.Expect(l.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"})).NotTo(Succeed())
	g.Expect(l.Leading()).To(BeTrue(), "a failed renewal keeps the earlier one's lease")
	now = now.Add(10 * time.Second)
	g.Expect(l.Leading()).To(BeFalse())

	inner.fail = false
	g.Expect(l.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: ""})).To(Succeed())
	g.Expect(l.Leading()).To(BeFalse(), "released")
}
