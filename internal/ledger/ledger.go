// Package ledger stores the claims of deliveries Herald is about to send,
// and the outcomes of those it sent, in a few objects written together
// instead of one status write per post before each platform call.
//
// The ledger is a head and its segments, ConfigMaps in Herald's own
// namespace. A segment is written once (immutable) with the records of one
// batch: claims of deliveries due in the next moment, outcomes of calls
// that finished, releases of claims not sent. The head names the segments
// that count, its holder and an epoch, and is written under its
// resourceVersion, so of two processes that believe they hold the ledger
// only the one whose write lands goes on: a segment the head does not name
// was never acted on. Segments are dropped once every record in them is
// written to its post's status.
package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrDeposed means another process holds the ledger now: nothing claimed
// since this process's last head write may be sent.
var ErrDeposed = errors.New("another process holds the publishing ledger")

// Labels on the ledger's ConfigMaps.
const (
	LabelPart = "social.herald.dev/ledger"
	partHead  = "head"
	partSeg   = "segment"
)

// Keys of the head's data.
const (
	keyHolder   = "holder"
	keyEpoch    = "epoch"
	keyHorizon  = "horizon"
	keySegments = "segments"
	keyRecords  = "records"
)

// maxSegmentBytes keeps a segment well inside the API server's 1.5 MiB
// request limit and a ConfigMap's 1 MiB.
const maxSegmentBytes = 512 << 10

// Kind is what a record says.
type Kind string

const (
	// Claim: the holder may send this attempt at its due time.
	Claim Kind = "c"
	// Outcome: the attempt was sent, and this is what the platform answered.
	Outcome Kind = "o"
	// Release: the attempt was claimed and not sent.
	Release Kind = "r"
)

// Record is one line of a segment. Claims carry what recovery needs to
// settle the attempt in the post's status; outcomes what the platform
// answered.
type Record struct {
	Kind      Kind      `json:"k"`
	Namespace string    `json:"ns"`
	Name      string    `json:"n"`
	UID       types.UID `json:"u"`
	Profile   string    `json:"p"`
	AttemptID string    `json:"a"`
	// Platform is the profile's platform when claimed.
	Platform string `json:"pl,omitempty"`
	// Due is the delivery's due time (claims).
	Due time.Time `json:"d,omitzero"`
	// SentAt is when the call began (outcomes).
	SentAt time.Time `json:"s,omitzero"`
	// ErrorKind is the kind of the call's error, empty when it published.
	ErrorKind string `json:"e,omitempty"`
	// Message is the call's error message.
	Message string `json:"m,omitempty"`
	// RetryAfter is the wait the platform asked for, in milliseconds.
	RetryAfter int64 `json:"ra,omitempty"`
	// ExternalID, URL and PublishedAt are what a published call returned.
	ExternalID  string    `json:"x,omitempty"`
	URL         string    `json:"url,omitempty"`
	PublishedAt time.Time `json:"pa,omitzero"`
}

// Key names the attempt a record is about.
func (r Record) Key() string { return AttemptKey(r.UID, r.Profile, r.AttemptID) }

// AttemptKey names one attempt of one delivery.
func AttemptKey(uid types.UID, profile, attemptID string) string {
	return string(uid) + "/" + profile + "/" + attemptID
}

// Head is what the head object says.
type Head struct {
	Holder   string
	Epoch    int64
	Horizon  time.Time
	Segments []string
}

// Store reads and writes one ledger. Reads go to the API server (Reader
// must not be a cache: the ledger is read only when a process takes it
// over, and must be read as it is).
type Store struct {
	Client    client.Client
	Reader    client.Reader
	Namespace string
	// Name is the head's name; segments are named after it.
	Name string

	head *corev1.ConfigMap
	seq  int
}

// Acquire makes identity the ledger's holder: it reads the head (creating
// it when there is none) and every segment it names, and writes the head
// with identity and the next epoch. It returns the records of the segments
// the head named, which the new holder settles before sending anything,
// and the head as the last holder left it.
func (s *Store) Acquire(ctx context.Context, identity string) (Head, []Record, error) {
	cm := &corev1.ConfigMap{}
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, cm)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Labels: map[string]string{LabelPart: partHead}}}
		if err := s.Client.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return Head{}, nil, fmt.Errorf("creating the ledger head %s/%s: %w", s.Namespace, s.Name, err)
		}
		if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
			return Head{}, nil, err
		}
	} else if err != nil {
		return Head{}, nil, fmt.Errorf("reading the ledger head %s/%s: %w", s.Namespace, s.Name, err)
	}
	head := decodeHead(cm)
	prior := head
	records, err := s.readSegments(ctx, head.Segments)
	if err != nil {
		return Head{}, nil, err
	}
	head.Holder, head.Epoch = identity, head.Epoch+1
	encodeHead(cm, head)
	if err := s.Client.Update(ctx, cm); err != nil {
		return Head{}, nil, fmt.Errorf("taking over the ledger head %s/%s: %w", s.Namespace, s.Name, err)
	}
	s.head, s.seq = cm, 0
	s.collect(ctx, head.Segments)
	return prior, records, nil
}

// readSegments reads the records of the named segments, in order.
func (s *Store) readSegments(ctx context.Context, names []string) ([]Record, error) {
	var records []Record
	for _, name := range names {
		seg := &corev1.ConfigMap{}
		if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, seg); err != nil {
			if apierrors.IsNotFound(err) {
				continue // dropped after the head was written without it
			}
			return nil, fmt.Errorf("reading ledger segment %s: %w", name, err)
		}
		recs, err := decodeRecords(seg.Data[keyRecords])
		if err != nil {
			return nil, fmt.Errorf("ledger segment %s: %w", name, err)
		}
		records = append(records, recs...)
	}
	return records, nil
}

