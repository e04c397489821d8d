package broadcast

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Batch is how many contacts one transaction enrolls: small enough that
// inbound messages keep flowing between batches and no commit grows with
// the broadcast.
const Batch = 200

// DefaultLease is how long a process holds a broadcast it enrolls without
// renewing: each batch renews it; after it another process takes over.
const DefaultLease = 15 * time.Second

// poll is how often the runner looks for a broadcast that fell due.
const poll = time.Second

// DefaultEndWithin is how long Cancel with end ends enrollments before it
// returns, when Options.EndWithin is zero.
const DefaultEndWithin = 10 * time.Second

// Options are what a Runner is built from.
type Options struct {
	// Owner names this process on the broadcasts it leases; processes that
	// share a store need names of their own.
	Owner string
	// Lease is DefaultLease when zero.
	Lease time.Duration
	// EndWithin bounds how long Cancel with end ends the broadcast's
	// enrollments before it returns (DefaultEndWithin when zero); Run ends
	// the rest.
	EndWithin time.Duration
	Logger    zerolog.Logger
	// InDone, if set, is called in the transaction that marks a broadcast
	// done, so that what it stores (an event for other systems) commits
	// with it; the transaction may run it more than once.
	InDone func(x engine.Enroller, b *Broadcast) error
	// OnDone, if set, is called once a broadcast this process enrolled is
	// done (its last batch committed).
	OnDone func(b *Broadcast)
}

// Runner starts broadcasts and enrolls their contacts, on one process of
// several that share a store: each broadcast is leased to the process that
// enrolls it.
type Runner struct {
	e    *engine.Engine
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	running map[string]bool // broadcasts this process is enrolling
}

// NewRunner returns a runner over the engine's store; Run enrolls what
// falls due.
func NewRunner(e *engine.Engine, o Options) *Runner {
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Owner == "" {
		o.Owner = "keyway"
	}
	if o.EndWithin <= 0 {
		o.EndWithin = DefaultEndWithin
	}
	return &Runner{e: e, o: o, wake: make(chan struct{}, 1), running: map[string]bool{}}
}

// Spec says what a broadcast starts: an automation for exactly one of a
// group, a tag or a list of contacts, at At (now when zero), each run
// beginning with Vars.
type Spec struct {
	Automation string
	Group      string
	Tag        string
	// Contacts are phones in E.164 (or "whatsapp:+E164" to reach one on
	// WhatsApp), each listed once; Invalid counts the ones given that were
	// no address, skipped as SkipInvalid.
	Contacts []string
	Invalid  int
	At       time.Time
	Vars     map[string]any
	// Source is SourceAPI when empty.
	Source string
	// By names who started it, when a person did.
	By string
}

// Start stores a new broadcast for spec and has it enrolled when At comes,
// by whichever process takes it first. It does not wait for enrolment:
// Get follows its progress. It returns an error wrapping
// ErrUnknownAutomation or ErrUnknownGroup for a spec that names what the
// running config does not have.
func (r *Runner) Start(ctx context.Context, spec Spec) (*Broadcast, error) {
	b, err := r.create(ctx, spec, false)
	if err != nil {
		return nil, err
	}
	r.Wake()
	return b, nil
}

// StartNow stores a new broadcast for spec, to start at once, and enrolls
// it in the caller before it returns (the manual start of the admin API,
// a schedule's tick), leased to this process. If ctx ends first, the
// broadcast goes on in the background, here or on another process.
func (r *Runner) StartNow(ctx context.Context, spec Spec) (*Broadcast, error) {
	spec.At = time.Time{}
	b, err := r.create(ctx, spec, true)
	if err != nil {
		return nil, err
	}
	defer r.release(b.ID)
	return r.drive(ctx, b)
}

// StartIn stores, in x's transaction, a new broadcast for spec (a group or
// a tag, to start at once), leased to this process, so that it is stored
// with what caused it (a schedule's tick); Drive enrolls it once the
// transaction has committed. The transaction may run more than once: use
// the broadcast of the run that committed.
func (r *Runner) StartIn(x engine.Enroller, spec Spec) (*Broadcast, error) {
	if spec.Contacts != nil || spec.Invalid > 0 {
		return nil, errors.New("broadcast: StartIn takes a group or a tag, not a list")
	}
	tx, ok := x.Tx().(Tx)
	if !ok {
		return nil, ErrNoStore
	}
	spec.At = time.Time{}
	b, err := r.record(spec, true)
	if err != nil {
		return nil, err
	}
	if err := r.refusal(b.Automation, func(a *engine.Automation) error { return engine.Refusal(x.Tx(), a) }); err != nil {
		return nil, err
	}
	if err := countAudience(tx, b); err != nil {
		return nil, fmt.Errorf("broadcast: %w", err)
	}
	if err := tx.PutBroadcast(b); err != nil {
		return nil, fmt.Errorf("broadcast: store %s: %w", b.ID, err)
	}
	return b, nil
}

