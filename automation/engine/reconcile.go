package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// reconciledKey is the meta key under which Reconcile keeps, per
// automation, the steps (key and type) that stored enrollments may stand
// at: those of every config that has run since the last reconcile that
// completed. A config change that removes none of them has nothing to
// check.
const reconciledKey = "engine/reconciled_steps"

// reconcilePage is how many enrollments Reconcile reads, and at most ends,
// in one transaction.
const reconcilePage = 500

// stepMap lists, per automation id, the steps enrollments may stand at,
// each as its key and type joined by a space, sorted.
type stepMap map[string][]string

// stepsOf lists the steps of set's automations.
func stepsOf(set *Set) stepMap {
	out := stepMap{}
	for _, a := range set.Automations() {
		steps := make([]string, 0, len(a.Steps))
		for _, st := range a.Steps {
			steps = append(steps, st.Key+" "+st.Type)
		}
		sort.Strings(steps)
		out[a.ID] = steps
	}
	return out
}

// merge returns the union of m and o.
func (m stepMap) merge(o stepMap) stepMap {
	out := stepMap{}
	for _, src := range []stepMap{m, o} {
		for id, steps := range src {
			all := append(slices.Clone(out[id]), steps...)
			sort.Strings(all)
			out[id] = slices.Compact(all)
		}
	}
	return out
}

// lost lists, sorted, the automations of m that cur removed or that lost
// a step m has (gone, or of another type now): the only ones whose
// enrollments cur may no longer continue.
func (m stepMap) lost(cur stepMap) []string {
	var out []string
	for id, steps := range m {
		now, kept := cur[id]
		if !kept {
			out = append(out, id)
			continue
		}
		for _, s := range steps {
			if _, found := slices.BinarySearch(now, s); !found {
				out = append(out, id)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Reconcile brings stored enrollments in line with the running config:
// ReconcileTo with it.
func (e *Engine) Reconcile(ctx context.Context) (int, error) {
	return e.ReconcileTo(ctx, e.Set(), nil)
}

// ReconcileTo brings stored enrollments in line with set, at start and
// after a reload: held timers of automations enabled again go back to
// firing (overdue ones at once), and an enrollment whose automation or
// current step no longer exists ends with that reason. It returns how many
// enrollments it ended.
//
// Its cost follows what changed, not what is stored. It first records, in
// one small transaction, set's steps among those enrollments may stand at
// (so that a crash from then on cannot lose track of them), and then calls
// live, when not nil: live makes set the running config, or lets traffic
// in, and ReconcileTo's caller may go on from there while it continues.
// Then it reads the active enrollments of only those automations that a
// config since the last completed reconcile had and set removed, or whose
// steps set removed or retyped, a page at a time, and ends the ones the
// running config cannot continue. A store that holds no record yet (the
// first start of this version on a data file) has each automation with
// active enrollments read. Reconciles run one at a time.
func (e *Engine) ReconcileTo(ctx context.Context, set *Set, live func()) (int, error) {
	e.reconcileMu.Lock()
	defer e.reconcileMu.Unlock()
	lived := false
	defer func() {
		if live != nil && !lived {
			live()
		}
	}()
	cur := stepsOf(set)
	var check []string // automations whose enrollments are read
	err := e.store.Update(ctx, func(tx Tx) error {
		check = nil
		var prev stepMap
		switch found, err := getMeta(tx, reconciledKey, &prev); {
		case err != nil:
			return err
		case !found:
			counts, err := tx.CountActive()
			if err != nil {
				return err
			}
			for id, n := range counts {
				if n > 0 {
					check = append(check, id)
				}
			}
			sort.Strings(check)
			return nil
		}
		check = prev.lost(cur)
		return putMeta(tx, reconciledKey, prev.merge(cur))
	})
	if err != nil {
		return 0, fmt.Errorf("engine: reconcile: record the config's steps: %w", err)
	}
	lived = true
	if live != nil {
		live()
	}

	run := e.Set()
	err = e.store.Update(ctx, func(tx Tx) error {
		for _, a := range run.Automations() {
			if on, err := Runs(tx, a); err != nil {
				return err
			} else if on {
				if _, err := tx.ReleaseTimers(a.ID); err != nil {
					return err
				}
			}
		}
		// Held timers of removed automations go back too: their
		// enrollments end below, and the timers, now stale, are dropped
		// when they fire instead of being kept forever.
		for _, id := range check {
			if run.Automation(id) == nil {
				if _, err := tx.ReleaseTimers(id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("engine: reconcile: release held timers: %w", err)
	}
	e.onQueue()
	e.onTimer()

	ended := 0
	for _, id := range check {
		n, err := e.reconcileAutomation(ctx, id)
		ended += n
		if err != nil {
			return ended, fmt.Errorf("engine: reconcile %q: %w", id, err)
		}
	}
	// Every enrollment at a step no config has now was ended: what
	// enrollments may stand at is the running config's steps (and set's,
	// should the running config be another).
	err = e.store.Update(ctx, func(tx Tx) error {
		return putMeta(tx, reconciledKey, cur.merge(stepsOf(e.Set())))
	})
	if err != nil {
		return ended, fmt.Errorf("engine: reconcile: record the config's steps: %w", err)
	}
	if ended > 0 {
		e.log.Info().Int("ended", ended).Msg("enrollments ended: their automation or step was removed from the config")
	}
	return ended, nil
}

// reconcileAutomation reads the active enrollments of automation a page at
// a time and ends those the running config cannot continue, a transaction
// a page. It returns how many it ended.
func (e *Engine) reconcileAutomation(ctx context.Context, automation string) (int, error) {
	ended, after := 0, ""
	for {
		var page []*Enrollment
		err := e.store.View(ctx, func(tx Tx) error {
			var err error
			page, err = tx.ActiveEnrollmentsOf(automation, after, reconcilePage)
			return err
		})
		if err != nil || len(page) == 0 {
			return ended, err
		}
		after = page[len(page)-1].ID
		var orphans []string
		set := e.Set()
		for _, en := range page {
			if orphanReason(set, en) != "" {
				orphans = append(orphans, en.ID)
			}
		}
		if len(orphans) > 0 {
			n, err := transactValue(ctx, e, nil, func(x *unitOfWork) (int, error) {
				n := 0
				for _, id := range orphans {
					// Read again: it may have moved since the page was read.
					en, err := x.enrollment(id)
					if err != nil {
						return 0, err
					}
					reason := orphanReason(x.set, en)
					if !en.Active() || reason == "" {
						continue
					}
					t, err := x.turn(en.Contact)
					if err != nil {
						return 0, err
					}
					t.adopt(en)
					if err := e.end(t, en, reason); err != nil {
						return 0, err
					}
					n++
				}
				return n, nil
			})
			if err != nil {
				return ended, err
			}
			ended += n
		}
		if len(page) < reconcilePage {
			return ended, nil
		}
	}
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
