package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

func TestRandomRefUsesTheUnambiguousAlphabet(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		ref := engine.RandomRef()
		if len(ref) != engine.RefLength {
			t.Fatalf("reference %q has %d characters, want %d", ref, len(ref), engine.RefLength)
		}
		for _, r := range ref {
			if !strings.ContainsRune(engine.RefAlphabet, r) {
				t.Fatalf("reference %q holds %q, not in %s", ref, r, engine.RefAlphabet)
			}
		}
		seen[ref] = true
	}
	if len(seen) < 1900 {
		t.Errorf("2000 references gave only %d distinct ones", len(seen))
	}
	for _, ambiguous := range "0O1IL" {
		if strings.ContainsRune(engine.RefAlphabet, ambiguous) {
			t.Errorf("the alphabet holds %q, easily misread", ambiguous)
		}
	}
}

// refEngine runs set over a memory store with references taken in turn
// from refs, on a fake clock.
func refEngine(t *testing.T, src string, refs ...string) (*engine.Engine, *engine.FakeClock, engine.Store) {
	t.Helper()
	i := 0
	next := func() string {
		if i >= len(refs) {
			t.Fatalf("more than %d references asked for", len(refs))
		}
		i++
		return refs[i-1]
	}
	store := mem.NewMemStore()
	clock := engine.NewFakeClock(sim.SimStart)
	return engine.New(store, compileSet(t, src), engine.Options{Clock: clock, NewRef: next}), clock, store
}

