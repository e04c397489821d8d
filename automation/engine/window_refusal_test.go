package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

const windowRefusalConfig = `
providers:
  twilio:
    numbers:
      - { number: "+15005550006", channel: whatsapp }
automations:
  - id: ask
    keywords: [ASK]
    steps:
      - { type: reply, text: "Your name?", on_error: sorry }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks" }
      - { type: end }
      - { id: sorry, type: tag, add: [unreachable] }
  - id: once
    keywords: [ONCE]
    steps:
      - { type: reply, text: "Just this", on_error: sorry }
      - { type: end }
      - { id: sorry, type: tag, add: [unreachable] }
  - id: bare
    keywords: [BARE]
    steps:
      - { type: reply, text: "No way back" }
      - { type: wait, duration: 1h }
  - id: tmpl
    keywords: [TMPL]
    steps:
      - { type: reply, text: "Hello", template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ message.body }}" } }, on_error: sorry }
      - { type: wait, duration: 1h }
      - { type: end }
      - { id: sorry, type: tag, add: [unreachable] }
  - id: asktmpl
    keywords: [ASKT]
    steps:
      - { type: reply, text: "Size?", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
      - { type: wait_for_reply, save_as: size }
      - { type: wait, duration: 1h }
  - id: menu
    keywords: [MENU]
    steps:
      - { type: reply, text: "Pick one", buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Hours" } ], on_error: sorry }
      - { type: wait, duration: 1h }
      - { type: end }
      - { id: sorry, type: tag, add: [unreachable] }
  - id: fwd
    keywords: [FWD]
    steps:
      - { type: forward_to_mobile, to: ["+15550100001", "+15550100002"], from: "+15005550006", text: "Call back", on_error: sorry }
      - { type: wait, duration: 1h }
      - { type: end }
      - { id: sorry, type: reply, text: "Sorry, nobody can take it" }
      - { type: wait, duration: 1h }
`

// refusalSim is a simulator of windowRefusalConfig with a WhatsApp contact.
func refusalSim(t *testing.T) *sim.Simulator {
	s := simtest.At(t, simtest.Compile(t, windowRefusalConfig), time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC))
	s.Channel = config.ChannelWhatsApp
	return s
}

// enrollmentIn returns the contact's latest enrollment in automation.
func enrollmentIn(t *testing.T, s *sim.Simulator, automation string) *engine.Enrollment {
	t.Helper()
	var ens []*engine.Enrollment
	err := s.Store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ens, err = tx.Enrollments(automation, s.From, false, 10)
		return err
	})
	if err != nil || len(ens) == 0 {
		t.Fatalf("enrollments of %s in %s: %v, %v", s.From, automation, ens, err)
	}
	return ens[0]
}

