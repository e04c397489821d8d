// Package engine is keyway's engine: compiled automations, enrollments,
// the routing of inbound messages in a fixed order (README "How a message
// is handled"), turns and
// timers, the Run that steps see and the registry they join
// (Register). It owns the Store interface it needs and knows no database,
// no web server and none of the step types.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/keywords"
	"github.com/keyway-sms/keyway/providers"
)

// TimerSoon is how often the gateway's timer loop looks for due timers
// unless woken (Options.OnTimer): a timer set to fall due sooner wakes it.
const TimerSoon = time.Second

// DefaultMaxSteps bounds the steps one inbound message or timer may execute,
// so that start_automation loops end instead of spinning.
const DefaultMaxSteps = 100

// Clock tells the time; tests use a frozen one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Options configure an Engine.
type Options struct {
	Clock  Clock
	Logger zerolog.Logger
	// OnQueue is called after a commit that queued outbound messages, to
	// wake the workers that send them.
	OnQueue func()
	// OnTimer is called after a commit that set a timer due within
	// TimerSoon (an HTTP step's call out, a short wait), to wake the loop
	// that fires timers, which otherwise looks once each TimerSoon.
	OnTimer func()
	// OnEvents is called after a commit that stored events, to wake the
	// worker that delivers them.
	OnEvents func()
	// MaxSteps overrides DefaultMaxSteps.
	MaxSteps int
	// Trace, if set, is told what enrollments do, once the transaction
	// they did it in has committed: for the simulator.
	Trace func(TraceEvent)
	// RetryDropped, if set, says when an outbound message is sent again
	// that its provider took and then dropped for its rate limits (a
	// status report that says so: providers.Status.Throttled), or false to
	// leave it failed: the outbox's backoff and attempt limit. Without it
	// such a message stays failed.
	RetryDropped func(m *Message) (time.Time, bool)
	// NewRef, if set, makes conversation references (RandomRef by
	// default); the simulator makes them from a fixed seed, so that
	// `keyway test` files can expect them.
	NewRef func() string
}

// TraceEvent is one thing an enrollment did, for the simulator and tests.
type TraceEvent struct {
	Automation string
	Enrollment string
	Contact    string
	Step       string // the step's key, when at a step
	What       string // e.g. "enrolled", "ended: completed", "added to group newsletter"
	// Message is set when the event is a message queued (or suppressed).
	Message *Message
}

// Engine routes inbound messages and runs automations over a Store.
type Engine struct {
	store    Store
	clock    Clock
	log      zerolog.Logger
	set      atomic.Pointer[Set]
	onQueue  func()
	onTimer  func()
	onEvents func()
	maxSteps int
	ids      idGen
	io       ioRuns
	trace    func(TraceEvent)
	newRef   func() string
	// retryDropped is Options.RetryDropped.
	retryDropped func(m *Message) (time.Time, bool)
	// reconcileMu runs reconciles one at a time (reconcile.go).
	reconcileMu sync.Mutex
}

// New returns an engine running set over store.
func New(store Store, set *Set, o Options) *Engine {
	e := &Engine{store: store, clock: o.Clock, log: o.Logger, onQueue: o.OnQueue, onTimer: o.OnTimer, maxSteps: o.MaxSteps, trace: o.Trace, retryDropped: o.RetryDropped}
	e.io.sem = make(chan struct{}, maxIO)
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.newRef = o.NewRef; e.newRef == nil {
		e.newRef = RandomRef
	}
	if e.onQueue == nil {
		e.onQueue = func() {}
	}
	if e.onTimer == nil {
		e.onTimer = func() {}
	}
	if e.onEvents = o.OnEvents; e.onEvents == nil {
		e.onEvents = func() {}
	}
	if e.maxSteps <= 0 {
		e.maxSteps = DefaultMaxSteps
	}
	e.set.Store(set)
	return e
}

// Set returns the running configuration.
func (e *Engine) Set() *Set { return e.set.Load() }

