package test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/meta"
	"github.com/keyway-sms/keyway/test/fakes"
)

const (
	metaSecret  = "meta-app-secret"
	metaVerify  = "meta-verify-token"
	metaToken   = "meta-access-token"
	metaNumber  = "+15550001234"
	metaPhoneID = "106540352242922"
)

func metaSection(graph *fakes.Graph) string {
	return fmt.Sprintf(`  meta:
    app_secret: %q
    verify_token: %q
    access_token: %q
    api_base_url: %q
    numbers:
      - { number: %q, phone_number_id: %q }
`, metaSecret, metaVerify, metaToken, graph.URL(), metaNumber, metaPhoneID)
}

const metaAutomations = `automations:
  - id: help
    keywords: [MENU]
    steps:
      - type: reply
        text: "How can we help?"
        buttons: [ { id: ORDER, title: "My order" }, { id: AGENT, title: "A person" } ]
  - id: order
    keywords: [ORDER]
    steps:
      - { type: reply, text: "Your order is on its way" }
`

// metaHook is a webhook as Meta posts it, with messages and statuses (JSON
// objects) for our number.
func metaHook(messages, statuses []string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"15550001234","phone_number_id":"` + metaPhoneID + `"},"contacts":[{"profile":{"name":"Kerry"},"wa_id":"15551238801"}],` +
		`"messages":[` + strings.Join(messages, ",") + `],"statuses":[` + strings.Join(statuses, ",") + `]},"field":"messages"}]}]}`
}

func metaText(id, from, body string) string {
	return fmt.Sprintf(`{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}`, from, id, time.Now().Unix(), body)
}

// postMeta posts body to /webhooks/meta signed with secret ("" for none).
func postMeta(t *testing.T, g *Gateway, secret, body string) int {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if secret != "" {
		h[meta.SignatureHeader] = "sha256=" + meta.Sign(secret, []byte(body))
	}
	code, _ := g.PostRaw(meta.Path, body, h)
	return code
}

// The WhatsApp Cloud API end to end: the handshake, signed webhooks with
// several messages in one POST, buttons sent natively, a chosen button
// routed by its id, statuses, a refusal, and the contact shared with
// Twilio's WhatsApp.
func TestMetaWhatsAppCloudAPI(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+metaAutomations)

	res, err := http.Get(g.URL + meta.Path + "?hub.mode=subscribe&hub.challenge=8812&hub.verify_token=" + url.QueryEscape(metaVerify))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "8812" {
		t.Fatalf("handshake answered %d %q", res.StatusCode, b)
	}
	// A wrong or missing token is 403 and says so; the right token on a
	// request that is no handshake is 400.
	for query, want := range map[string]string{
		"hub.mode=subscribe&hub.challenge=8812&hub.verify_token=wrong":                            "403 forbidden: the verify token does not match",
		"hub.mode=subscribe&hub.challenge=8812":                                                   "403 forbidden: the verify token does not match",
		"hub.mode=subscribe&hub.verify_token=" + url.QueryEscape(metaVerify):                      "400 bad request: not a subscription handshake",
		"hub.challenge=8812&hub.verify_token=" + url.QueryEscape(metaVerify):                      "400 bad request: not a subscription handshake",
		"hub.mode=unsubscribe&hub.challenge=8812&hub.verify_token=" + url.QueryEscape(metaVerify): "400 bad request: not a subscription handshake",
	} {
		res, err := http.Get(g.URL + meta.Path + "?" + query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := fmt.Sprintf("%d %s", res.StatusCode, b); got != want {
			t.Errorf("handshake ?%s answered %q, want %q", query, got, want)
		}
	}

	const ann, bob = "+15551238801", "+15551238802"
	// Badly signed and unsigned: 403, nothing stored.
	bad := metaHook([]string{metaText("wamid.BAD", "15551238809", "MENU")}, nil)
	if code := postMeta(t, g, "not-the-secret", bad); code != 403 {
		t.Errorf("bad signature answered %d", code)
	}
	if code := postMeta(t, g, "", bad); code != 403 {
		t.Errorf("no signature answered %d", code)
	}

	// Two contacts and a reaction in one POST.
	hook := metaHook([]string{
		metaText("wamid.A1", "15551238801", "MENU"),
		metaText("wamid.B1", "15551238802", "MENU"),
		`{"from":"15551238801","id":"wamid.R1","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`,
	}, nil)
	if code := postMeta(t, g, metaSecret, hook); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, 10*time.Second, "both menus sent through the Graph API", func() bool { return len(graph.Sent()) == 2 })
	for _, s := range graph.Sent() {
		if s.PhoneNumberID != metaPhoneID || s.Type != "interactive" || s.Text() != "How can we help?" {
			t.Errorf("send %+v, want interactive buttons from %s", s, metaPhoneID)
		}
	}
	// The same POST again does nothing.
	if code := postMeta(t, g, metaSecret, hook); code != 200 {
		t.Fatalf("repeated webhook answered %d", code)
	}

	// Ann taps "My order": the button's id routes.
	tap := `{"from":"15551238801","id":"wamid.A2","timestamp":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"ORDER","title":"My order"}}}`
	if code := postMeta(t, g, metaSecret, metaHook([]string{tap}, nil)); code != 200 {
		t.Fatalf("button webhook answered %d", code)
	}
	Eventually(t, 10*time.Second, "the order answer sent", func() bool { return len(graph.Sent()) == 3 })
	if s := graph.Sent()[2]; s.To != "15551238801" || s.Text() != "Your order is on its way" {
		t.Errorf("answer to the button: %+v", s)
	}
	if n := len(storedMessages(t, g, "+15551238809")); n != 0 {
		t.Errorf("a badly signed message was stored (%d)", n)
	}

	// A status for the answer updates it.
	wamid := graph.Sent()[2].ID
	st := fmt.Sprintf(`{"id":%q,"status":"read","timestamp":"1","recipient_id":"15551238801"}`, wamid)
	if code := postMeta(t, g, metaSecret, metaHook(nil, []string{st})); code != 200 {
		t.Fatalf("status answered %d", code)
	}
	Eventually(t, 10*time.Second, "the answer marked read", func() bool {
		for _, m := range storedMessages(t, g, ann) {
			if m.ProviderID == wamid {
				return m.Status == "read" && m.Provider == "meta"
			}
		}
		return false
	})

	// Meta refuses Bob's next message (131026, undeliverable): it fails.
	graph.FailNext(1, 131026)
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.B2", "15551238802", "ORDER")}, nil)); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, 10*time.Second, "the refused send recorded as failed", func() bool {
		ms := storedMessages(t, g, bob)
		return len(ms) > 0 && ms[0].Status == "failed"
	})

	// The same person through Twilio's WhatsApp is the same contact.
	g.Text(Inbound{From: "whatsapp:" + ann, To: "whatsapp:" + OurWhatsApp, Body: "hello"})
	Eventually(t, 10*time.Second, "the Twilio message stored on the same contact", func() bool {
		n := 0
		for _, m := range storedMessages(t, g, ann) {
			if m.Direction == "in" {
				n++
			}
		}
		return n == 3 // MENU and the tap through Meta, hello through Twilio
	})
}
