package mem

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// activityKey orders counts by hour (seconds, sign bit flipped), then kind
// and automation.
func activityKey(a engine.Activity) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(engine.ActivityHour(a.Hour).Unix())^(1<<63))
	return string(b[:]) + memJoin(string(a.Kind), a.Automation)
}

func activityHourKey(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(engine.ActivityHour(t).Unix())^(1<<63))
	return string(b[:])
}

// count adds the activity counts as to the store's.
func (tx *memTx) count(as []engine.Activity) {
	for _, a := range as {
		k := activityKey(a)
		n, _ := tx.st.activity.get(k)
		tx.st.activity.set(tx.owner, k, n+a.N)
	}
}

// Activity implements engine.ActivityStore.
func (tx *memTx) Activity(from, to time.Time) ([]engine.Activity, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	end := activityHourKey(to)
	var out []engine.Activity
	tx.st.activity.ascend(activityHourKey(from), func(k string, n int) bool {
		if k >= end {
			return false
		}
		sec := int64(binary.BigEndian.Uint64([]byte(k[:8])) ^ (1 << 63))
		kind, automation, _ := strings.Cut(k[8:], "\x00")
		if n != 0 {
			out = append(out, engine.Activity{Hour: time.Unix(sec, 0).UTC(), Kind: engine.ActivityKind(kind), Automation: automation, N: n})
		}
		return true
	})
	return out, nil
}
