package ledger

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A ledger left by another way of splitting the work (Herald ran with
// another number of publishing shards, or with one leader before shards)
// holds claims and outcomes of posts that now belong to other shards. Each
// shard of the new count adopts the records of its own namespaces: it
// fences the old ledger so its holder, if it still runs, can claim nothing
// more, copies the records into its own ledger, and marks the old head with
// its shard. The last shard to do so deletes the old ledger.

// AnnotationAdopted on an old head says which shards of which count took
// their part of it: "4/0,2" is shards 0 and 2 of 4.
const AnnotationAdopted = "social.herald.dev/adopted-by"

// Heads lists the names of the ledger heads in namespace.
func Heads(ctx context.Context, r client.Reader, namespace string) ([]string, error) {
	var list corev1.ConfigMapList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{LabelPart: partHead}); err != nil {
		return nil, fmt.Errorf("listing the ledger heads in %s: %w", namespace, err)
	}
	names := make([]string, len(list.Items))
	for i := range list.Items {
		names[i] = list.Items[i].Name
	}
	slices.Sort(names)
	return names, nil
}

// Adopt takes shard index of count's part of this old ledger: it fences the
// ledger, naming identity as its holder, so a process still holding it can
// write it no more, and returns the records keep selects. A ledger already
// gone, or whose part this shard took before, yields none.
func (s *Store) Adopt(ctx context.Context, identity string, count, index int, keep func(Record) bool) ([]Record, error) {
	for range 5 {
		cm := &corev1.ConfigMap{}
		if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("reading the old ledger head %s/%s: %w", s.Namespace, s.Name, err)
		}
		if adopted(cm, count)[index] {
			return nil, nil
		}
		head := decodeHead(cm)
		all, err := s.readSegments(ctx, head.Segments)
		if err != nil {
			return nil, err
		}
		records := slices.DeleteFunc(all, func(r Record) bool { return !keep(r) })
		// The fence: the old holder's next head write meets another
		// holder and stops it; the head read above is the last it wrote.
		head.Holder, head.Epoch = "adopting:"+identity, head.Epoch+1
		encodeHead(cm, head)
		err = s.Client.Update(ctx, cm)
		if err == nil {
			return records, nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("fencing the old ledger head %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	return nil, fmt.Errorf("fencing the old ledger head %s/%s: conflicts kept coming", s.Namespace, s.Name)
}

// MarkAdopted records on the old head that shard index of count has its
// part in its own ledger, and deletes the old ledger once every shard of
// count has.
func (s *Store) MarkAdopted(ctx context.Context, count, index int) error {
	for range 5 {
		cm := &corev1.ConfigMap{}
		if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, cm); err != nil {
			return client.IgnoreNotFound(err)
		}
		done := adopted(cm, count)
		done[index] = true
		if len(done) == count {
			for _, name := range decodeHead(cm).Segments {
				seg := &corev1.ConfigMap{}
				seg.Namespace, seg.Name = s.Namespace, name
				if err := client.IgnoreNotFound(s.Client.Delete(ctx, seg)); err != nil {
					return fmt.Errorf("deleting old ledger segment %s: %w", name, err)
				}
			}
			s.collect(ctx, nil)
			err := s.Client.Delete(ctx, cm, client.Preconditions{ResourceVersion: &cm.ResourceVersion})
			if err == nil || apierrors.IsNotFound(err) {
				return nil
			}
			if !apierrors.IsConflict(err) {
				return fmt.Errorf("deleting the old ledger head %s/%s: %w", s.Namespace, s.Name, err)
			}
			continue
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[AnnotationAdopted] = adoptedValue(count, done)
		err := s.Client.Update(ctx, cm)
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("marking the old ledger head %s/%s adopted: %w", s.Namespace, s.Name, err)
		}
	}
	return fmt.Errorf("marking the old ledger head %s/%s adopted: conflicts kept coming", s.Namespace, s.Name)
}

// adopted reads which shards of count took their part of the ledger cm
// heads; marks made under another count do not count.
func adopted(cm *corev1.ConfigMap, count int) map[int]bool {
	done := map[int]bool{}
	n, shards, ok := strings.Cut(cm.Annotations[AnnotationAdopted], "/")
	if !ok || n != strconv.Itoa(count) {
		return done
	}
	for _, f := range strings.Split(shards, ",") {
		if i, err := strconv.Atoi(f); err == nil && i >= 0 && i < count {
			done[i] = true
		}
	}
	return done
}

func adoptedValue(count int, done map[int]bool) string {
	var shards []string
	for i := range count {
		if done[i] {
			shards = append(shards, strconv.Itoa(i))
		}
	}
	return strconv.Itoa(count) + "/" + strings.Join(shards, ",")
}
