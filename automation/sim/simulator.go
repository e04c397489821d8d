// Package sim is keyway's simulator: the engine with every step type on an
// in-memory store, a fake clock and the scheduler, for `keyway simulate`
// and for tests.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/schedule"
	"github.com/keyway-sms/keyway/automation/steps/httpstep"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"

	// A simulated config is compiled with every step type.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// Simulator chats with a Set on an in-memory store and a fake clock: each
// message in is handled as if it came from the provider, and everything the
// automations do is reported instead of sent. `keyway simulate` and the
// step fixture tests drive it.
type Simulator struct {
	Engine *engine.Engine
	Store  engine.Store
	Clock  *engine.FakeClock
	// From is the contact's number, Channel its channel, To the number it
	// writes to.
	From, Channel, To string
	// HTTP, if set, answers the http steps' calls instead of the network
	// (`keyway test` answers them from the test file).
	HTTP   http.RoundTripper
	out    io.Writer
	events []engine.TraceEvent
	seq    int
	// sched takes the scheduled automations' ticks as the gateway would;
	// counted marks the schedules that started counting.
	sched   *schedule.Scheduler
	counted map[string]bool
}

// SimStart is when a simulator's clock starts: a Monday, 09:00 UTC.
var SimStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// NewSimulator returns a simulator for set that reports to out (nil: report
// nothing; the caller reads what Say and Advance return).
func NewSimulator(set *engine.Set, out io.Writer) *Simulator {
	s := &Simulator{Clock: engine.NewFakeClock(SimStart), Store: mem.NewMemStore(), From: "+15550001111", Channel: config.ChannelSMS, out: out}
	refs := rand.New(rand.NewPCG(1, 2)) // the same references every run
	newRef := func() string {
		b := make([]byte, engine.RefLength)
		for i := range b {
			b[i] = engine.RefAlphabet[refs.IntN(len(engine.RefAlphabet))]
		}
		return string(b)
	}
	s.Engine = engine.New(s.Store, set, engine.Options{Clock: s.Clock, NewRef: newRef, Trace: func(ev engine.TraceEvent) { s.events = append(s.events, ev) }})
	s.sched, s.counted = schedule.NewScheduler(s.Engine, zerolog.Nop(), nil), map[string]bool{}
	return s
}

// SimResult is what one message or one advance of the clock did.
type SimResult struct {
	Via string // which way routing took the message (engine.Handled.Via)
	// In is the contact's message as handled (with Button set when it was
	// read as a choice); nil for an advance of the clock.
	In     *engine.Message
	Sent   []*engine.Message // outbound messages and emails, in order
	Events []engine.TraceEvent
}

func (s *Simulator) to() string {
	if s.To != "" {
		return s.To
	}
	for _, n := range s.Engine.Set().Config.Numbers() {
		if n.Channel == s.Channel {
			return n.Number
		}
	}
	return "+15005550006"
}

// Say handles body as a message from the contact, then fires what became due.
func (s *Simulator) Say(ctx context.Context, body string) (SimResult, error) {
	return s.receive(ctx, body, "")
}

// Press handles a tap on the button or list row with id, as a provider with
// interactive messages reports it: the message's Button is id and its body
// the choice's title, taken from the choices last sent to the contact (id
// itself when none of them has that id).
func (s *Simulator) Press(ctx context.Context, id string) (SimResult, error) {
	title := id
	c, err := s.Contact(ctx)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return SimResult{}, err
	}
	if c != nil && c.Offer != nil {
		for _, ch := range c.Offer.Choices {
			if ch.ID == id {
				title = ch.Title
				break
			}
		}
	}
	return s.receive(ctx, title, id)
}

// receive handles a message from the contact, then fires what became due.
func (s *Simulator) receive(ctx context.Context, body, button string) (SimResult, error) {
	ctx = s.withHTTP(ctx)
	s.seq++
	h, err := s.Engine.HandleInbound(ctx, providers.Inbound{
		Provider: "simulator", ID: fmt.Sprintf("SIM%06d", s.seq), Channel: s.Channel,
		From: s.From, To: s.to(), Body: body, Button: button,
	})
	if err != nil {
		return SimResult{}, err
	}
	res, err := s.settle(ctx)
	res.Via, res.In = h.Via, h.Message
	return res, err
}