// Drive enrolls broadcast id in the caller until it is done, unless this
// process enrolls it already; it returns the broadcast as it then stands.
func (r *Runner) Drive(ctx context.Context, id string) (*Broadcast, error) {
	if !r.take(id) {
		return r.Get(ctx, id)
	}
	defer r.release(id)
	b, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.drive(ctx, b)
}

func (r *Runner) create(ctx context.Context, spec Spec, leased bool) (*Broadcast, error) {
	b, err := r.record(spec, leased)
	if err != nil {
		return nil, err
	}
	if err := r.refusal(b.Automation, func(a *engine.Automation) error { return r.e.Refusal(ctx, a) }); err != nil {
		return nil, err
	}
	if leased {
		r.take(b.ID) // before it is stored, so that Run does not take it too
	}
	// The list goes in chunks of a transaction each, the broadcast last:
	// until it is stored nobody enrolls from a list only partly written.
	for i := 0; i < len(spec.Contacts); i += 1000 {
		chunk := spec.Contacts[i:min(i+1000, len(spec.Contacts))]
		err := r.update(ctx, func(tx Tx) error { return tx.PutBroadcastContacts(b.ID, i, chunk) })
		if err != nil {
			r.release(b.ID)
			return nil, fmt.Errorf("broadcast: store the contacts of %s: %w", b.ID, err)
		}
	}
	err = r.update(ctx, func(tx Tx) error {
		if err := countAudience(tx, b); err != nil {
			return err
		}
		return tx.PutBroadcast(b)
	})
	if err != nil {
		r.release(b.ID)
		return nil, fmt.Errorf("broadcast: store %s: %w", b.ID, err)
	}
	return b, nil
}

// countAudience sets the Total of a group or tag broadcast from the
// store's group or tag index, in the transaction that stores it, so that
// its answer (and a scheduled one's, until it runs) already says how many
// contacts it is for: a group's members and those that unsubscribed from
// it (skipped as SkipLeftGroup). A list's is set by record.
func countAudience(tx Tx, b *Broadcast) error {
	var n int
	var err error
	switch {
	case b.Group != "":
		if n, err = tx.CountGroup(b.Group); err != nil {
			return fmt.Errorf("count group %q: %w", b.Group, err)
		}
		left, err := tx.CountLeftGroup(b.Group)
		if err != nil {
			return fmt.Errorf("count those that left group %q: %w", b.Group, err)
		}
		n += left
	case b.Tag != "":
		if n, err = tx.CountTag(b.Tag); err != nil {
			return fmt.Errorf("count tag %q: %w", b.Tag, err)
		}
	default:
		return nil
	}
	b.Total, b.Counted = n, true
	return nil
}

// countScheduled sets the Total of each scheduled group or tag broadcast
// of bs, as read, to its audience now: members may join or leave before
// it starts, and people reading it expect the group as it is, not as it
// was when the broadcast was stored. Nothing is written; the first batch
// counts again for good (see batch).
func countScheduled(tx Tx, bs ...*Broadcast) error {
	for _, b := range bs {
		if b.Status != StatusScheduled || b.Group == "" && b.Tag == "" {
			continue
		}
		if err := countAudience(tx, b); err != nil {
			return fmt.Errorf("broadcast %s: %w", b.ID, err)
		}
	}
	return nil
}

// refusal returns why the running automation id takes no new enrollments
// (check says, from the engine: paused in the file or from the
// dashboard), or that it is gone; nil when it takes them.
func (r *Runner) refusal(id string, check func(*engine.Automation) error) error {
	a := r.e.Set().Automation(id)
	if a == nil {
		return fmt.Errorf("broadcast: automation %q: %w", id, ErrUnknownAutomation)
	}
	if err := check(a); err != nil {
		return fmt.Errorf("broadcast: automation %q: %w", id, err)
	}
	return nil
}