// sayTo has the contact say body and returns what was sent.
func sayTo(t *testing.T, s *sim.Simulator, body string) []*engine.Message {
	t.Helper()
	res, err := s.Say(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	return res.Sent
}

// refuse has the provider refuse m as outside the window, as the outbox
// reports it, and returns what was sent then.
func refuse(t *testing.T, s *sim.Simulator, m *engine.Message) []*engine.Message {
	t.Helper()
	ctx := context.Background()
	if err := s.Engine.RefusedOutsideWindow(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	return simtest.DrainOutbox(t, s.Store)
}

func tagged(t *testing.T, s *sim.Simulator) bool {
	t.Helper()
	c, err := s.Contact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(c.Tags, "unreachable")
}

// A reply that keyway sent inside the window and the provider refused as
// outside it takes the step's on_error, from where the enrollment stood
// since: it leaves the wait for a reply and runs the on_error step.
func TestRefusedReplyTakesOnError(t *testing.T) {
	s := refusalSim(t)
	sent := sayTo(t, s, "ASK")
	if len(sent) != 1 || sent[0].Body != "Your name?" || sent[0].Step != "#1" {
		t.Fatalf("sent %+v, want the question, marked as step #1's", sent)
	}
	if en := enrollmentIn(t, s, "ask"); en.Status != engine.EnrollmentWaitingReply {
		t.Fatalf("before the refusal the enrollment is %s, want waiting for the reply", en.Status)
	}
	if got := refuse(t, s, sent[0]); len(got) != 0 {
		t.Fatalf("sent %+v after the refusal, want nothing", got)
	}
	if !tagged(t, s) {
		t.Error("the on_error step did not run")
	}
	en := enrollmentIn(t, s, "ask")
	if en.Active() || en.EndReason != engine.ReasonCompleted || en.Step != "sorry" {
		t.Errorf("enrollment %s at %s (%s), want completed after sorry", en.Status, en.Step, en.EndReason)
	}
	c, err := s.Contact(context.Background())
	if err != nil || c.InWindow(config.ChannelWhatsApp, s.Clock.Now()) {
		t.Errorf("contact %+v still in the window (%v)", c, err)
	}
}

// With neither template nor on_error, the enrollment ends with the window's
// reason.
func TestRefusedReplyWithoutOnErrorEnds(t *testing.T) {
	s := refusalSim(t)
	sent := sayTo(t, s, "BARE")
	refuse(t, s, sent[0])
	en := enrollmentIn(t, s, "bare")
	if en.Active() || en.EndReason != engine.ReasonOutsideWindow {
		t.Errorf("enrollment %s (%q), want ended with %q", en.Status, en.EndReason, engine.ReasonOutsideWindow)
	}
}

// A reply with a template sends the template in place of the refused text,
// rendered as the step renders it (with the message it answered), and the
// enrollment goes on where it stands; the template refused in turn is not
// sent again but takes on_error.
func TestRefusedReplySendsItsTemplate(t *testing.T) {
	s := refusalSim(t)
	sent := sayTo(t, s, "TMPL")
	if len(sent) != 1 || sent[0].Body != "Hello" {
		t.Fatalf("sent %+v, want the text inside the window", sent)
	}
	got := refuse(t, s, sent[0])
	if len(got) != 1 || got[0].ContentSID != "HX0123456789abcdef0123456789abcdef" || got[0].Body != "" ||
		got[0].ContentVariables["1"] != "TMPL" || got[0].From != sent[0].From || got[0].Step != "#1" {
		t.Fatalf("sent %+v after the refusal, want the template with 1=TMPL from %s", got, sent[0].From)
	}
	en := enrollmentIn(t, s, "tmpl")
	if en.Status != engine.EnrollmentWaiting || en.Step != "#2" || tagged(t, s) {
		t.Fatalf("enrollment %s at %s, tagged %v; want still waiting at #2", en.Status, en.Step, tagged(t, s))
	}
	if again := refuse(t, s, got[0]); len(again) != 0 || !tagged(t, s) {
		t.Errorf("the refused template: sent %+v, tagged %v; want nothing sent and on_error", again, tagged(t, s))
	}
}

// An enrollment that ended before the refusal came back is not revived:
// the on_error step does not run; a template would still be sent.
func TestRefusedReplyOfAnEndedEnrollment(t *testing.T) {
	s := refusalSim(t)
	sent := sayTo(t, s, "ONCE")
	if en := enrollmentIn(t, s, "once"); en.Active() {
		t.Fatalf("enrollment %s, want completed", en.Status)
	}
	refuse(t, s, sent[0])
	if tagged(t, s) {
		t.Error("the on_error step of an ended enrollment ran")
	}
	if en := enrollmentIn(t, s, "once"); en.EndReason != engine.ReasonCompleted {
		t.Errorf("end reason %q, want it kept as completed", en.EndReason)
	}
}

// A forward to two staff members that both refuse takes on_error once,
// though the enrollment is still active (waiting after on_error) when the
// second refusal comes.
func TestRefusedForwardsTakeOnErrorOnce(t *testing.T) {
	s := refusalSim(t)
	contact := s.From
	for _, staff := range []string{"+15550100001", "+15550100002"} {
		s.From = staff // staff write first: their windows are open
		sayTo(t, s, "hello")
	}
	s.From = contact
	sent := sayTo(t, s, "FWD")
	if len(sent) != 2 || sent[0].Body == "" || sent[0].Purpose != engine.PurposeForward {
		t.Fatalf("sent %+v, want two forwards", sent)
	}
	var sorry int
	for _, m := range sent {
		for _, g := range refuse(t, s, m) {
			if g.Body == "Sorry, nobody can take it" && g.To[0] == contact {
				sorry++
			}
		}
	}
	if sorry != 1 {
		t.Errorf("the on_error reply went %d times, want once", sorry)
	}
}

// A status report of the refusal takes the same path as a refused send,
// once however often it comes.
func TestRefusedStatusTakesOnError(t *testing.T) {
	ctx := context.Background()
	s := refusalSim(t)
	sent := sayTo(t, s, "ASK")
	st := providers.Status{ProviderID: "SM1", Status: "failed", ErrorCode: 63016, OutsideWindow: true}
	for range 2 {
		if _, err := s.Engine.UpdateStatus(ctx, "simulator", st, sent[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if !tagged(t, s) {
		t.Error("the on_error step did not run")
	}
	if en := enrollmentIn(t, s, "ask"); en.Active() || en.Step != "sorry" {
		t.Errorf("enrollment %s at %s, want ended after sorry", en.Status, en.Step)
	}
}

// A message no step queued (a staff answer, a one-off send) only closes
// the window.
func TestRefusedMessageWithoutStepClosesTheWindow(t *testing.T) {
	ctx := context.Background()
	s := refusalSim(t)
	sent := sayTo(t, s, "ASK")
	m := *sent[0]
	m.ID, m.Enrollment, m.Automation, m.Step = "oneoff", "", "", ""
	if err := s.Store.Update(ctx, func(tx engine.Tx) error { return tx.PutMessage(&m) }); err != nil {
		t.Fatal(err)
	}
	if got := refuse(t, s, &m); len(got) != 0 || tagged(t, s) {
		t.Fatalf("sent %+v, tagged %v; want nothing done but the window", got, tagged(t, s))
	}
	if en := enrollmentIn(t, s, "ask"); en.Status != engine.EnrollmentWaitingReply {
		t.Errorf("enrollment %s, want still waiting for the reply", en.Status)
	}
	c, err := s.Contact(ctx)
	if err != nil || c.InWindow(config.ChannelWhatsApp, s.Clock.Now()) {
		t.Errorf("contact %+v still in the window (%v)", c, err)
	}
}

// The template goes on the channel of the refused message, from its
// number, though the conversation has moved to SMS since.
func TestRefusedReplyTemplateKeepsItsChannel(t *testing.T) {
	s := refusalSim(t)
	sent := sayTo(t, s, "ASKT")
	s.Channel = config.ChannelSMS // the answer comes by SMS
	sayTo(t, s, "Large")
	if en := enrollmentIn(t, s, "asktmpl"); en.Channel != config.ChannelSMS {
		t.Fatalf("enrollment on %s, want the conversation moved to sms", en.Channel)
	}
	got := refuse(t, s, sent[0])
	if len(got) != 1 || got[0].Channel != config.ChannelWhatsApp || got[0].From != sent[0].From || got[0].ContentSID == "" {
		t.Fatalf("sent %+v, want the template on WhatsApp from %s", got, sent[0].From)
	}
}

// offerOf returns the choices the simulator's contact has been offered.
func offerOf(t *testing.T, s *sim.Simulator) *engine.Offer {
	t.Helper()
	c, err := s.Contact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Offer
}

// Choices in a message the provider refused, as a send or in a status
// report, were never seen: the contact's record forgets them, so that a
// number typed later picks nothing.
func TestRefusedChoicesAreForgotten(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"send", "status"} {
		t.Run(how, func(t *testing.T) {
			s := refusalSim(t)
			sent := sayTo(t, s, "MENU")
			if len(sent) != 1 || offerOf(t, s) == nil || offerOf(t, s).Message != sent[0].ID {
				t.Fatalf("sent %+v, offer %+v; want the choices offered", sent, offerOf(t, s))
			}
			if how == "send" {
				refuse(t, s, sent[0])
			} else {
				st := providers.Status{ProviderID: "SM1", Status: "failed", ErrorCode: 63016, OutsideWindow: true}
				if _, err := s.Engine.UpdateStatus(ctx, "simulator", st, sent[0].ID); err != nil {
					t.Fatal(err)
				}
			}
			if o := offerOf(t, s); o != nil || !tagged(t, s) {
				t.Fatalf("after the refusal: offer %+v, on_error ran %v; want no offer, on_error run", o, tagged(t, s))
			}
		})
	}
}
