package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// codecTimerV1 marks a pending timer's value in its own compact form. A
// timer's key (timerKey) holds its due time and its enrollment id already,
// so the value holds only the rest, in binary:
//
//	0x02, uvarint len(kind), kind, varint epoch, uvarint len(automation), automation[, due]
//
// where due (time.Time's MarshalBinary) follows only when the key's
// nanoseconds since 1970 cannot say it (an instant outside the years 1678
// to 2262). Values written by an earlier keyway (the whole Timer as JSON,
// compressed or not: codecS2v1 or '{') read as before. At 1,000,000
// pending waits this takes the timers from about 130 to about 60 bytes
// each.
const codecTimerV1 byte = 0x02

// encodeTimer encodes tm's value for its timerKey.
func encodeTimer(tm engine.Timer) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(tm.Kind)+len(tm.Automation))
	b = append(b, codecTimerV1)
	b = binary.AppendUvarint(b, uint64(len(tm.Kind)))
	b = append(b, tm.Kind...)
	b = binary.AppendVarint(b, int64(tm.Epoch))
	b = binary.AppendUvarint(b, uint64(len(tm.Automation)))
	b = append(b, tm.Automation...)
	if !time.Unix(0, tm.Due.UnixNano()).Equal(tm.Due) {
		due, err := tm.Due.MarshalBinary()
		if err == nil { // MarshalBinary fails only for zones off by seconds; the instant then comes from the key, as it sorts
			b = append(b, due...)
		}
	}
	return b
}

// decodeTimer decodes the timer stored at key k with value v, in either
// form.
func decodeTimer(k, v []byte) (engine.Timer, error) {
	var tm engine.Timer
	if len(v) == 0 || v[0] != codecTimerV1 {
		err := decodeValue(v, &tm) // as an earlier keyway wrote it
		return tm, err
	}
	if len(k) < 8 {
		return tm, fmt.Errorf("timer key of %d bytes", len(k))
	}
	tm.Due = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC()
	tm.Enrollment = string(k[8:])
	rest := v[1:]
	kind, rest, err := lengthPrefixed(rest)
	if err != nil {
		return tm, fmt.Errorf("timer kind: %w", err)
	}
	tm.Kind = engine.TimerKind(kind)
	epoch, n := binary.Varint(rest)
	if n <= 0 {
		return tm, errors.New("timer epoch: bad varint")
	}
	tm.Epoch, rest = int(epoch), rest[n:]
	auto, rest, err := lengthPrefixed(rest)
	if err != nil {
		return tm, fmt.Errorf("timer automation: %w", err)
	}
	tm.Automation = auto
	if len(rest) > 0 {
		if err := tm.Due.UnmarshalBinary(rest); err != nil {
			return tm, fmt.Errorf("timer due: %w", err)
		}
	}
	return tm, nil
}

// lengthPrefixed reads a uvarint length and that many bytes from b.
func lengthPrefixed(b []byte) (string, []byte, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, errors.New("bad length")
	}
	return string(b[n : n+int(l)]), b[n+int(l):], nil
}

func timerKey(due time.Time, enrollment string) []byte {
	k := make([]byte, 8, 8+len(enrollment))
	binary.BigEndian.PutUint64(k, uint64(due.UnixNano()))
	return append(k, enrollment...)
}

// PutTimer implements engine.Tx; it counts the timers (counts.go).
func (t *boltTx) PutTimer(tm engine.Timer) error {
	k := timerKey(tm.Due, tm.Enrollment)
	if t.writable && t.tx.Bucket(bTimers).Get(k) == nil {
		if err := t.count(countTimers, 1); err != nil {
			return err
		}
	}
	if !t.writable {
		return errReadOnly
	}
	return t.bucket(bTimers).Put(k, encodeTimer(tm))
}

// DeleteTimer implements engine.Tx.
func (t *boltTx) DeleteTimer(tm engine.Timer) error {
	k := timerKey(tm.Due, tm.Enrollment)
	if t.writable && t.tx.Bucket(bTimers).Get(k) != nil {
		if err := t.count(countTimers, -1); err != nil {
			return err
		}
	}
	return t.del(bTimers, k)
}

// DueTimers implements engine.Tx: a cursor from the earliest key,
// stopping at the first timer not yet due.
func (t *boltTx) DueTimers(now time.Time, limit int) ([]engine.Timer, error) {
	var out []engine.Timer
	end := uint64(now.UnixNano())
	cur := t.tx.Bucket(bTimers).Cursor()
	for k, v := cur.First(); k != nil && len(out) < limit; k, v = cur.Next() {
		if binary.BigEndian.Uint64(k[:8]) > end {
			break
		}
		tm, err := decodeTimer(k, v)
		if err != nil {
			return nil, fmt.Errorf("bolt: decode timer: %w", err)
		}
		out = append(out, tm)
	}
	return out, nil
}

// HoldTimer implements engine.Tx.
func (t *boltTx) HoldTimer(tm engine.Timer) error {
	if err := t.DeleteTimer(tm); err != nil {
		return err
	}
	return t.put(bHeld, append(key(tm.Automation, ""), timerKey(tm.Due, tm.Enrollment)...), tm)
}

// ReleaseTimers implements engine.Tx.
func (t *boltTx) ReleaseTimers(automationID string) (int, error) {
	prefix := key(automationID, "")
	cur := t.tx.Bucket(bHeld).Cursor()
	var keys [][]byte
	var timers []engine.Timer
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var tm engine.Timer
		if err := decodeValue(v, &tm); err != nil {
			return 0, fmt.Errorf("bolt: decode held timer: %w", err)
		}
		keys, timers = append(keys, bytes.Clone(k)), append(timers, tm)
	}
	for i, k := range keys {
		if err := t.del(bHeld, k); err != nil {
			return 0, err
		}
		if err := t.PutTimer(timers[i]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
