package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// timerBatch is how many due timers one transaction fires.
const timerBatch = 256

// IOLease is how long a step's I/O may take before its timer fires again:
// an I/O timer is moved this far ahead when its Perform starts, so that a
// crash mid-call retries it after restart.
const IOLease = time.Minute

// maxIO bounds the step I/O calls (HTTP) under way at once, so that a
// schedule starting thousands of enrollments does not flood a CRM or run
// out of sockets.
const maxIO = 32

// ioRuns tracks the I/O performs under way, by enrollment and epoch.
type ioRuns struct {
	mu  sync.Mutex
	wg  sync.WaitGroup
	on  map[string]bool
	sem chan struct{}
}

// FireDue fires every timer due now, in batches of one transaction each:
// waits end, reply timeouts take their branch, expiries end enrollments,
// and I/O steps start their Perform in the background. A timer whose
// enrollment has moved on does nothing; a timer of a paused automation is
// held until the automation is enabled again. A timer is deleted in the
// transaction that commits its effects, so it fires once even across a
// crash. A batch that fails is fired again a timer at a time, and a timer
// that fails on its own (its step, not the store) ends its enrollment with
// the fault as reason, so that one bad timer never holds back the others;
// a timer that fails because the store cannot commit stays, to fire at a
// later call. It returns how many timers it fired.
func (e *Engine) FireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := e.clock.Now()
		if due, err := e.anyDue(ctx, now); err != nil || !due {
			return total, err
		}
		n, _, err := e.fireBatch(ctx, now, timerBatch)
		if err != nil {
			if ctx.Err() != nil {
				return total, fmt.Errorf("engine: fire timers: %w", err)
			}
			e.log.Warn().Err(err).Msg("a batch of timers failed; firing them one at a time")
			n, err = e.fireOneByOne(ctx, now, timerBatch)
			if err != nil {
				return total + n, fmt.Errorf("engine: fire timers: %w", err)
			}
		}
		total += n
		if n < timerBatch {
			return total, nil
		}
	}
}