// Swap replaces the running configuration.
func (e *Engine) Swap(set *Set) { e.set.Store(set) }

// Store returns the store the engine runs over.
func (e *Engine) Store() Store { return e.store }

// Now returns the engine clock's time.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Handled is what became of an inbound message.
type Handled struct {
	Message   *Message
	Duplicate bool // the provider's id was seen before; nothing was done
	// Via says which way routing took the message: one of the Via
	// constants (the "route" of the logs and metrics).
	Via string
}

// The ways routing can take an inbound message, in the order it tries them.
const (
	ViaCompliance = "compliance"
	ViaStaff      = "staff"   // a message from staff (see staff.go)
	ViaHandoff    = "handoff" // a contact's message relayed to the staff of its open handoff
	ViaKeyword    = "keyword"
	ViaReply      = "reply"
	ViaCatchAll   = "catch_all"
	ViaStored     = "stored" // nothing matched: the message is only stored
)

// HandleInbound handles one inbound message in the fixed order and commits the
// message, the contact and every effect in one durable transaction before
// it returns. A message whose provider id was already seen does nothing.
func (e *Engine) HandleInbound(ctx context.Context, in providers.Inbound) (Handled, error) {
	r, err := e.HandleBatch(ctx, in.Provider, providers.Batch{Messages: []providers.Inbound{in}})
	if err != nil {
		return Handled{}, err
	}
	return r.Messages[0], nil
}

// BatchResult is what became of a webhook's batch: one Handled per message,
// in order, and whether each status found its message.
type BatchResult struct {
	Messages []Handled
	Found    []bool
}

// HandleBatch handles every message of b in order, each as HandleInbound
// does, and records every status as UpdateStatus does, all in one durable
// transaction committed before it returns: a webhook carrying fifty
// messages is one commit. A message id seen before, or twice in b, is
// handled once. provider names the provider the statuses came from.
func (e *Engine) HandleBatch(ctx context.Context, provider string, b providers.Batch) (BatchResult, error) {
	res, err := transactValue(ctx, e, nil, func(x *unitOfWork) (BatchResult, error) {
		res := BatchResult{Messages: make([]Handled, len(b.Messages)), Found: make([]bool, len(b.Statuses))}
		seen := make(map[string]*Message, len(b.Messages))
		for i, in := range b.Messages {
			if m, dup := seen[in.Provider+" "+in.ID]; dup && in.ID != "" {
				res.Messages[i] = Handled{Message: m, Duplicate: true}
				continue
			}
			h, err := e.handle(ctx, x, in)
			if err != nil {
				return res, fmt.Errorf("message %s: %w", in.ID, err)
			}
			res.Messages[i], seen[in.Provider+" "+in.ID] = h, h.Message
		}
		for i, s := range b.Statuses {
			found, err := e.updateStatus(ctx, x, provider, s)
			if err != nil {
				return res, fmt.Errorf("status of %s: %w", s.ProviderID, err)
			}
			res.Found[i] = found
		}
		return res, nil
	})
	if err != nil {
		if len(b.Messages) == 1 && len(b.Statuses) == 0 {
			return BatchResult{}, fmt.Errorf("engine: handle message %s: %w", b.Messages[0].ID, err)
		}
		return BatchResult{}, fmt.Errorf("engine: handle a batch of %d messages and %d statuses: %w", len(b.Messages), len(b.Statuses), err)
	}
	return res, nil
}

// handle handles one inbound message inside transaction x.
func (e *Engine) handle(ctx context.Context, x *unitOfWork, in providers.Inbound) (Handled, error) {
	if in.ID != "" {
		if tr, ok := x.tx.(TurnReader); ok {
			if _, open := x.turns[in.From]; !open {
				tr.ReadTurnAhead(in.From)
			}
		}
		if m, err := x.tx.MessageByProviderID(in.Provider, in.ID); err == nil {
			return Handled{Message: m, Duplicate: true}, nil
		} else if !isNotFound(err) {
			return Handled{}, err
		}
	}
	t, err := x.turn(in.From)
	if err != nil {
		return Handled{}, err
	}
	t.answering = true
	m := e.receive(t, in)
	if err := x.tx.PutMessage(m); err != nil {
		return Handled{}, err
	}
	if err := x.event(EventMessageReceived, m.From, messageData(m)); err != nil {
		return Handled{}, err
	}
	via, err := e.route(ctx, t, m)
	return Handled{Message: m, Via: via}, err
}