// sayFrom handles one inbound message and returns the bodies it queued, to
// whom; they are then sent (out of the outbox, the provider took them).
func sayFrom(t *testing.T, e *engine.Engine, store engine.Store, n int, from, channel, body string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	h, err := e.HandleInbound(ctx, providers.Inbound{
		Provider: "test", ID: fmt.Sprintf("SM%d", n), Channel: channel, From: from, To: "+15005550006", Body: body,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = store.Update(ctx, func(tx engine.Tx) error {
		out = out[:0]
		ids, err := tx.Outbox("", 0)
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			out = append(out, m.To[0]+" "+m.Body)
			// Sent, as the outbox records it: the provider took it.
			m.Status, m.ProviderID = engine.StatusSent, "SM"+m.ID
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
	return h.Via, out
}

const staffRouting = `
staff:
  - { number: "+15550100101", name: "Bob" }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// References are unique among open conversations: a drawn reference that
// another contact holds is drawn again; the same contact keeps its own;
// one unused for RefTTL may go to another contact.
func TestReferencesAreUniquePerConversation(t *testing.T) {
	e, clock, store := refEngine(t, staffRouting, "AAAA", "AAAA", "BBBB", "AAAA")
	_, got := sayFrom(t, e, store, 1, "+15551230001", "sms", "hi")
	if want := `+15550100100 #AAAA From +15551230001: "hi"`; len(got) != 1 || got[0] != want {
		t.Fatalf("first forward %q, want %q", got, want)
	}
	_, got = sayFrom(t, e, store, 2, "+15551230002", "sms", "hello")
	if len(got) != 1 || !strings.HasPrefix(got[0], "+15550100100 #BBBB ") {
		t.Fatalf("second contact's forward %q, want #BBBB (AAAA is taken)", got)
	}
	_, got = sayFrom(t, e, store, 3, "+15551230001", "sms", "again")
	if len(got) != 1 || !strings.HasPrefix(got[0], "+15550100100 #AAAA ") {
		t.Fatalf("first contact's second forward %q, want its #AAAA again", got)
	}
	clock.Advance(engine.RefTTL + time.Hour)
	_, got = sayFrom(t, e, store, 4, "+15551230003", "sms", "late")
	if len(got) != 1 || !strings.HasPrefix(got[0], "+15550100100 #AAAA ") {
		t.Fatalf("after RefTTL a third contact got %q, want the lapsed #AAAA", got)
	}
}

// A staff message is never a contact's: no keyword, no catch-all. Plain
// text answers the most recent forward within 24 hours only; compliance
// words apply to staff as to anyone; an answer on WhatsApp outside the
// 24-hour window is refused with the reason.
func TestStaffRouting(t *testing.T) {
	e, clock, store := refEngine(t, staffRouting, "AAAA", "BBBB")
	staff := "+15550100100"
	n := 0
	next := func(from, channel, body string) (string, []string) {
		n++
		return sayFrom(t, e, store, n, from, channel, body)
	}
	if route, got := next(staff, "sms", "JOIN"); route != engine.ViaStaff || len(got) != 1 || !strings.Contains(got[0], "no forward reached you") {
		t.Fatalf("JOIN from staff: route %s, sent %q", route, got)
	}
	if route, got := next("+15550100101", "sms", "anyone?"); route != engine.ViaStaff || len(got) != 1 || !strings.HasPrefix(got[0], "+15550100101 Not delivered") {
		t.Fatalf("a listed staff member: route %s, sent %q", route, got)
	}

	next("+15551230001", "whatsapp", "hola")
	if route, got := next(staff, "sms", "hi there"); route != engine.ViaStaff || len(got) != 1 || got[0] != "+15551230001 hi there" {
		t.Fatalf("plain answer: route %s, sent %q", route, got)
	}
	clock.Advance(23*time.Hour + 59*time.Minute)
	if _, got := next(staff, "sms", "still here"); len(got) != 1 || got[0] != "+15551230001 still here" {
		t.Fatalf("answer at 23h59m: sent %q", got)
	}
	clock.Advance(2 * time.Minute) // 24h01m after the contact wrote
	if _, got := next(staff, "sms", "#AAAA late"); len(got) != 1 || !strings.HasPrefix(got[0], staff+" #AAAA not delivered: outside the WhatsApp 24-hour window") {
		t.Fatalf("answer outside the WhatsApp window: sent %q", got)
	}
	clock.Advance(25 * time.Hour)
	if _, got := next(staff, "sms", "plain, too late"); len(got) != 1 || !strings.Contains(got[0], "no forward reached you in the last 24 hours") {
		t.Fatalf("plain text more than 24h after the last forward: sent %q", got)
	}

	if route, got := next(staff, "sms", "STOP"); route != engine.ViaCompliance || len(got) != 1 || !strings.Contains(got[0], "unsubscribed") {
		t.Fatalf("STOP from staff: route %s, sent %q", route, got)
	}
	if route, _ := next(staff, "sms", "#done"); route != engine.ViaStaff {
		t.Fatalf("#done from staff: route %s", route)
	}
}

// Plain text answers the most recent forward sent to the staff member,
// even after the staff member answered an older conversation by #REF.
func TestPlainTextAnswersTheMostRecentForward(t *testing.T) {
	e, _, store := refEngine(t, staffRouting, "AAAA", "BBBB")
	staff := "+15550100100"
	sayFrom(t, e, store, 1, "+15551230001", "sms", "first")
	sayFrom(t, e, store, 2, "+15551230002", "sms", "second")
	if _, got := sayFrom(t, e, store, 3, staff, "sms", "#AAAA to the first"); len(got) != 1 || got[0] != "+15551230001 to the first" {
		t.Fatalf("#AAAA answer: sent %q", got)
	}
	if _, got := sayFrom(t, e, store, 4, staff, "sms", "plain"); len(got) != 1 || got[0] != "+15551230002 plain" {
		t.Fatalf("plain answer: sent %q, want it to the second contact (the most recent forward)", got)
	}
}

// A staff answer goes where the contact wrote last: a contact forwarded
// from SMS that then wrote on WhatsApp is answered on WhatsApp.
func TestStaffAnswerFollowsTheContactsChannel(t *testing.T) {
	e, _, store := refEngine(t, staffRouting, "AAAA")
	sayFrom(t, e, store, 1, "+15551230001", "sms", "question")
	sayFrom(t, e, store, 2, "+15551230001", "whatsapp", "JOIN")
	sayFrom(t, e, store, 3, "+15550100100", "sms", "answer")
	var answer *engine.Message
	err := store.View(context.Background(), func(tx engine.Tx) error {
		ms, err := tx.Messages("+15551230001", 10)
		for _, m := range ms {
			if m.Purpose == engine.PurposeStaff && answer == nil {
				answer = m
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil || answer.Channel != "whatsapp" || answer.Body != "answer" {
		t.Fatalf("staff answer = %+v, want it on whatsapp", answer)
	}
}
