package bolt

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// The messages bucket sorts by id, and the engine's ids begin with their
// creation time: 16 lowercase hex digits of its nanoseconds since 1970
// (engine's idGen), so that for most messages the id order is the
// creation order. Such a message (createdInID) needs no entry in the
// creation-time index bMsgCreated: pruning finds it by walking the
// messages bucket from its first key. Only the others are indexed: ids
// from elsewhere, a message put again with another creation time, an id
// bumped past its creation time when two were made in one nanosecond.
// A data file from an earlier keyway indexes every message; those entries
// are honoured, and removed with their message.
//
// At 1,000,000 stored inbound texts this saves the index's 51 bytes a
// message, and one B+tree write per message stored.

// idTime reads the creation time an id begins with: its first 16 bytes,
// lowercase hex, as nanoseconds since 1970. ok is false for an id that
// does not begin so.
func idTime(id []byte) (ns int64, ok bool) {
	if len(id) < 16 {
		return 0, false
	}
	for _, c := range id[:16] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(id[:16]), 16, 64)
	if err != nil || n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// createdInID tells whether m's id begins with its creation time, to the
// nanosecond: then the messages bucket orders it by creation time, and it
// needs no creation-time index entry.
func createdInID(m *engine.Message) bool {
	n, ok := idTime([]byte(m.ID))
	return ok && time.Unix(0, n).Equal(m.CreatedAt)
}

// pruneCandidate is a message PruneMessages may remove.
type pruneCandidate struct {
	created time.Time
	id      string
}

// pruneCandidates returns the ids of up to limit messages created before
// the time given and not in the outbox, oldest first: the first limit of
// the creation-time index merged with the first limit of the messages whose
// id says their creation time.
func (t *boltTx) pruneCandidates(before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var cands []pruneCandidate
	end := dueKey(before, "")
	found := 0
	cur := t.tx.Bucket(bMsgCreated).Cursor()
	for k, _ := cur.First(); k != nil && found < limit && bytes.Compare(k[:12], end) < 0; k, _ = cur.Next() {
		if t.tx.Bucket(bOutbox).Get(k[12:]) == nil {
			cands = append(cands, pruneCandidate{dueKeyTime(k), string(k[12:])})
			found++
		}
	}
	if before.After(time.Unix(0, 0)) {
		cut := int64(math.MaxInt64)
		if before.Before(time.Unix(0, math.MaxInt64)) {
			cut = before.UnixNano()
		}
		found = 0
		cur := t.tx.Bucket(bMessages).Cursor()
		for k, v := cur.First(); k != nil && found < limit; k, v = cur.Next() {
			n, ok := idTime(k)
			if !ok {
				continue // the index has it
			}
			if n >= cut {
				break // the ids after it are as new or newer
			}
			if t.tx.Bucket(bOutbox).Get(k) != nil {
				continue
			}
			var m engine.Message
			if err := decodeValue(v, &m); err != nil {
				continue // unreadable: never pruned, as before
			}
			m.ID = string(k)
			if !createdInID(&m) {
				continue // the index has it
			}
			cands = append(cands, pruneCandidate{m.CreatedAt, m.ID})
			found++
		}
	}
	slices.SortFunc(cands, func(a, b pruneCandidate) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strcmp(a.id, b.id)
	})
	ids := make([]string, 0, min(limit, len(cands)))
	for i, c := range cands {
		if i > 0 && c.id == cands[i-1].id {
			continue // in the index too, as a data file from an earlier keyway has it
		}
		if len(ids) == limit {
			break
		}
		ids = append(ids, c.id)
	}
	return ids, nil
}

func strcmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