// anyDue reports whether a timer is due at now, in a read-only transaction:
// the idle tick, once a second, costs no write and no fsync.
func (e *Engine) anyDue(ctx context.Context, now time.Time) (bool, error) {
	due := false
	err := e.store.View(ctx, func(tx Tx) error {
		ts, err := tx.DueTimers(now, 1)
		due = len(ts) > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("engine: fire timers: %w", err)
	}
	return due, nil
}

// fireBatch fires up to limit timers due at now in one transaction; the
// I/O timers among them start their Perform once it has committed. It
// returns how many it took and, when it fails, the timers it tried.
func (e *Engine) fireBatch(ctx context.Context, now time.Time, limit int) (int, []Timer, error) {
	due, err := transactValue(ctx, e, nil, func(x *unitOfWork) ([]Timer, error) {
		x.now = now
		due, err := x.tx.DueTimers(now, limit)
		if err != nil {
			return nil, err
		}
		for _, tm := range due {
			if err := x.tx.DeleteTimer(tm); err != nil {
				return due, err
			}
			if err := e.fire(ctx, x, tm); err != nil {
				return due, &timerFault{enrollment: tm.Enrollment, err: err}
			}
		}
		return due, nil
	})
	if err != nil {
		return 0, due, err
	}
	return len(due), nil, nil
}

// fireOneByOne fires up to limit timers due at now, one per transaction. A
// timer that fails on its own is taken out: its enrollment ends with the
// fault recorded. On a storage fault it stops, leaving the timer. It
// returns how many timers it took.
func (e *Engine) fireOneByOne(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for total < limit {
		n, tried, err := e.fireBatch(ctx, now, 1)
		if err != nil {
			if ctx.Err() != nil || len(tried) != 1 || !e.timerAtFault(ctx, err) {
				// A storage fault: the timer stays, for the next tick.
				return total, err
			}
			if qerr := e.quarantine(ctx, tried[0], now, err); qerr != nil {
				return total, fmt.Errorf("%w; and taking the timer out failed: %w", err, qerr)
			}
			n = 1
		}
		if n == 0 {
			return total, nil
		}
		total += n
	}
	return total, nil
}

// timerFault is an error of firing one timer (its step, or what the step
// read or wrote), as opposed to the store's failing to commit.
type timerFault struct {
	enrollment string
	err        error
}

func (f *timerFault) Error() string {
	return fmt.Sprintf("fire timer of enrollment %s: %v", f.enrollment, f.err)
}

func (f *timerFault) Unwrap() error { return f.err }

// timerAtFault reports whether err, the failure of firing one timer alone,
// is the timer's own fault, so that taking it out is right: the firing
// itself failed (not the commit after it) while the store says it can
// commit. A storage fault (the commit failed, a full disk, the store
// unavailable) is no fault of the timer: it is left to fire once the
// store is back, or its reminder would be lost for good.
func (e *Engine) timerAtFault(ctx context.Context, err error) bool {
	var f *timerFault
	if !errors.As(err, &f) {
		return false
	}
	if herr := e.store.Healthy(ctx); herr != nil {
		e.log.Warn().Err(herr).Msg("a timer failed to fire while the store cannot commit; it stays for the next tick")
		return false
	}
	return true
}

// quarantine takes out tm, a timer due at now that failed to fire with
// fault: it is deleted and, if it is still its enrollment's, the
// enrollment ends with the fault as reason.
func (e *Engine) quarantine(ctx context.Context, tm Timer, now time.Time, fault error) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		x.now = now
		if err := x.tx.DeleteTimer(tm); err != nil {
			return err
		}
		en, err := x.enrollment(tm.Enrollment)
		if err != nil {
			// Gone or unreadable: taking the timer out is all there is to do.
			return nil
		}
		if !en.Active() || en.Epoch != tm.Epoch {
			return nil
		}
		t, err := x.turn(en.Contact)
		if err != nil {
			return err
		}
		t.adopt(en)
		en.WaitUntil = nil // the timer is already deleted
		return e.end(t, en, "ended by an engine fault at its timer: "+fault.Error())
	})
	if err != nil {
		return err
	}
	e.log.Error().Err(fault).Str("enrollment", tm.Enrollment).Str("automation", tm.Automation).
		Msg("a timer failed to fire; it was taken out and its enrollment ended")
	return nil
}

// fire handles one due timer inside x, whose now is the time it fires at.
// An I/O timer is stored again with a lease and its Perform starts once
// the transaction has committed.
func (e *Engine) fire(ctx context.Context, x *unitOfWork, tm Timer) error {
	en, err := x.enrollment(tm.Enrollment)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !en.Active() || en.Epoch != tm.Epoch {
		return nil // stale: the enrollment moved on
	}
	a := x.set.Automation(en.Automation)
	if a != nil {
		if on, err := Runs(x.tx, a); err != nil {
			return err
		} else if !on {
			return x.tx.HoldTimer(tm)
		}
	}
	t, err := x.turn(en.Contact)
	if err != nil {
		return err
	}
	t.steps = 0 // the step limit counts per timer
	t.adopt(en)
	if a == nil {
		en.WaitUntil = nil
		return e.end(t, en, fmt.Sprintf("automation %q no longer exists", en.Automation))
	}
	switch tm.Kind {
	case TimerIO:
		lease := tm
		lease.Due = x.now.Add(IOLease)
		en.WaitUntil, en.TimerKind = &lease.Due, lease.Kind
		if err := x.tx.PutTimer(lease); err != nil {
			return err
		}
		x.onCommit(func() { e.startIO(ctx, tm) })
		t.put(en)
		return nil
	case TimerExpire:
		en.WaitUntil = nil
		return e.end(t, en, "expired: no reply within expire_after")
	default:
		en.WaitUntil = nil // the timer is already deleted
		return e.resume(ctx, t.run(a, en), Event{Kind: EventTimer, Timer: &tm})
	}
}