// receive records an inbound message on the turn's contact and returns it.
func (e *Engine) receive(t *turn, in providers.Inbound) *Message {
	c := t.contact
	if c.Name == "" && in.ProfileName != "" {
		c.Name = in.ProfileName
	}
	c.Channel = in.Channel
	if c.LastTo == nil {
		c.LastTo = map[string]string{}
	}
	c.LastTo[in.Channel] = in.To
	if c.LastInbound == nil {
		c.LastInbound = map[string]time.Time{}
	}
	// The window opens when the contact sent the message, when the
	// provider says so (never later than now, whatever its clock says).
	switch {
	case in.SentAt.IsZero() || !in.SentAt.Before(t.now):
		c.LastInbound[in.Channel] = t.now
	case in.SentAt.After(c.LastInbound[in.Channel]):
		c.LastInbound[in.Channel] = in.SentAt
	}
	m := &Message{
		ID: e.ids.next(t.now), Provider: in.Provider, ProviderID: in.ID,
		Direction: Inbound, Kind: KindText, Channel: in.Channel, Contact: in.From,
		From: in.From, To: []string{in.To}, Body: in.Body, Media: in.Media, Fields: in.Fields,
		Button: in.Button, Status: StatusReceived, CreatedAt: t.now, UpdatedAt: t.now,
	}
	switch in.Compliance {
	case providers.ComplianceOptOut, providers.ComplianceOptIn, providers.ComplianceHelp:
		m.Compliance = in.Compliance
	}
	t.offered = c.Offer
	pick(c, m, t.now)
	return m
}

// route handles a stored inbound message in the fixed order (steps 4 to 8
// of README "How a message is handled"):
// compliance words, then a staff message or a contact's message in an open
// handoff (staff.go), then keywords, a reply, the catch-all. It returns
// which way it took the message (a Via constant).
func (e *Engine) route(ctx context.Context, t *turn, m *Message) (string, error) {
	set := t.set
	norm := keywords.Normalize(m.Body)
	c := t.contact

	if fam, ok := complianceOf(set, m); ok {
		if fam == OptIn {
			// The contact asks for messages again, automated ones too.
			c.NoMarketing = false
		}
		switch {
		case fam == OptOut && c.OptedOut:
			// Already opted out: the message is recorded and answered with
			// nothing, so a contact repeating STOP gets one confirmation.
			// Enrollments that began since (they run for staff) still end.
			return ViaCompliance, e.optOutContact(t, "opted out", messageIDs(m))
		case fam == OptOut:
			return ViaCompliance, e.optOut(t, m, set.Config.Compliance.OptOut.Reply)
		case fam == OptIn && c.OptedOut:
			t.keepOffer()
			return ViaCompliance, e.optIn(t, m, set.Config.Compliance.OptIn.Reply)
		case fam == Help:
			t.keepOffer()
			return ViaCompliance, t.queueCompliance(m, set.Config.Compliance.Help.Reply)
		}
		// An opt-in word from a contact that has not opted out goes on.
	}

	if set.IsStaff(m.From) {
		return ViaStaff, e.staffMessage(ctx, t, m)
	}
	if err := e.lapse(ctx, t); err != nil { // timeouts due before the message
		return "", err
	}
	if r, err := t.latestRun(EnrollmentHandoff); err != nil { // an open handoff
		return "", err
	} else if r != nil {
		return ViaHandoff, e.resume(ctx, r, Event{Kind: EventReply, Message: m})
	}

	if a, ok := keywordOf(set, m, norm); ok {
		// Paused (in the file or from the dashboard), the keyword is
		// text like any other.
		if on, err := t.enrolls(a); err != nil {
			return "", err
		} else if on {
			// Already enrolled in a without overwrite, the contact is left
			// where it is, and the message is not taken as a reply either.
			_, err := e.enroll(ctx, t, a, m.Channel, m, nil)
			return ViaKeyword, err
		}
	}

	if r, err := t.latestRun(EnrollmentWaitingReply); err != nil { // a wait_for_reply
		return "", err
	} else if r != nil {
		return ViaReply, e.resume(ctx, r, Event{Kind: EventReply, Message: m})
	}

	if a := set.catchAll; a != nil {
		if on, err := t.enrolls(a); err != nil {
			return "", err
		} else if on {
			if _, err := e.enroll(ctx, t, a, m.Channel, m, nil); err != nil {
				return "", err
			}
			return ViaCatchAll, nil
		}
	}
	return ViaStored, nil
}

