package engine

import (
	"context"
	"time"
)

// unitOfWork is the engine's work inside one store transaction (tx, a
// Tx): the turns opened in it, one per contact, and what is to happen once
// it commits. Every change to an enrollment or a contact goes through
// Engine.transact, in the manner of mailroom's hooks: work inside the
// transaction is collected on the unitOfWork (pre-commit: each turn's
// contact is written), work after it as post-commit hooks (wake the
// workers, tell the tracer, start step I/O), so that no caller can forget
// a part.
type unitOfWork struct {
	e   *Engine
	tx  TurnTx
	set *Set
	// now is the time the transaction acts at; a caller acting for a due
	// timer sets it before it opens a turn.
	now   time.Time
	turns map[string]*turn
	order []*turn
	// events collects trace events, told once the transaction commits;
	// nil when nobody traces.
	events *[]TraceEvent
	// wake is set when an outbound message was queued; wakeTimers when a
	// timer was set to fall due within TimerSoon.
	wake, wakeTimers bool
	// wakeEvents is set when an event was stored.
	wakeEvents bool
	after      []func()
	// by is the person the work is done for (WithActor), "" for the
	// engine's own work: it is recorded on what the work writes.
	by string
	// toldClosed holds the staff numbers told in this work that a handoff
	// closed (tellHandoffClosed).
	toldClosed map[string]bool
}

// turn returns the turn of the contact with phone, opening it (the
// contact loaded, or created on first contact) on first use. A contact has
// one turn per transaction, so that two timers of one contact in one batch
// see, and keep, each other's changes.
func (x *unitOfWork) turn(phone string) (*turn, error) {
	if t, ok := x.turns[phone]; ok {
		return t, nil
	}
	c, err := x.tx.Contact(phone)
	switch {
	case isNotFound(err):
		c = &Contact{Phone: phone, CreatedAt: x.now}
	case err != nil:
		return nil, err
	}
	t := &turn{e: x.e, x: x, tx: x.tx, set: x.set, now: x.now, contact: c, enrollments: map[string]*Enrollment{}}
	x.turns[phone] = t
	x.order = append(x.order, t)
	return t, nil
}

// enrollment returns the enrollment with id as the transaction sees it:
// the value a turn changed and has yet to store, else the stored one.
func (x *unitOfWork) enrollment(id string) (*Enrollment, error) {
	for _, t := range x.order {
		if i, ok := t.changedByID[id]; ok {
			return t.changed[i], nil
		}
	}
	return x.tx.Enrollment(id)
}

// onCommit adds f to the hooks that run once the transaction has committed.
func (x *unitOfWork) onCommit(f func()) { x.after = append(x.after, f) }

// transact is transactValue under the running config, for work that hands
// back nothing but its error.
func (e *Engine) transact(ctx context.Context, fn func(x *unitOfWork) error) error {
	_, err := transactValue(ctx, e, nil, func(x *unitOfWork) (struct{}, error) { return struct{}{}, fn(x) })
	return err
}

// transactValue runs fn in one durable store transaction of e under set (nil:
// the running config) and returns what fn returned. Before the commit
// every turn's enrollments (each once, as the turn left it) and contact
// are stored; after it the trace events are told, the outbox and the
// timers are woken if anything was queued or a timer set, and the hooks fn
// added run, in order. The store may run fn more than once (group commit,
// a retry after a conflict), each time on a fresh unitOfWork: fn hands its
// result back rather than writing it to variables outside, so that only
// the run that committed counts. When it fails it returns the error and
// what fn returned in its last run (the zero T if fn never ran), so that
// a caller can tell what it tried.
func transactValue[T any](ctx context.Context, e *Engine, set *Set, fn func(x *unitOfWork) (T, error)) (T, error) {
	var x *unitOfWork
	var res T
	err := e.store.Update(ctx, func(tx Tx) error {
		x = e.work(ctx, tx, set)
		var err error
		if res, err = fn(x); err != nil {
			return err
		}
		return x.store()
	})
	if err != nil {
		return res, err
	}
	x.committed()
	return res, nil
}

// work opens a unit of work of e in tx under set (nil: the running
// config), acting now and for the person ctx names.
func (e *Engine) work(ctx context.Context, tx TurnTx, set *Set) *unitOfWork {
	if set == nil {
		set = e.Set()
	}
	x := &unitOfWork{e: e, tx: tx, set: set, now: e.clock.Now(), turns: map[string]*turn{}, by: ActorOf(ctx)}
	if e.trace != nil {
		x.events = new([]TraceEvent)
	}
	return x
}

// store writes, before the commit, what the unit of work's turns changed:
// each turn's enrollments (each once, as the turn left it) and contact.
func (x *unitOfWork) store() error {
	for _, t := range x.order {
		if err := t.flush(); err != nil {
			return err
		}
		t.contact.UpdatedAt = t.now
		if err := x.tx.PutContact(t.contact); err != nil {
			return err
		}
	}
	return nil
}

// committed does what follows the commit of the unit of work's
// transaction: the trace events are told, the outbox is woken if anything
// was queued and the timer loop if a timer falls due soon, the events
// worker if an event was stored, and the hooks added run, in order.
func (x *unitOfWork) committed() {
	e := x.e
	if x.events != nil {
		for _, ev := range *x.events {
			e.trace(ev)
		}
	}
	if x.wake {
		e.onQueue()
	}
	if x.wakeTimers {
		e.onTimer()
	}
	if x.wakeEvents {
		e.onEvents()
	}
	for _, f := range x.after {
		f()
	}
}
