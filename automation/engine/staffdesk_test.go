package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

// outboxNow returns what is in the outbox, "to body" each, and sends (as
// the provider took them) those for which send reports true; the others
// stay queued.
func outboxNow(t *testing.T, store engine.Store, send func(m *engine.Message) bool) []string {
	t.Helper()
	var out []string
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		out = out[:0]
		ids, err := tx.Outbox("", 0)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			out = append(out, m.To[0]+" "+m.Body)
			if !send(m) {
				continue
			}
			m.Status, m.ProviderID = engine.StatusSent, "SM"+m.ID
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sendAll(*engine.Message) bool { return true }

const deskConfig = `
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// Two handoffs are open with one staff member, the second's forward still
// queued (behind the sender's mps): a plain answer goes to the first, the
// only conversation the staff member has seen. Once the second forward is
// handed over, plain text could mean either: nothing is sent to a contact,
// and the staff member is asked which, by reference and name; #REF text
// still goes where it says.
func TestPlainAnswerCountsOnlyForwardsHandedOver(t *testing.T) {
	const staff, ann, bea = "+15550100100", "+15551230001", "+15551230002"
	e, _, store := refEngine(t, deskConfig, "AAAA", "BBBB")
	ctx := context.Background()
	if err := store.Update(ctx, func(tx engine.Tx) error { return tx.PutContact(&engine.Contact{Phone: ann, Name: "Ann"}) }); err != nil {
		t.Fatal(err)
	}
	n := 0
	say := func(from, body string, send func(*engine.Message) bool) []string {
		t.Helper()
		n++
		if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: fmt.Sprintf("SM%d", n), Channel: "sms", From: from, To: "+15005550006", Body: body}); err != nil {
			t.Fatal(err)
		}
		return outboxNow(t, store, send)
	}
	say(ann, "AGENT", sendAll)
	queuedB := func(m *engine.Message) bool { return !strings.HasPrefix(m.Body, "#BBBB") }
	if got := say(bea, "AGENT", queuedB); len(got) != 1 || !strings.HasPrefix(got[0], staff+" #BBBB") {
		t.Fatalf("B's handoff queued %q, want its forward to staff", got)
	}

	got := say(staff, "On it", queuedB)
	if want := []string{staff + " #BBBB", ann + " On it"}; len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || got[1] != want[1] {
		t.Fatalf("plain answer with B's forward still queued: outbox %q, want B's forward still there and the answer to Ann", got)
	}

	outboxNow(t, store, sendAll) // B's forward goes
	got = say(staff, "Which of you?", sendAll)
	want := staff + " Not sent: more than one conversation could be meant. Which conversation? Start your answer with #BBBB (+15551230002) or #AAAA (Ann)."
	if len(got) != 1 || got[0] != want {
		t.Fatalf("plain answer with two open handoffs: sent %q, want only\n%q", got, want)
	}
	if got := say(staff, "#bbbb Hello B", sendAll); len(got) != 1 || got[0] != bea+" Hello B" {
		t.Fatalf("#REF answer: sent %q", got)
	}
	// Both handoffs are still open: plain text is still ambiguous.
	if got := say(staff, "and now?", sendAll); len(got) != 1 || !strings.Contains(got[0], "Which conversation?") {
		t.Fatalf("plain answer, both handoffs open and answered: sent %q, want the question", got)
	}
	// #AAAA done closes Ann's: plain text now means Bea's, the one open.
	say(staff, "#AAAA done", sendAll)
	if got := say(staff, "Bye B", sendAll); len(got) != 1 || got[0] != bea+" Bye B" {
		t.Fatalf("plain answer with one handoff left open: sent %q, want it to B", got)
	}
}

// Without handoffs: the conversations forwarded and not answered yet are
// the candidates; with none, the most recent forward is meant.
func TestPlainAnswerAmongUnansweredForwards(t *testing.T) {
	const staff, x, y = "+15550100100", "+15551230011", "+15551230012"
	e, clock, store := refEngine(t, deskConfig, "XXXX", "YYYY")
	sayFrom(t, e, store, 1, x, "sms", "question x")
	sayFrom(t, e, store, 2, y, "sms", "question y")
	if _, got := sayFrom(t, e, store, 3, staff, "sms", "hm"); len(got) != 1 || !strings.Contains(got[0], "Start your answer with #YYYY (+15551230012) or #XXXX (+15551230011).") {
		t.Fatalf("plain answer, two unanswered forwards: sent %q, want the question", got)
	}
	if _, got := sayFrom(t, e, store, 4, staff, "sms", "#YYYY for y"); len(got) != 1 || got[0] != y+" for y" {
		t.Fatalf("#REF answer: sent %q", got)
	}
	if _, got := sayFrom(t, e, store, 5, staff, "sms", "for x"); len(got) != 1 || got[0] != x+" for x" {
		t.Fatalf("plain answer, X the only one unanswered: sent %q, want it to X", got)
	}
	if _, got := sayFrom(t, e, store, 6, staff, "sms", "again"); len(got) != 1 || got[0] != y+" again" {
		t.Fatalf("plain answer, both answered: sent %q, want it to Y, the most recent forward", got)
	}
	// Both write again: their new forwards are unanswered, both candidates.
	clock.Advance(time.Minute)
	sayFrom(t, e, store, 7, x, "sms", "one more thing")
	clock.Advance(time.Minute)
	sayFrom(t, e, store, 8, y, "sms", "me too")
	if _, got := sayFrom(t, e, store, 9, staff, "sms", "yes?"); len(got) != 1 || !strings.Contains(got[0], "Start your answer with #YYYY (+15551230012) or #XXXX (+15551230011).") {
		t.Fatalf("plain answer after new forwards of both: sent %q, want the question", got)
	}
}

// A forward that failed never reached the staff member: it does not count.
func TestPlainAnswerIgnoresFailedForwards(t *testing.T) {
	const staff, x = "+15550100100", "+15551230021"
	e, _, store := refEngine(t, deskConfig, "XXXX")
	ctx := context.Background()
	if _, err := e.HandleInbound(ctx, inbound(x, "question", 1)); err != nil {
		t.Fatal(err)
	}
	err := store.Update(ctx, func(tx engine.Tx) error {
		ids, err := tx.Outbox("", 0)
		for _, id := range ids {
			m, _ := tx.Message(id)
			m.Status, m.Error = engine.StatusFailed, "21211 invalid number"
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := sayFrom(t, e, store, 2, staff, "sms", "hello?"); len(got) != 1 || !strings.Contains(got[0], "no forward reached you") {
		t.Fatalf("plain answer after a failed forward: sent %q, want the note that none reached them", got)
	}
}

// A forward the outbox is sending (claimed, the provider asked, its answer
// not recorded yet) counts: the staff member may be reading it already.
func TestPlainAnswerCountsAForwardBeingSent(t *testing.T) {
	const staff, x = "+15550100100", "+15551230031"
	e, clock, store := refEngine(t, deskConfig, "XXXX")
	ctx := context.Background()
	if _, err := e.HandleInbound(ctx, inbound(x, "question", 1)); err != nil {
		t.Fatal(err)
	}
	err := store.Update(ctx, func(tx engine.Tx) error {
		ids, err := tx.Outbox("", 0)
		for _, id := range ids {
			m, _ := tx.Message(id)
			m.Sending = clock.Now() // claimed: the attempt is under way
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := outboxNow(t, store, func(m *engine.Message) bool { return m.To[0] != staff })
	if len(got) != 1 || !strings.HasPrefix(got[0], staff+" #XXXX") {
		t.Fatalf("outbox %q, want the forward being sent", got)
	}
	if _, got := sayFrom(t, e, store, 2, staff, "sms", "hello"); len(got) != 2 || got[1] != x+" hello" {
		t.Fatalf("plain answer while the forward is being sent: sent %q, want it to X", got)
	}
}

// A bare #done can only mean a handoff: with one open with the staff
// member and another conversation forwarded and unanswered, it closes the
// handoff (the automation goes on) instead of asking which conversation;
// with two open it asks which handoff and closes nothing; with none it
// says so.
func TestBareDoneClosesTheOneOpenHandoff(t *testing.T) {
	const staff, x, y, z = "+15550100100", "+15551230031", "+15551230032", "+15551230033"
	e, _, store := refEngine(t, deskConfig+`
  - id: agent2
    keywords: [PERSON]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
      - { type: reply, text: "Glad we could help." }
`, "XXXX", "YYYY", "ZZZZ")
	sayFrom(t, e, store, 1, x, "sms", "PERSON please")
	sayFrom(t, e, store, 2, y, "sms", "a question")
	_, got := sayFrom(t, e, store, 3, staff, "sms", "#done")
	if want := []string{x + " Glad we could help.", staff + " #XXXX: handoff closed."}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("#done with one handoff open and another forward unanswered: sent %q, want %q", got, want)
	}
	if _, got := sayFrom(t, e, store, 4, staff, "sms", "#done"); len(got) != 1 || got[0] != staff+" No handoff is open with you: nothing to close." {
		t.Fatalf("#done with no handoff open: sent %q", got)
	}
	sayFrom(t, e, store, 5, x, "sms", "PERSON again")
	sayFrom(t, e, store, 6, z, "sms", "PERSON")
	_, got = sayFrom(t, e, store, 7, staff, "sms", "#done")
	if want := staff + " Nothing closed: 2 handoffs are open with you, #ZZZZ (+15551230033) or #XXXX (+15551230031). Say which, e.g. #ZZZZ done."; len(got) != 1 || got[0] != want {
		t.Fatalf("#done with two handoffs open: sent %q, want only\n%q", got, want)
	}
	if _, got := sayFrom(t, e, store, 8, staff, "sms", "#zzzz done"); len(got) != 2 || got[0] != z+" Glad we could help." {
		t.Fatalf("#REF done: sent %q", got)
	}
}