// startIO runs the Perform of the step an I/O timer points at, outside
// any transaction, then resumes the step with the result.
func (e *Engine) startIO(ctx context.Context, tm Timer) {
	key := fmt.Sprintf("%s/%d", tm.Enrollment, tm.Epoch)
	e.io.mu.Lock()
	if e.io.on == nil {
		e.io.on = map[string]bool{}
	}
	if e.io.on[key] {
		e.io.mu.Unlock()
		return
	}
	e.io.on[key] = true
	e.io.wg.Add(1)
	e.io.mu.Unlock()
	go func() {
		defer func() {
			e.io.mu.Lock()
			delete(e.io.on, key)
			e.io.mu.Unlock()
			e.io.wg.Done()
		}()
		if err := e.performIO(ctx, tm); err != nil {
			e.log.Error().Err(err).Str("enrollment", tm.Enrollment).Msg("step I/O")
		}
	}()
}

// WaitIO waits for the I/O performs under way to finish.
func (e *Engine) WaitIO() { e.io.wg.Wait() }

// performIO performs the I/O of the step an I/O timer points at, outside
// any transaction, then resumes the step with the result if the enrollment
// is still where it was. An enrollment whose step can no longer perform
// (removed, or changed type by a reload) ends instead of being leased
// again; one whose automation was paused meanwhile holds its timer, so
// the call is made again once it is enabled.
func (e *Engine) performIO(ctx context.Context, tm Timer) error {
	var r *RunView
	var perf Performer
	stuck := ""
	err := e.store.View(ctx, func(tx Tx) error {
		r, perf, stuck = nil, nil, ""
		en, err := tx.Enrollment(tm.Enrollment)
		if err != nil || !en.Active() || en.Epoch != tm.Epoch {
			return err
		}
		set := e.Set()
		a := set.Automation(en.Automation)
		if a == nil {
			stuck = fmt.Sprintf("automation %q was removed from the config", en.Automation)
			return nil
		}
		st, ok := a.step(en.Step, en.StepType)
		if ok {
			perf, ok = st.Step.(Performer)
		}
		if !ok {
			stuck = fmt.Sprintf("step %s can no longer call out (removed or changed type)", en.Step)
			return nil
		}
		c, err := tx.Contact(en.Contact)
		if err != nil {
			return err
		}
		var trigger *Message
		if en.Trigger != "" {
			if m, err := tx.Message(en.Trigger); err == nil {
				trigger = m
			}
		}
		r = &RunView{Now: e.clock.Now(), Set: set, Automation: a, Enrollment: en, Contact: c, Message: trigger, Step: st}
		return nil
	})
	if err != nil || (perf == nil && stuck == "") {
		return err
	}
	var result map[string]any
	var perr error
	if perf != nil {
		e.io.sem <- struct{}{} // bound the calls under way at once
		pctx, cancel := context.WithTimeout(ctx, IOLease-5*time.Second)
		result, perr = perf.Perform(pctx, r)
		cancel()
		<-e.io.sem
		if ctx.Err() != nil {
			return nil // shutting down: the lease timer retries after restart
		}
	}
	var trigger *Message
	if r != nil {
		trigger = r.Message
	}
	return e.transact(ctx, func(x *unitOfWork) error {
		en, err := x.enrollment(tm.Enrollment)
		if err != nil || !en.Active() || en.Epoch != tm.Epoch || en.Status != EnrollmentPending {
			return err
		}
		a := x.set.Automation(en.Automation)
		t, err := x.turn(en.Contact)
		if err != nil {
			return err
		}
		t.adopt(en)
		t.answering = en.Answering
		on := true
		if a != nil {
			if on, err = Runs(x.tx, a); err != nil {
				return err
			}
		}
		switch {
		case stuck != "":
			return e.end(t, en, stuck)
		case a == nil:
			return e.end(t, en, fmt.Sprintf("automation %q was removed from the config", en.Automation))
		case !on && en.WaitUntil != nil:
			// Paused while calling: hold still, and call again once enabled.
			return x.tx.HoldTimer(Timer{Due: *en.WaitUntil, Enrollment: en.ID, Automation: en.Automation, Epoch: en.Epoch, Kind: TimerIO})
		}
		run := t.run(a, en)
		run.Message = trigger
		return e.resume(ctx, run, Event{Kind: EventIO, Result: result, Err: perr})
	})
}
