package automation

import (
	"context"
	"fmt"
)

// Reconcile brings stored enrollments in line with the running config, at
// start and after a reload: held timers of automations enabled again go
// back to firing (overdue ones at once), and an enrollment whose automation
// or current step no longer exists ends with that reason. It returns how
// many enrollments it ended.
func (e *Engine) Reconcile(ctx context.Context) (int, error) {
	set := e.Set()
	var active []*Enrollment
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		active, err = tx.Enrollments("", "", true, 0)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("automation: reconcile: %w", err)
	}
	ended := 0
	err = e.transact(ctx, set, func(x *txn) error {
		ended = 0
		tx := x.tx
		for _, a := range set.Automations() {
			if a.Enabled {
				if _, err := tx.ReleaseTimers(a.ID); err != nil {
					return err
				}
			}
		}
		// Held timers of removed automations go back too: their
		// enrollments end below, and the timers, now stale, are dropped
		// when they fire instead of being kept forever.
		removed := map[string]bool{}
		for _, en := range active {
			if set.Automation(en.Automation) == nil && !removed[en.Automation] {
				removed[en.Automation] = true
				if _, err := tx.ReleaseTimers(en.Automation); err != nil {
					return err
				}
			}
		}
		for _, stale := range active {
			en, err := tx.Enrollment(stale.ID)
			if err != nil {
				return err
			}
			reason := orphanReason(set, en)
			if !en.Active() || reason == "" {
				continue
			}
			t, err := x.turn(en.Contact)
			if err != nil {
				return err
			}
			t.adopt(en)
			if err := e.end(t, en, reason); err != nil {
				return err
			}
			ended++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("automation: reconcile: %w", err)
	}
	if ended > 0 {
		e.log.Info().Int("ended", ended).Msg("enrollments ended: their automation or step was removed from the config")
	}
	e.onQueue()
	return ended, nil
}

// orphanReason says why en can no longer go on under set, or "".
func orphanReason(set *Set, en *Enrollment) string {
	a := set.Automation(en.Automation)
	if a == nil {
		return fmt.Sprintf("automation %q was removed from the config", en.Automation)
	}
	if en.Status == EnrollmentRunning {
		return "" // between steps only inside a transaction; nothing to check
	}
	if _, ok := a.step(en.Step, en.StepType); !ok {
		if i, kept := a.byKey[en.Step]; kept {
			return fmt.Sprintf("step %s of automation %q changed type from %s to %s", en.Step, en.Automation, en.StepType, a.Steps[i].Type)
		}
		return fmt.Sprintf("step %s was removed from automation %q", en.Step, en.Automation)
	}
	return ""
}