// collect deletes segments of this ledger that its head does not name:
// left by a holder that died between writing a segment and the head.
func (s *Store) collect(ctx context.Context, named []string) {
	var list corev1.ConfigMapList
	if err := s.Reader.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingLabels{LabelPart: partSeg}); err != nil {
		return
	}
	for i := range list.Items {
		seg := &list.Items[i]
		if strings.HasPrefix(seg.Name, s.Name+"-") && !slices.Contains(named, seg.Name) {
			_ = client.IgnoreNotFound(s.Client.Delete(ctx, seg))
		}
	}
}

// Holding reports the head as this process last wrote it.
func (s *Store) Holding() Head {
	if s.head == nil {
		return Head{}
	}
	return decodeHead(s.head)
}

// Append writes records in new segments and names them in the head, with
// horizon, the latest due time claimed so far; the same head write stops
// naming the segments in drop (whose records are all settled; Delete
// removes the objects afterwards). Only once it returns nil do its claims
// count. ErrDeposed means another process took the ledger.
func (s *Store) Append(ctx context.Context, records []Record, horizon time.Time, drop []string) ([]string, error) {
	if s.head == nil {
		return nil, ErrDeposed
	}
	head := decodeHead(s.head)
	parts := chunks(records)
	names := make([]string, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, chunk := range parts {
		s.seq++
		names[i] = fmt.Sprintf("%s-%d-%d", s.Name, head.Epoch, s.seq)
		seg := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: names[i], Labels: map[string]string{LabelPart: partSeg}},
			Immutable:  ptrTrue(),
			Data:       map[string]string{keyRecords: chunk},
		}
		wg.Add(1)
		go func() { // a large batch's segments are written side by side
			defer wg.Done()
			if err := s.Client.Create(ctx, seg); err != nil && !apierrors.IsAlreadyExists(err) {
				errs[i] = fmt.Errorf("writing ledger segment %s: %w", seg.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	err := s.updateHead(ctx, func(h *Head) {
		h.Segments = slices.DeleteFunc(h.Segments, func(n string) bool { return slices.Contains(drop, n) })
		h.Segments = append(h.Segments, names...)
		if horizon.After(h.Horizon) {
			h.Horizon = horizon
		}
	})
	return names, err
}

// Drop stops naming segments whose records are all settled, then deletes
// them.
func (s *Store) Drop(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if _, err := s.Append(ctx, nil, time.Time{}, names); err != nil {
		return err
	}
	return s.Delete(ctx, names)
}

// Delete removes segment objects the head no longer names.
func (s *Store) Delete(ctx context.Context, names []string) error {
	var errs []error
	for _, name := range names {
		seg := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name}}
		if err := client.IgnoreNotFound(s.Client.Delete(ctx, seg)); err != nil {
			errs = append(errs, fmt.Errorf("deleting ledger segment %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// updateHead changes the head under its resourceVersion. A conflict is
// either a write of ours whose answer was lost (same holder and epoch:
// take the stored head and change it again) or a takeover (ErrDeposed).
func (s *Store) updateHead(ctx context.Context, change func(*Head)) error {
	for range 3 {
		cm := s.head.DeepCopy()
		h := decodeHead(cm)
		change(&h)
		encodeHead(cm, h)
		err := s.Client.Update(ctx, cm)
		if err == nil {
			s.head = cm
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("writing the ledger head %s/%s: %w", s.Namespace, s.Name, err)
		}
		stored := &corev1.ConfigMap{}
		if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(cm), stored); err != nil {
			return fmt.Errorf("reading the ledger head %s/%s: %w", s.Namespace, s.Name, err)
		}
		if sh, mine := decodeHead(stored), decodeHead(s.head); sh.Holder != mine.Holder || sh.Epoch != mine.Epoch {
			s.head = nil
			return ErrDeposed
		}
		s.head = stored
	}
	return fmt.Errorf("writing the ledger head %s/%s: conflicts kept coming", s.Namespace, s.Name)
}

func decodeHead(cm *corev1.ConfigMap) Head {
	h := Head{Holder: cm.Data[keyHolder]}
	h.Epoch, _ = strconv.ParseInt(cm.Data[keyEpoch], 10, 64)
	h.Horizon, _ = time.Parse(time.RFC3339Nano, cm.Data[keyHorizon])
	if s := cm.Data[keySegments]; s != "" {
		h.Segments = strings.Split(s, "\n")
	}
	return h
}

func encodeHead(cm *corev1.ConfigMap, h Head) {
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[keyHolder] = h.Holder
	cm.Data[keyEpoch] = strconv.FormatInt(h.Epoch, 10)
	cm.Data[keyHorizon] = ""
	if !h.Horizon.IsZero() {
		cm.Data[keyHorizon] = h.Horizon.UTC().Format(time.RFC3339Nano)
	}
	cm.Data[keySegments] = strings.Join(h.Segments, "\n")
}

// chunks encodes records as JSON lines, in segments of at most
// maxSegmentBytes.
func chunks(records []Record) []string {
	var out []string
	var b bytes.Buffer
	for _, r := range records {
		line, _ := json.Marshal(r) // a Record always encodes
		if b.Len() > 0 && b.Len()+len(line)+1 > maxSegmentBytes {
			out = append(out, b.String())
			b.Reset()
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func decodeRecords(data string) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxSegmentBytes)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("a record does not decode: %w", err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func ptrTrue() *bool { t := true; return &t }