// optOut opts the contact out, ends its enrollments and sends the reply.
func (e *Engine) optOut(t *turn, m *Message, reply string) error {
	if err := e.optOutContact(t, "opted out", messageIDs(m)); err != nil {
		return err
	}
	return t.queueCompliance(m, reply)
}

// optIn lifts the contact's opt-out and sends the reply. Enrollments that
// began while it was opted out end: they ran (so staff got forwards) but
// the contact saw none of their messages, and must not be answering a
// question it never got.
func (e *Engine) optIn(t *turn, m *Message, reply string) error {
	if err := e.liftOptOut(t, messageIDs(m)); err != nil {
		return err
	}
	return t.queueCompliance(m, reply)
}

// liftOptOut clears the turn's contact's opt-out, ending the enrollments
// that began while it was opted out. ids are the ids of what lifted it, for
// the event (messageIDs; nil for none).
func (e *Engine) liftOptOut(t *turn, ids map[string]any) error {
	c := t.contact
	since := c.OptedOutAt
	if c.OptedOut {
		if err := t.x.event(EventContactOptedIn, c.Phone, ids); err != nil {
			return err
		}
	}
	c.OptedOut, c.OptedOutAt, c.OptedOutByAdmin = false, nil, false
	ens, err := t.activeEnrollments()
	if err != nil {
		return err
	}
	for _, en := range ens {
		if since != nil && !en.StartedAt.Before(*since) {
			if err := e.end(t, en, "began while the contact was opted out"); err != nil {
				return err
			}
		}
	}
	return nil
}

// optOutContact marks the turn's contact opted out and ends every active
// enrollment of it with reason. ids are the ids of what opted it out, for
// the event: the message (messageIDs), the enrollment; nil for none.
func (e *Engine) optOutContact(t *turn, reason string, ids map[string]any) error {
	c := t.contact
	if !c.OptedOut {
		now := t.now
		c.OptedOut, c.OptedOutAt = true, &now
		data := map[string]any{"reason": reason}
		maps.Copy(data, ids)
		if err := t.x.event(EventContactOptedOut, c.Phone, data); err != nil {
			return err
		}
	}
	c.OptedOutByAdmin = false // the contact's (or its provider's) own word
	ens, err := t.activeEnrollments()
	if err != nil {
		return err
	}
	for _, en := range ens {
		if err := e.endTold(t, en, reason, t.x.by, whyOptedOut); err != nil {
			return err
		}
	}
	return nil
}

// latestRun returns a run for the turn's contact's most recently moved
// active enrollment with status whose automation is enabled, or nil.
func (t *turn) latestRun(status EnrollmentStatus) (*Run, error) {
	ens, err := t.activeEnrollments()
	if err != nil {
		return nil, err
	}
	var best *Enrollment
	for _, en := range ens {
		if en.Status != status {
			continue
		}
		a := t.set.Automation(en.Automation)
		if a == nil {
			continue
		}
		if on, err := t.runs(a); err != nil {
			return nil, err
		} else if !on {
			continue
		}
		// The most recently moved wins; ids (time-ordered) break ties.
		if best == nil || en.UpdatedAt.After(best.UpdatedAt) ||
			(en.UpdatedAt.Equal(best.UpdatedAt) && en.ID > best.ID) {
			best = en
		}
	}
	if best == nil {
		return nil, nil
	}
	return t.run(t.set.Automation(best.Automation), best), nil
}

