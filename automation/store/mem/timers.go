package mem

import (
	"errors"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// PutTimer implements Tx. A timer is keyed by its due instant and
// enrollment: putting one with the same key replaces it.
func (tx *memTx) PutTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	if t.Enrollment == "" {
		return errors.New("mem: put timer: no enrollment")
	}
	t.Due = t.Due.Round(0) // no monotonic reading, as if read back from disk
	tx.st.timers.set(tx.owner, memTimerKey(t.Due, t.Enrollment), t)
	return nil
}

// DeleteTimer implements Tx: it removes the pending timer with the same
// due instant and enrollment, whatever the other fields say. A held timer
// stays held.
func (tx *memTx) DeleteTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	tx.st.timers.del(tx.owner, memTimerKey(t.Due, t.Enrollment))
	return nil
}

// DueTimers implements Tx.
func (tx *memTx) DueTimers(now time.Time, limit int) ([]engine.Timer, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []engine.Timer
	tx.st.timers.ascend("", func(_ string, t engine.Timer) bool {
		if t.Due.After(now) || memLimit(limit, len(out)) {
			return false
		}
		out = append(out, t)
		return true
	})
	return out, nil
}

// HoldTimer implements Tx.
func (tx *memTx) HoldTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	if t.Enrollment == "" {
		return errors.New("mem: hold timer: no enrollment")
	}
	t.Due = t.Due.Round(0)
	k := memTimerKey(t.Due, t.Enrollment)
	tx.st.timers.del(tx.owner, k)
	tx.st.held.set(tx.owner, memJoin(t.Automation, k), t)
	return nil
}

// ReleaseTimers implements Tx.
func (tx *memTx) ReleaseTimers(automation string) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	prefix := memJoin(automation, "")
	var keys []string
	var timers []engine.Timer
	tx.st.held.ascend(prefix, func(k string, t engine.Timer) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		keys, timers = append(keys, k), append(timers, t)
		return true
	})
	for i, k := range keys {
		tx.st.held.del(tx.owner, k)
		tx.st.timers.set(tx.owner, k[len(prefix):], timers[i])
	}
	return len(keys), nil
}
