package test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/test/fakes"
)

// A correctly signed POST to /webhooks/meta is answered 200 whatever it
// holds: an item keyway cannot read (a message without an id, a status
// without one) is skipped and the rest of the batch is handled, and a body
// that is not JSON is taken and dropped. Anything but 200 would have Meta
// send the same payload again for days, the good messages in it with it.
func TestMetaSignedPayloadsAreAlwaysTaken(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+metaAutomations)
	now := time.Now().Unix()
	noID := fmt.Sprintf(`{"from":"15557775001","timestamp":"%d","type":"text","text":{"body":"ORDER"}}`, now)
	good := fmt.Sprintf(`{"from":"15557775002","id":"wamid.M2","timestamp":"%d","type":"text","text":{"body":"ORDER"}}`, now)
	badStatus := `{"status":"delivered","timestamp":"1","recipient_id":"15557775002"}`
	if code := postMeta(t, g, metaSecret, metaHook([]string{noID, good}, []string{badStatus})); code != 200 {
		t.Fatalf("a signed batch with a message and a status keyway cannot read answered %d, want 200", code)
	}
	Eventually(t, patience, "the readable message answered", func() bool {
		for _, s := range graph.Sent() {
			if s.To == "15557775002" && s.Text() == "Your order is on its way" {
				return true
			}
		}
		return false
	})
	if n := len(storedMessages(t, g, "whatsapp:+15557775001")); n != 0 {
		t.Errorf("the message without an id stored %d messages", n)
	}
	// Hand-written the way a payload is often written: the timestamp and
	// the sender as JSON numbers, no type, no field, no metadata (the
	// config has one Meta number), beside a message whose text is of the
	// wrong shape. The readable one is answered.
	loose := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messages":[`+
		`{"from":15557775003,"id":"wamid.M3","timestamp":"%d","text":"ORDER"},`+
		`{"from":15557775004,"id":"wamid.M4","timestamp":%d,"text":{"body":"ORDER"}}]}}]}]}`, now, now)
	if code := postMeta(t, g, metaSecret, loose); code != 200 {
		t.Fatalf("a loosely written payload answered %d, want 200", code)
	}
	Eventually(t, patience, "the loosely written message answered", func() bool {
		for _, s := range graph.Sent() {
			if s.To == "15557775004" && s.Text() == "Your order is on its way" {
				return true
			}
		}
		return false
	})
	if code := postMeta(t, g, metaSecret, `{"entry":`); code != 200 {
		t.Errorf("a signed body that is not JSON answered %d, want 200", code)
	}
	if code := postMeta(t, g, "not-the-secret", `{"entry":`); code != 403 {
		t.Errorf("a badly signed body that is not JSON answered %d, want 403", code)
	}
}