// enroll starts the contact in a, under a's overwrite rule, with vars (a
// manual start's; nil for none) as the run's first {{ vars }}. It reports
// false when the contact was already enrolled and a does not overwrite.
func (e *Engine) enroll(ctx context.Context, t *turn, a *Automation, channel string, m *Message, vars map[string]any) (bool, error) {
	return e.enrollFor(ctx, t, a, channel, m, vars, "")
}

// enrollFor is enroll for a broadcast (none when empty), which the new
// enrollment and the messages it sends to the contact name.
func (e *Engine) enrollFor(ctx context.Context, t *turn, a *Automation, channel string, m *Message, vars map[string]any, broadcast string) (bool, error) {
	existing, err := t.activeEnrollment(a.ID)
	if err != nil {
		return false, err
	}
	if existing != nil {
		if !a.Overwrite {
			return false, nil
		}
		if err := e.end(t, existing, "restarted by a new enrollment"); err != nil {
			return false, err
		}
	}
	if channel == "" {
		channel = reachChannel(t.set, t.contact, a)
	}
	en := &Enrollment{
		ID: e.ids.next(t.now), Automation: a.ID, Contact: t.contact.Phone, Channel: channel,
		Status: EnrollmentRunning, Vars: maps.Clone(vars), StartedAt: t.now, UpdatedAt: t.now,
		StartedBy: t.x.by, Broadcast: broadcast,
	}
	if en.Vars == nil {
		en.Vars = map[string]any{}
	}
	if m != nil {
		en.Trigger = m.ID
	}
	t.put(en)
	r := t.run(a, en)
	r.Message = m
	r.Trace("enrolled")
	return true, e.stepFrom(ctx, r, 0)
}

// stepFrom runs the steps of r's automation from index i until the
// enrollment pauses or ends.
func (e *Engine) stepFrom(ctx context.Context, r *Run, i int) error {
	a, en := r.Automation, r.Enrollment
	for {
		if !en.Active() {
			return nil // ended by a step, e.g. a start_automation that restarted it
		}
		if i >= len(a.Steps) {
			return e.finish(r.t, en, ReasonCompleted)
		}
		if r.t.steps >= e.maxSteps {
			return e.finish(r.t, en, fmt.Sprintf("step limit reached: more than %d steps for one message or timer", e.maxSteps))
		}
		r.t.steps++
		st := a.Steps[i]
		r.Step = st
		en.Step, en.StepType, en.Status = st.Key, st.Type, EnrollmentRunning
		out, err := st.Step.Execute(ctx, r)
		if err != nil {
			return fmt.Errorf("automation %q step %s (%s): %w", a.ID, st.Key, st.Type, err)
		}
		next, done, err := e.follow(r, st, out)
		if done || err != nil {
			return err
		}
		i = next
	}
}