// Advance moves the clock forward by d and fires every timer and schedule
// tick due by then, in time order, as a running gateway would have.
func (s *Simulator) Advance(ctx context.Context, d time.Duration) (SimResult, error) {
	ctx = s.withHTTP(ctx)
	end := s.Clock.Now().Add(d)
	var all SimResult
	if err := s.countSchedules(ctx); err != nil {
		return all, err
	}
	for {
		next, ok, err := s.nextDue(ctx, end)
		if err != nil {
			return all, err
		}
		tick, id, err := s.nextTick(ctx)
		if err != nil {
			return all, err
		}
		isTick := id != "" && !tick.After(end) && (!ok || tick.Before(next))
		if isTick {
			next, ok = tick, true
		}
		if !ok {
			break
		}
		if next.After(s.Clock.Now()) {
			s.Clock.Advance(next.Sub(s.Clock.Now()))
		}
		if isTick {
			if err := s.sched.RunDue(ctx, id); err != nil {
				return all, err
			}
		}
		res, err := s.settle(ctx)
		all.Sent, all.Events = append(all.Sent, res.Sent...), append(all.Events, res.Events...)
		if err != nil {
			return all, err
		}
	}
	s.Clock.Advance(end.Sub(s.Clock.Now()))
	return all, nil
}

// Start enrolls the contact in the automation with id, as the admin API's
// manual start does, then fires what became due.
func (s *Simulator) Start(ctx context.Context, id string) (engine.StartResult, SimResult, error) {
	return s.StartVars(ctx, id, nil)
}

// StartVars is Start where the run begins with vars, as the admin API's
// manual start with "vars" does.
func (s *Simulator) StartVars(ctx context.Context, id string, vars map[string]any) (engine.StartResult, SimResult, error) {
	ctx = s.withHTTP(ctx)
	addr := s.From
	if s.Channel == config.ChannelWhatsApp {
		addr = "whatsapp:" + s.From
	}
	started, err := s.Engine.StartVars(ctx, id, []string{addr}, vars)
	if err != nil {
		return started, SimResult{}, err
	}
	res, err := s.settle(ctx)
	return started, res, err
}

// withHTTP returns ctx under which http steps go through s.HTTP, if set.
func (s *Simulator) withHTTP(ctx context.Context) context.Context {
	if s.HTTP == nil {
		return ctx
	}
	return httpstep.WithTransport(ctx, s.HTTP)
}

// countSchedules starts counting the ticks of schedules not counted yet,
// from now, as a gateway does at its first start.
func (s *Simulator) countSchedules(ctx context.Context) error {
	for _, a := range s.Engine.Set().Automations() {
		if a.Config.Schedule != nil && !s.counted[a.ID] {
			if err := s.sched.RunDue(ctx, a.ID); err != nil {
				return err
			}
			s.counted[a.ID] = true
		}
	}
	return nil
}

// nextTick finds the soonest coming schedule tick and its automation ("" if
// there is none).
func (s *Simulator) nextTick(ctx context.Context) (time.Time, string, error) {
	var soonest time.Time
	id := ""
	set := s.Engine.Set()
	for _, a := range set.Automations() {
		if a.Config.Schedule == nil {
			continue
		}
		sched, err := schedule.ScheduleOf(set, a)
		if err != nil {
			return time.Time{}, "", err
		}
		st, err := s.sched.State(ctx, a.ID)
		if err != nil || st == nil {
			return time.Time{}, "", err
		}
		if next := sched.Next(st.Tick); id == "" || next.Before(soonest) {
			soonest, id = next, a.ID
		}
	}
	return soonest, id, nil
}

// nextDue finds the soonest timer due by end.
func (s *Simulator) nextDue(ctx context.Context, end time.Time) (time.Time, bool, error) {
	var due time.Time
	ok := false
	err := s.Store.View(ctx, func(tx engine.Tx) error {
		ts, err := tx.DueTimers(end, 1)
		if err != nil || len(ts) == 0 {
			return err
		}
		due, ok = ts[0].Due, true
		return nil
	})
	return due, ok, err
}

