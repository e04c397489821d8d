package mem

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// memState is one version of the whole store. A committed memState is
// never changed again.
type memState struct {
	contacts     memTree[[]byte]       // phone → Contact JSON
	groups       memTree[struct{}]     // group 0 phone
	tags         memTree[struct{}]     // tag 0 phone
	left         memTree[struct{}]     // group 0 phone, for the groups a contact left
	messages     memTree[[]byte]       // id → Message JSON
	msgCreated   memTree[struct{}]     // memTimerKey(CreatedAt, id)
	providerIDs  memTree[string]       // provider 0 provider id → message id
	contactMsgs  memTree[struct{}]     // phone 0 message id
	outbox       memTree[memSend]      // message id → its entry
	sendQueues   memTree[struct{}]     // queue 0 message id
	sendDue      memTree[struct{}]     // memTimerKey(claimable, message id), heads only
	sendLeases   memTree[struct{}]     // owner 0 message id
	enrollments  memTree[[]byte]       // id → Enrollment JSON
	active       memTree[string]       // phone 0 automation → enrollment id
	byAutomation memTree[struct{}]     // automation 0 enrollment id
	byContact    memTree[struct{}]     // phone 0 enrollment id
	timers       memTree[engine.Timer] // memTimerKey → Timer
	held         memTree[engine.Timer] // automation 0 memTimerKey → Timer
	meta         memTree[[]byte]       // key → value
	activity     memTree[int]          // activityKey → count (activity.go)
	events       memEvents             // events.go
	bcast        memBroadcasts         // broadcasts.go
}

// memTx implements Tx over a memState: the committed one for a View, a
// private copy-on-write version for an Update.
type memTx struct {
	st       *memState
	owner    uint64
	writable bool
	done     bool
}

func (tx *memTx) read() error {
	if tx.done {
		return errMemTxDone
	}
	return nil
}

func (tx *memTx) write() error {
	if tx.done {
		return errMemTxDone
	}
	if !tx.writable {
		return errMemReadOnly
	}
	return nil
}

// memJoin joins key parts with a zero byte, which sorts before any other.
func memJoin(a, b string) string { return a + "\x00" + b }

// memPrefixEnd is the least key greater than every key starting with
// prefix, a prefix that ends with the zero separator.
func memPrefixEnd(prefix string) string { return prefix[:len(prefix)-1] + "\x01" }

// memTimerKey orders timers by due instant, then enrollment id. Seconds
// (sign bit flipped) and nanoseconds keep every instant exact and ordered.
func memTimerKey(due time.Time, enrollment string) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(due.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(due.Nanosecond()))
	return string(b[:]) + enrollment
}

// memKeyTime reads the instant back from a memTimerKey.
func memKeyTime(k string) time.Time {
	sec := int64(binary.BigEndian.Uint64([]byte(k[:8])) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32([]byte(k[8:12])))).UTC()
}

func memLimit(limit, n int) bool { return limit > 0 && n >= limit }

func memEncode(v any, what string) ([]byte, error) {
	raw, err := engine.RecordJSON(v)
	if err != nil {
		return nil, fmt.Errorf("mem: encode %s: %w", what, err)
	}
	return raw, nil
}

func memDecode[T any](raw []byte, what string) (*T, error) {
	v := new(T)
	if err := engine.DecodeRecord(raw, v); err != nil {
		return nil, fmt.Errorf("mem: decode %s: %w", what, err)
	}
	return v, nil
}

// mark adds key to a set, leaving the tree alone if it is there already.
func (tx *memTx) mark(t *memTree[struct{}], key string) {
	if _, ok := t.get(key); !ok {
		t.set(tx.owner, key, struct{}{})
	}
}