// resume hands ev to the step r's enrollment is paused at, then carries on.
func (e *Engine) resume(ctx context.Context, r *Run, ev Event) error {
	en := r.Enrollment
	st, ok := r.Automation.step(en.Step, en.StepType)
	if !ok {
		return e.finish(r.t, en, fmt.Sprintf("step %s no longer exists in automation %q", en.Step, en.Automation))
	}
	rs, ok := st.Step.(Resumer)
	if !ok {
		return e.finish(r.t, en, fmt.Sprintf("step %s (%s) cannot resume", st.Key, st.Type))
	}
	if err := r.t.clearTimer(en); err != nil {
		return err
	}
	r.Step = st
	r.inHandoff = en.Status == EnrollmentHandoff
	en.Status = EnrollmentRunning
	en.Held, en.Answering = "", false
	if ev.Message != nil {
		r.Message = ev.Message
		// The conversation follows the contact: an answer on WhatsApp to a
		// question asked by SMS is answered on WhatsApp.
		if ev.Message.Channel != "" {
			en.Channel = ev.Message.Channel
		}
	}
	out, err := rs.Resume(ctx, r, ev)
	if err != nil {
		return fmt.Errorf("automation %q step %s (%s): resume: %w", en.Automation, st.Key, st.Type, err)
	}
	if r.inHandoff && out.kind != outcomeHandoff {
		d := handoffData(en)
		d["closed_by"] = map[string]string{EventDone: "staff", EventTimer: "timeout"}[ev.Kind]
		if err := r.t.x.event(EventHandoffClosed, en.Contact, d); err != nil {
			return err
		}
		if err := r.tellClosed(ev); err != nil {
			return err
		}
	}
	next, done, err := e.follow(r, st, out)
	if done || err != nil {
		return err
	}
	return e.stepFrom(ctx, r, next)
}

// ReasonCompleted is the end reason of an enrollment that ran out of steps
// or reached `end`.
const ReasonCompleted = "completed"

// end finishes an enrollment with reason, recording the person the turn
// acts for (WithActor) as who ended it: a cancel, an opt-out or a restart
// they made.
func (e *Engine) end(t *turn, en *Enrollment, reason string) error {
	return e.endAs(t, en, reason, t.x.by)
}

// finish ends an enrollment that ran its course: its steps ended it (it
// ran out of them, reached `end` or a step that cannot go on), so nobody
// ended it, even in a turn made for a person (a manual start).
func (e *Engine) finish(t *turn, en *Enrollment, reason string) error {
	return e.endAs(t, en, reason, "")
}

// endAs finishes an enrollment with reason, recording by (empty for
// nobody) as who ended it.
func (e *Engine) endAs(t *turn, en *Enrollment, reason, by string) error {
	return e.endTold(t, en, reason, by, endedWhy(reason))
}

// endTold is endAs, telling the staff of an open handoff that it closed
// and why (tellHandoffClosed).
func (e *Engine) endTold(t *turn, en *Enrollment, reason, by, why string) error {
	if !en.Active() {
		return nil
	}
	if err := t.clearTimer(en); err != nil {
		return err
	}
	if en.Status == EnrollmentHandoff {
		d := handoffData(en)
		d["closed_by"], d["reason"] = "end", reason
		if err := t.x.event(EventHandoffClosed, en.Contact, d); err != nil {
			return err
		}
		if err := t.tellHandoffClosed(en, ": "+why, ""); err != nil {
			return err
		}
	}
	if reason == ReasonCompleted {
		d := map[string]any{"enrollment_id": en.ID, "automation": en.Automation, "reason": reason}
		if err := t.x.event(EventEnrollmentCompleted, en.Contact, d); err != nil {
			return err
		}
	}
	now := t.now
	en.Status, en.EndReason, en.EndedAt, en.EndedBy = EnrollmentEnded, reason, &now, by
	en.Epoch++
	t.emit(TraceEvent{Automation: en.Automation, Enrollment: en.ID, Contact: en.Contact, Step: en.Step, What: "ended: " + reason})
	t.put(en)
	return nil
}

// idGen makes ids that sort by creation time and are unique across
// restarts and replicas: 16 hex digits of nanoseconds, then 6 random ones.
type idGen struct {
	mu   sync.Mutex
	last int64
}

// IsID reports whether s is an id as keyway makes them (see idGen), of a
// message, an enrollment or an event: a page cursor of the message log
// names one, so one that does not was not keyway's.
func IsID(s string) bool {
	if len(s) != 22 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func (g *idGen) next(now time.Time) string {
	g.mu.Lock()
	n := now.UnixNano()
	if n <= g.last {
		n = g.last + 1
	}
	g.last = n
	g.mu.Unlock()
	var r [3]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", n, hex.EncodeToString(r[:]))
}
