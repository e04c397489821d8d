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