// settle fires due timers (and step I/O) until nothing is due now, then
// takes every queued message out of the outbox as sent.
func (s *Simulator) settle(ctx context.Context) (SimResult, error) {
	for range 1000 {
		n, err := s.Engine.FireDue(ctx)
		if err != nil {
			return SimResult{}, err
		}
		s.Engine.WaitIO()
		if n == 0 {
			break
		}
	}
	var res SimResult
	err := s.Store.Update(ctx, func(tx engine.Tx) error {
		res.Sent = res.Sent[:0]
		ids, err := tx.Outbox("", 10000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			m.Status = engine.StatusDev
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Dequeue(id); err != nil {
				return err
			}
			res.Sent = append(res.Sent, m)
		}
		return nil
	})
	res.Events, s.events = s.events, nil
	return res, err
}

// Contact returns the simulated contact as stored.
func (s *Simulator) Contact(ctx context.Context) (*engine.Contact, error) {
	var c *engine.Contact
	err := s.Store.View(ctx, func(tx engine.Tx) error {
		var err error
		c, err = tx.Contact(s.From)
		return err
	})
	return c, err
}

// Print writes a result the way `keyway simulate` shows it: what the
// enrollments did and what they sent, in the order it happened.
func (s *Simulator) Print(res SimResult) {
	if s.out == nil {
		return
	}
	if in := res.In; in != nil && in.Button != "" {
		fmt.Fprintf(s.out, "  (choice %s: %q)\n", in.Button, in.Body)
	}
	for _, ev := range res.Events {
		if m := ev.Message; m != nil {
			s.printMessage(m)
			continue
		}
		step := ""
		if ev.Step != "" {
			step = " step " + ev.Step
		}
		if ev.Automation == "" {
			fmt.Fprintf(s.out, "  [staff] %s\n", ev.What)
			continue
		}
		fmt.Fprintf(s.out, "  [%s%s] %s\n", ev.Automation, step, ev.What)
	}
	if res.Via == engine.ViaStored {
		fmt.Fprintln(s.out, "  (stored; nothing matched)")
	}
}

func (s *Simulator) printMessage(m *engine.Message) {
	note := ""
	if m.Status == engine.StatusSuppressed {
		note = " [NOT SENT: " + m.Error + "]"
	}
	// Choices show as a provider without buttons sends them: numbered
	// lines after the text, each indented under the message.
	body := TemplateText(m)
	if body == "" {
		body = indentRest(engine.TextWithChoices(m), "    ")
	}
	switch {
	case m.Kind == engine.KindEmail:
		fmt.Fprintf(s.out, "  email → %s: %s\n%s\n", strings.Join(m.To, ", "), m.Subject, indent(m.Body, "    | "))
	case m.Purpose == engine.PurposeStaff:
		fmt.Fprintf(s.out, "  staff answer → %s (%s from %s): %s%s\n", strings.Join(m.To, ", "), m.Channel, m.From, m.Body, note)
	case m.Purpose == engine.PurposeForward:
		fmt.Fprintf(s.out, "  forward → %s (from %s): %s%s\n", strings.Join(m.To, ", "), m.From, body, note)
	default:
		fmt.Fprintf(s.out, "  reply → %s (%s from %s): %s%s\n", strings.Join(m.To, ", "), m.Channel, m.From, body, note)
	}
	for _, u := range m.Media {
		fmt.Fprintf(s.out, "    media: %s\n", u)
	}
}

// TemplateText shows a template send: `template HX… {"1":"…"}` (a
// content SID and its rendered variables as JSON, keys sorted, as they are
// sent) or `template name (en_US) ["…"]` (a named template, its language
// and variables), or both joined by " or " for a template given in both
// forms (the provider of the sending number takes one); "" for a message
// that is no template.
func TemplateText(m *engine.Message) string {
	return strings.Join(TemplateForms(m), " or ")
}

// TemplateForms shows each form of a template send as TemplateText does:
// the content SID form first, then the named one; none for a message that
// is no template.
func TemplateForms(m *engine.Message) []string {
	var out []string
	show := func(what string, vars any) {
		b, err := json.Marshal(vars)
		if err != nil {
			out = append(out, "template "+what+" "+fmt.Sprint(vars))
			return
		}
		out = append(out, "template "+what+" "+string(b))
	}
	if m.ContentSID != "" {
		show(m.ContentSID, m.ContentVariables)
	}
	if m.Template != nil {
		show(m.Template.Name+" ("+m.Template.Language+")", m.Template.Variables)
	}
	return out
}

// indentRest puts prefix before every line of s but the first.
func indentRest(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
