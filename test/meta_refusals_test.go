package test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// Meta reports most refusals in a failed status, after it took the send:
// 131050 (the contact stopped marketing messages) stops what is not an
// answer to the contact, and 131047 (outside the window) closes the
// contact's window, so that a later free-form step takes its on_error
// instead of failing at Meta again.
func TestMetaFailedStatusesActOnTheContact(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`automations:
  - id: order
    keywords: [ORDER]
    steps:
      - { type: reply, text: "Your order is on its way" }
  - id: promo
    channel: whatsapp
    steps:
      - { type: reply, text: "Deal of the week" }
  - id: nudge
    channel: whatsapp
    steps:
      - { type: reply, text: "Still there?", on_error: gone }
      - { type: end }
      - { id: gone, type: tag, add: [unreachable] }
`)
	const ann, bob = "+15551238821", "+15551238822"
	// Each writes, and is answered through the Graph API.
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.AN1", ann[1:], "ORDER"), metaText("wamid.BO1", bob[1:], "ORDER")}, nil)); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "both answers sent", func() bool { return len(graph.Sent()) == 2 })
	wamid := map[string]string{}
	for _, s := range graph.Sent() {
		wamid["+"+s.To] = s.ID
	}
	for _, who := range []string{ann, bob} {
		Eventually(t, patience, "the answer to "+who+" recorded as sent", func() bool {
			for _, m := range storedMessages(t, g, who) {
				if m.Direction == "out" {
					return m.ProviderID == wamid[who]
				}
			}
			return false
		})
	}

	// Meta then reports Ann's answer refused with 131050, Bob's with 131047.
	failed := func(to string, code int) string {
		return fmt.Sprintf(`{"id":%q,"status":"failed","timestamp":"1","recipient_id":%q,"errors":[{"code":%d,"title":"refused","message":"refused","error_data":{"details":"refused"}}]}`,
			wamid[to], to[1:], code)
	}
	if code := postMeta(t, g, metaSecret, metaHook(nil, []string{failed(ann, 131050), failed(bob, 131047)})); code != 200 {
		t.Fatalf("statuses answered %d", code)
	}
	for _, who := range []string{ann, bob} {
		Eventually(t, patience, "the answer to "+who+" recorded as failed", func() bool {
			for _, m := range storedMessages(t, g, who) {
				if m.Direction == "out" {
					return m.Status == "failed"
				}
			}
			return false
		})
	}

	// A message to Ann that answers nothing of hers is not sent.
	startBy(t, g, "promo", "whatsapp:"+ann)
	Eventually(t, patience, "the promotion to Ann suppressed", func() bool {
		for _, m := range storedMessages(t, g, ann) {
			if m.Body == "Deal of the week" {
				return m.Status == "suppressed"
			}
		}
		return false
	})
	// Bob's window is closed: the free-form step takes its on_error.
	startBy(t, g, "nudge", "whatsapp:"+bob)
	Eventually(t, patience, "Bob tagged unreachable by the on_error step", func() bool {
		return slices.Contains(g.Contact(bob).Contact.Tags, "unreachable")
	})
	for _, s := range graph.Sent() {
		if s.Text() == "Deal of the week" || s.Text() == "Still there?" {
			t.Errorf("sent %+v after Meta refused the contact", s)
		}
	}
}

// A failed status with one of Meta's throttling codes says Meta took the
// message and then dropped it for its rate limits: keyway sends it again
// after a backoff, once, and a repeat of the report about the dropped
// attempt sends nothing more.
func TestMetaThrottledStatusSendsAgain(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`automations:
  - id: order
    keywords: [ORDER]
    steps:
      - { type: reply, text: "Your order is on its way" }
`)
	const ann = "+15551238831"
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.AT1", ann[1:], "ORDER")}, nil)); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the answer sent", func() bool { return len(graph.Sent()) == 1 })
	first := graph.Sent()[0].ID
	answer := func() (m storedMessage, ok bool) {
		for _, m := range storedMessages(t, g, ann) {
			if m.Direction == "out" {
				return m, true
			}
		}
		return storedMessage{}, false
	}
	Eventually(t, patience, "the answer recorded as sent", func() bool { m, ok := answer(); return ok && m.ProviderID == first })

	throttled := fmt.Sprintf(`{"id":%q,"status":"failed","timestamp":"1","recipient_id":%q,"errors":[{"code":130429,"title":"Rate limit hit","message":"Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}}]}`,
		first, ann[1:])
	if code := postMeta(t, g, metaSecret, metaHook(nil, []string{throttled})); code != 200 {
		t.Fatalf("status answered %d", code)
	}
	Eventually(t, patience, "the answer sent again", func() bool { return len(graph.Sent()) == 2 })
	again := graph.Sent()[1]
	if again.Text() != "Your order is on its way" || again.ID == first {
		t.Fatalf("sent again %+v (text %q), want the same answer under a new id", again, again.Text())
	}
	Eventually(t, patience, "the second attempt recorded as sent", func() bool { m, ok := answer(); return ok && m.ProviderID == again.ID && m.Status == "sent" })

	// Meta repeats the report on the dropped attempt: nothing moves.
	if code := postMeta(t, g, metaSecret, metaHook(nil, []string{throttled})); code != 200 {
		t.Fatalf("repeated status answered %d", code)
	}
	// The webhook is answered once its statuses are stored: the message
	// is still the second attempt, sent, and not queued again.
	if m, ok := answer(); !ok || m.Status != "sent" || m.ProviderID != again.ID {
		t.Fatalf("after the repeated report the answer is %+v, want sent as %s", m, again.ID)
	}
	delivered := fmt.Sprintf(`{"id":%q,"status":"delivered","timestamp":"2","recipient_id":%q}`, again.ID, ann[1:])
	if code := postMeta(t, g, metaSecret, metaHook(nil, []string{delivered})); code != 200 {
		t.Fatalf("delivered status answered %d", code)
	}
	Eventually(t, patience, "the second attempt recorded as delivered", func() bool { m, ok := answer(); return ok && m.Status == "delivered" })
	if n := len(graph.Sent()); n != 2 {
		t.Fatalf("%d sends, want 2: the repeated report on the dropped attempt sent it again", n)
	}
}
