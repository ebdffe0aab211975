package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-dev/herald/internal/ledger"
	"github.com/herald-dev/herald/internal/shard"
)

// shardLedgerPrefix begins the name of every shard's ledger head. It is not
// DefaultLedgerName and a dash, the names of that ledger's segments, so
// neither ledger takes the other's segments for its own leftovers.
const shardLedgerPrefix = "herald-ledger-"

// ShardLedgerName names the ledger head of shard i of n: base (the one
// ledger of an install without shards) when n is 1, else one name per
// shard and count, so a ledger written under another count is never taken
// for the ledger of a shard that now covers other namespaces.
func ShardLedgerName(base string, i, n int) string {
	if n <= 1 {
		return base
	}
	return shardLedgerPrefix + strconv.Itoa(i) + "-of-" + strconv.Itoa(n)
}

// oldLedgers reports, for an install of n shards whose one-shard ledger is
// named base, whether a ledger head was left by another count: one of
// Herald's ledger names that no shard of n uses.
func oldLedgers(base string, n int) func(head string) bool {
	return func(head string) bool {
		if head != base && !strings.HasPrefix(head, shardLedgerPrefix) {
			return false
		}
		for i := range max(n, 1) {
			if head == ShardLedgerName(base, i, n) {
				return false
			}
		}
		return true
	}
}

// adoptOld takes this shard's part of every ledger another shard count
// left: the claims and outcomes of posts in this shard's namespaces,
// copied into this shard's own ledger before anything is sent, so that
// after the count changes a claim made under the old one is settled as
// any claim of an earlier holder is, never sent again as new. It returns
// the records taken.
func (d *Dispatcher) adoptOld(ctx context.Context) ([]ledger.Record, error) {
	if d.Old == nil {
		return nil, nil
	}
	heads, err := ledger.Heads(ctx, d.Ledger.Reader, d.Ledger.Namespace)
	if err != nil {
		return nil, err
	}
	count := max(d.Shards, 1)
	mine := func(r ledger.Record) bool { return shard.Of(r.Namespace, count) == d.Shard }
	var taken []ledger.Record
	var olds []*ledger.Store
	for _, name := range heads {
		if name == d.Ledger.Name || !d.Old(name) {
			continue
		}
		old := &ledger.Store{Client: d.Ledger.Client, Reader: d.Ledger.Reader, Namespace: d.Ledger.Namespace, Name: name}
		recs, err := old.Adopt(ctx, d.Identity, count, d.Shard, mine)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			ctrl.LoggerFrom(ctx).Info("adopting the records an earlier shard count left", "ledger", name, "into", d.Ledger.Name, "records", len(recs))
		}
		taken = append(taken, recs...)
		olds = append(olds, old)
	}
	if len(taken) > 0 {
		if _, err := d.Ledger.Append(ctx, taken, time.Time{}, nil); err != nil {
			return nil, fmt.Errorf("copying the records of earlier ledgers into %s: %w", d.Ledger.Name, err)
		}
	}
	for _, old := range olds {
		if err := old.MarkAdopted(ctx, count, d.Shard); err != nil {
			return nil, err
		}
	}
	return taken, nil
}
