package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// What the store counts as it writes, so that /metrics reads a few keys
// instead of every pending timer and active enrollment.
var (
	bCounts   = []byte("counts")   // countTimers, or countActive 0 automation → int64, big-endian
	bHandoffs = []byte("handoffs") // enrollment id → nil, while it stands at an open handoff
)

var (
	countTimers = []byte("timers")
	countActive = []byte("active")
)

// fillPercent is how full bbolt packs the pages of the buckets whose keys
// mostly grow (time-ordered ids, creation times, due times, an automation's
// enrollment ids): new keys go at the end, so the pages left behind stay
// nearly full instead of half (bbolt's default, 0.5, suits random
// inserts). Enrollments and timers keep a tenth of each page for values
// that grow when updated. Messages fill their pages: at about 900 bytes
// for an inbound text, 0.9 leaves room for three a page where four fit,
// and a message is updated (its send recorded) while its page is still
// the last one.
//
// The buckets keyed by phone number take keys in no order, where bbolt's
// 0.5 leaves each page split half empty; 0.9 leaves fewer, fuller pages,
// and so fewer splits in all (a split makes one page). Their values keep
// their size when rewritten (ids, or nothing), but for contacts, which a
// tenth of a page leaves room for.
var fillPercent = map[string]float64{
	string(bMessages):    1.0,
	string(bMsgCreated):  1.0,
	string(bEnrollments): 0.9,
	string(bByAuto):      0.95,
	string(bTimers):      0.9,
	string(bContacts):    0.9,
	string(bActive):      0.9,
	string(bByContact):   0.9,
	string(bContactMsgs): 0.9,
	string(bProviderIDs): 0.9,
}

// count adds d to the counter at k; a counter at zero is removed.
func (t *boltTx) count(k []byte, d int64) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.tx.Bucket(bCounts)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	if n += d; n <= 0 {
		return b.Delete(k)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return b.Put(k, v[:])
}

// counter reads the counter at k.
func (t *boltTx) counter(k []byte) int {
	if v := t.tx.Bucket(bCounts).Get(k); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	return 0
}

// PendingTimers returns how many timers are stored, held ones aside: a
// counter the store keeps, for keyway_timers_pending.
func (t *boltTx) PendingTimers() (int, error) { return t.counter(countTimers), nil }

// OpenHandoffCount returns how many enrollments stand at an open handoff
// (as engine.OpenHandoffs lists them),
// from their index, for keyway_handoffs_open.
func (t *boltTx) OpenHandoffCount() (int, error) {
	return t.tx.Bucket(bHandoffs).Stats().KeyN, nil
}

// indexCounts fills the counters and the handoff index of a data file
// written by a keyway from before them: once, when the counts bucket is
// created. It counts in memory and writes each counter once; it reads the
// keys of the timers and of the active index, and the enrollments in key
// order, decoding only those whose record names the handoff status.
func indexCounts(t *boltTx) error {
	timers := int64(0)
	if err := t.tx.Bucket(bTimers).ForEach(func(_, _ []byte) error { timers++; return nil }); err != nil {
		return err
	}
	active := map[string]int64{}
	err := t.tx.Bucket(bActive).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 {
			active[string(k[i+1:])]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	var handoffs [][]byte
	status := []byte(`"status":"` + engine.EnrollmentHandoff + `"`)
	err = t.tx.Bucket(bEnrollments).ForEach(func(k, v []byte) error {
		raw, err := plainValue(v)
		if err != nil {
			return fmt.Errorf("bolt: count open handoffs: enrollment %q: %w", k, err)
		}
		if !bytes.Contains(raw, status) {
			return nil
		}
		var e engine.Enrollment
		if err := engine.DecodeRecord(raw, &e); err != nil {
			return fmt.Errorf("bolt: count open handoffs: enrollment %q: %w", k, err)
		}
		if e.Status == engine.EnrollmentHandoff && e.Handoff != nil {
			handoffs = append(handoffs, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range handoffs {
		if err := t.mark(bHandoffs, id); err != nil {
			return err
		}
	}
	if err := t.count(countTimers, timers); err != nil {
		return err
	}
	for auto, n := range active {
		if err := t.count(key(string(countActive), auto), n); err != nil {
			return err
		}
	}
	return nil
}