// record checks spec against the running config and returns the new
// broadcast it describes, leased to this process if leased.
func (r *Runner) record(spec Spec, leased bool) (*Broadcast, error) {
	set := r.e.Set()
	a := set.Automation(spec.Automation)
	if a == nil {
		return nil, fmt.Errorf("broadcast: automation %q: %w", spec.Automation, ErrUnknownAutomation)
	}
	n := 0
	for _, given := range []bool{spec.Group != "", spec.Tag != "", spec.Contacts != nil || spec.Invalid > 0} {
		if given {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("broadcast: give exactly one of group, tag or contacts")
	}
	if spec.Group != "" && !set.Config.HasGroup(spec.Group) {
		return nil, fmt.Errorf("broadcast: group %q: %w", spec.Group, ErrUnknownGroup)
	}
	now := r.e.Now()
	b := &Broadcast{
		ID: r.e.NewID(), Automation: spec.Automation, Group: spec.Group, Tag: spec.Tag, Vars: spec.Vars,
		At: spec.At, Source: spec.Source, By: spec.By, Status: StatusScheduled, Skipped: map[string]int{},
		CreatedAt: now, UpdatedAt: now,
	}
	if b.Source == "" {
		b.Source = SourceAPI
	}
	if b.At.IsZero() || !b.At.After(now) {
		b.At, b.Status = now, StatusRunning // due now: whichever process claims it first runs it
	}
	if spec.Group == "" && spec.Tag == "" {
		b.Listed, b.Counted = len(spec.Contacts), true
		b.Total = len(spec.Contacts) + spec.Invalid
		if spec.Invalid > 0 {
			b.Skipped[engine.SkipInvalid] = spec.Invalid
		}
	}
	if leased {
		b.Status, b.Owner, b.LeaseUntil = StatusRunning, r.o.Owner, now.Add(r.o.Lease)
	}
	return b, nil
}

// Get returns the broadcast with id, with its counts, or an error wrapping
// engine.ErrNotFound.
func (r *Runner) Get(ctx context.Context, id string) (*Broadcast, error) {
	var b *Broadcast
	err := r.view(ctx, func(tx Tx) error {
		var err error
		if b, err = tx.Broadcast(id); err != nil {
			return err
		}
		return countScheduled(tx, b)
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: get %s: %w", id, err)
	}
	return b, nil
}

// List returns up to limit broadcasts whose id sorts before the id given
// (from the newest when empty), newest first.
func (r *Runner) List(ctx context.Context, before string, limit int) ([]*Broadcast, error) {
	var out []*Broadcast
	err := r.view(ctx, func(tx Tx) error {
		var err error
		if out, err = tx.Broadcasts(before, limit); err != nil {
			return err
		}
		return countScheduled(tx, out...)
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: list: %w", err)
	}
	return out, nil
}

// Open returns up to limit (all when 0) of the broadcasts in progress,
// scheduled or running, oldest first, with their counts: what the store
// keeps of the open broadcasts, whatever the number finished.
func (r *Runner) Open(ctx context.Context, limit int) ([]*Broadcast, error) {
	var out []*Broadcast
	err := r.view(ctx, func(tx Tx) error {
		var err error
		if out, err = tx.OpenBroadcasts(limit); err != nil {
			return err
		}
		return countScheduled(tx, out...)
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: list the open ones: %w", err)
	}
	return out, nil
}

// Wake has Run look for due broadcasts at once.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run enrolls the broadcasts that fall due, one at a time, until ctx is
// done: those scheduled for now or earlier, and those whose process died
// mid-way once their lease expired (at once for those this process, by
// its Owner, held when it last stopped). It also ends the enrollments of
// broadcasts canceled with end whose ending was left unfinished.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for ctx.Err() == nil {
		b, err := r.claim(ctx)
		switch {
		case err == nil:
			if r.take(b.ID) {
				work := r.drive
				if b.Ending {
					work = r.end
				}
				after, err := work(ctx, b)
				if err != nil && ctx.Err() == nil {
					r.o.Logger.Error().Err(err).Str("broadcast", b.ID).Msg("broadcast")
				}
				r.release(b.ID)
				if err == nil && after != nil && !after.Pending() {
					continue // the next may be due already
				}
			}
		case !errors.Is(err, engine.ErrNotFound) && ctx.Err() == nil:
			r.o.Logger.Error().Err(err).Msg("broadcast: claim")
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-r.wake:
		}
	}
}

// claim leases the first due broadcast that this process can work on now:
// it passes over the ones it works on already (a manual start) and those
// of a paused automation still to enroll, so that they hold up no other.
// Ending the enrollments of a canceled broadcast waits for no automation.
func (r *Runner) claim(ctx context.Context) (*Broadcast, error) {
	set := r.e.Set()
	var b *Broadcast
	err := r.update(ctx, func(tx Tx) error {
		meta, ok := tx.(engine.MetaStore)
		if !ok {
			return ErrNoStore
		}
		skip := func(b *Broadcast) (bool, error) {
			if r.isRunning(b.ID) {
				return true, nil
			}
			if b.Ending {
				return false, nil
			}
			a := set.Automation(b.Automation)
			if a == nil {
				return false, nil // claimed, to be canceled by its first batch
			}
			on, err := engine.Enrolls(meta, a)
			return !on, err
		}
		var err error
		b, err = tx.ClaimBroadcast(r.e.Now(), r.o.Lease, r.o.Owner, skip)
		return err
	})
	return b, err
}

func (r *Runner) isRunning(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

// take marks broadcast id as enrolled by this process, unless it is.
func (r *Runner) take(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[id] {
		return false
	}
	r.running[id] = true
	return true
}

func (r *Runner) release(id string) {
	r.mu.Lock()
	delete(r.running, id)
	r.mu.Unlock()
}

// errLost stops a drive whose broadcast another process took over, or
// that was canceled or finished meanwhile.
var errLost = errors.New("broadcast: no longer ours to enroll")

// errHold stops a drive for now: its automation is paused.
var errHold = errors.New("broadcast: the automation is paused")

// drive enrolls b's contacts, a batch per transaction, until it is done,
// canceled, taken over by another process, or ctx ends.
func (r *Runner) drive(ctx context.Context, b *Broadcast) (*Broadcast, error) {
	if b.By != "" {
		ctx = engine.WithActor(ctx, b.By)
	}
	if !b.Counted {
		if err := r.count(ctx, b); err != nil {
			return b, err
		}
	}
	for ctx.Err() == nil {
		next, err := engine.TransactValue(ctx, r.e, func(x engine.Enroller) (*Broadcast, error) {
			return r.batch(ctx, x, b)
		})
		switch {
		case errors.Is(err, errLost), errors.Is(err, errHold):
			return r.Get(context.WithoutCancel(ctx), b.ID)
		case err != nil:
			return b, fmt.Errorf("broadcast: enroll %s: %w", b.ID, err)
		}
		b = next
		if !b.Open() {
			r.o.Logger.Info().Str("broadcast", b.ID).Str("automation", b.Automation).Str("status", string(b.Status)).
				Int("enrolled", b.Enrolled).Int("total", b.Total).Msg("broadcast finished")
			if b.Status == StatusDone && r.o.OnDone != nil {
				r.o.OnDone(b)
			}
			return b, nil
		}
	}
	return b, nil
}

// count stores the Total of b, a broadcast stored uncounted (by a keyway
// from before tags were counted at start), from its group or tag index.
func (r *Runner) count(ctx context.Context, b *Broadcast) error {
	err := r.update(ctx, func(tx Tx) error {
		cur, err := tx.Broadcast(b.ID)
		if err != nil {
			return err
		}
		if !cur.Counted {
			if err := countAudience(tx, cur); err != nil {
				return err
			}
			if err := tx.PutBroadcast(cur); err != nil {
				return err
			}
		}
		b.Total, b.Counted = cur.Total, cur.Counted
		return nil
	})
	if err != nil {
		return fmt.Errorf("broadcast: count %s: %w", b.ID, err)
	}
	return nil
}

// batch enrolls the next Batch contacts of broadcast b, as the store has
// it now, and moves its cursor past them in the same transaction.
func (r *Runner) batch(ctx context.Context, x engine.Enroller, held *Broadcast) (*Broadcast, error) {
	tx, ok := x.Tx().(Tx)
	if !ok {
		return nil, ErrNoStore
	}
	b, err := tx.Broadcast(held.ID)
	if err != nil {
		return nil, err
	}
	now := x.Now()
	if !b.Open() || b.Owner != r.o.Owner {
		return nil, errLost
	}
	a := r.e.Set().Automation(b.Automation)
	if a == nil {
		b.Status, b.Reason, b.FinishedAt, b.UpdatedAt = StatusCanceled, "the automation was removed from the config", &now, now
		return b, tx.PutBroadcast(b)
	}
	if on, err := engine.Enrolls(x.Tx(), a); err != nil || !on {
		return nil, cmp.Or(err, errHold)
	}
	if b.Cursor == "" && (b.Group != "" || b.Tag != "") {
		// The first batch: the audience is counted again as it starts,
		// for those who joined or left since the broadcast was stored.
		if err := countAudience(tx, b); err != nil {
			return nil, err
		}
	}
	addrs, cursor, last, err := r.page(x, tx, b)
	if err != nil {
		return nil, err
	}
	if b.Skipped == nil {
		b.Skipped = map[string]int{}
	}
	for _, addr := range addrs {
		why, err := x.EnrollFor(ctx, addr, a, b.Group, b.Vars, b.ID)
		if err != nil {
			return nil, err
		}
		if why != "" {
			b.Skipped[why]++
			continue
		}
		b.Enrolled++
	}
	b.Cursor, b.Status, b.UpdatedAt, b.LeaseUntil = cursor, StatusRunning, now, now.Add(r.o.Lease)
	if last {
		b.Status, b.FinishedAt = StatusDone, &now
		b.Total = b.Enrolled
		for _, n := range b.Skipped {
			b.Total += n
		}
		if r.o.InDone != nil {
			if err := r.o.InDone(x, b); err != nil {
				return nil, err
			}
		}
	}
	return b, tx.PutBroadcast(b)
}

// page returns the next contacts of b after its cursor, the cursor past
// them, and whether they are the last.
func (r *Runner) page(x engine.Enroller, tx Tx, b *Broadcast) (addrs []string, cursor string, last bool, err error) {
	switch {
	case b.Group != "":
		return groupPage(x.Tx(), b)
	case b.Tag != "":
		// The tag index is in phone order, as the whole contact list is: a
		// tag broadcast's cursor from a keyway that paged through every
		// contact (the last phone of that page, tagged or not) goes on
		// here with the next tagged phone after it.
		cs, err := x.Tx().ContactsWithTag(b.Tag, b.Cursor, Batch)
		if err != nil {
			return nil, "", false, err
		}
		for _, c := range cs {
			addrs = append(addrs, c.Phone)
		}
		cursor = b.Cursor
		if len(cs) > 0 {
			cursor = cs[len(cs)-1].Phone
		}
		return addrs, cursor, len(cs) < Batch, nil
	}
	from := 0
	if b.Cursor != "" {
		if _, err := fmt.Sscan(b.Cursor, &from); err != nil {
			return nil, "", false, fmt.Errorf("cursor %q: %w", b.Cursor, err)
		}
	}
	addrs, err = tx.BroadcastContacts(b.ID, from, Batch)
	if err != nil {
		return nil, "", false, err
	}
	next := from + len(addrs)
	return addrs, fmt.Sprint(next), next >= b.Listed, nil
}

// groupPage returns the next Batch contacts of group broadcast b after its
// cursor, the cursor past them, and whether they are the last: its members
// and the contacts that unsubscribed from the group, both indexes in phone
// order, merged. EnrollFor skips the latter as SkipLeftGroup, so that a
// contact that left the group before the broadcast went through it is
// counted rather than missing from its counts.
func groupPage(tx engine.TurnTx, b *Broadcast) (addrs []string, cursor string, last bool, err error) {
	members, err := tx.ContactsInGroup(b.Group, b.Cursor, Batch)
	if err != nil {
		return nil, "", false, err
	}
	left, err := tx.ContactsLeftGroup(b.Group, b.Cursor, Batch)
	if err != nil {
		return nil, "", false, err
	}
	// Taking the first Batch phones of the two pages takes every phone of
	// either up to the last one taken: the cursor skips none.
	i, j := 0, 0
	for len(addrs) < Batch && (i < len(members) || j < len(left)) {
		var next string
		switch {
		case j == len(left) || (i < len(members) && members[i].Phone < left[j].Phone):
			next = members[i].Phone
			i++
		case i == len(members) || left[j].Phone < members[i].Phone:
			next = left[j].Phone
			j++
		default: // in both indexes: once
			next = members[i].Phone
			i, j = i+1, j+1
		}
		addrs = append(addrs, next)
	}
	cursor = b.Cursor
	if len(addrs) > 0 {
		cursor = addrs[len(addrs)-1]
	}
	last = len(members) < Batch && len(left) < Batch && i == len(members) && j == len(left)
	return addrs, cursor, last, nil
}

func (r *Runner) update(ctx context.Context, fn func(tx Tx) error) error {
	return r.e.Store().Update(ctx, func(tx engine.Tx) error {
		btx, ok := tx.(Tx)
		if !ok {
			return ErrNoStore
		}
		return fn(btx)
	})
}

func (r *Runner) view(ctx context.Context, fn func(tx Tx) error) error {
	return r.e.Store().View(ctx, func(tx engine.Tx) error {
		btx, ok := tx.(Tx)
		if !ok {
			return ErrNoStore
		}
		return fn(btx)
	})
}
