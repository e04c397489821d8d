package test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/vonage"
	"github.com/keyway-sms/keyway/test/fakes"
)

// sameAutomations are answered alike whichever provider a message comes
// through: a menu of buttons, a list waited on, compliance words and a
// catch_all.
const sameAutomations = `automations:
  - id: menu
    keywords: [MENU]
    steps:
      - type: reply
        text: "How can we help?"
        buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Opening hours" }, { id: AGENT, title: "A person" } ]
  - id: hours
    keywords: [HOURS]
    steps:
      - { type: reply, text: "9 to 5" }
  - id: size
    keywords: [SIZE]
    steps:
      - type: reply
        text: "Pick a size"
        list: { button: "Sizes", sections: [ { title: "Coffee", rows: [ { id: SMALL, title: "Small", description: "8 oz" }, { id: LARGE, title: "Large" } ] } ] }
      - { type: wait_for_reply, timeout: 1h, save_as: size }
      - { type: reply, text: "You chose {{ vars.size }} ({{ vars.size_title }})" }
  - id: other
    catch_all: true
    steps:
      - { type: reply, text: "Got {{ message.body }} on {{ message.channel }}" }
`

// sameRoute is one provider's way in and out for one contact: post sends
// a message (with the id given, so that it can be sent again) and answers
// the webhook's status; replies are the texts sent to the contact so far,
// choices written as numbered lines; deliver posts the provider's
// "delivered" status of the i-th reply and returns its provider id.
type sameRoute struct {
	name    string
	contact string // as stored: E.164
	channel string
	post    func(id, text string) int
	replies func() []string
	deliver func(i int) string
}

// interactiveText writes a Graph API interactive message as keyway writes
// choices elsewhere: its body, then one numbered line per button or row.
func interactiveText(s fakes.GraphSend) string {
	i, _ := s.Body["interactive"].(map[string]any)
	action, _ := i["action"].(map[string]any)
	var titles []string
	if bs, ok := action["buttons"].([]any); ok {
		for _, b := range bs {
			r, _ := b.(map[string]any)["reply"].(map[string]any)
			titles = append(titles, fmt.Sprint(r["title"]))
		}
	}
	if ss, ok := action["sections"].([]any); ok {
		for _, sec := range ss {
			rows, _ := sec.(map[string]any)["rows"].([]any)
			for _, r := range rows {
				titles = append(titles, fmt.Sprint(r.(map[string]any)["title"]))
			}
		}
	}
	out := s.Text()
	for n, t := range titles {
		out += fmt.Sprintf("\n%d %s", n+1, t)
	}
	return out
}

// One set of automations on Twilio SMS, Twilio WhatsApp, the WhatsApp
// Cloud API and Vonage: the same messages get the same answers through
// each (choices typed by number or title, a list waited on, a webhook
// retried, STOP, an automation silent while opted out, START, HELP, the
// catch_all), each answer goes out through the provider the contact wrote
// to, and each provider's delivered status reaches the stored answer.
func TestSameAutomationOnEveryProvider(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	sameOnEveryProvider(t, StartGateway(t, metaSection(graph)+vonageSection(api)+sameAutomations), graph, api)
}

// The same on PostgreSQL: the choices offered, the wait and the opt-out
// are kept there alike.
func TestPostgresSameAutomationOnEveryProvider(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	sameOnEveryProvider(t, startShared(t, 1, metaSection(graph)+vonageSection(api)+sameAutomations)[0], graph, api)
}

// sameOnEveryProvider walks one contact per provider through g, which runs
// sameAutomations with Twilio, the Cloud API on graph and Vonage on api.
func sameOnEveryProvider(t *testing.T, g *Gateway, graph *fakes.Graph, api *fakes.Vonage) {
	t.Helper()

	twilioRoute := func(name, channel, contact string) sameRoute {
		to := contact
		if channel == "whatsapp" {
			to = "whatsapp:" + contact
		}
		mine := func() []fakes.Message {
			var out []fakes.Message
			for _, m := range g.Twilio.Sent() {
				if m.To == to {
					out = append(out, m)
				}
			}
			return out
		}
		return sameRoute{name: name, contact: contact, channel: channel,
			post: func(id, text string) int {
				code, _ := g.PostSigned("/webhooks/twilio", g.Form(Inbound{SID: id, From: contact, Body: text, Channel: channel}))
				return code
			},
			replies: func() []string { return Bodies(mine()) },
			deliver: func(i int) string {
				sid := mine()[i].SID
				form := map[string][]string{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "AccountSid": {g.Twilio.AccountSID}}
				if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
					t.Fatalf("%s: status callback answered %d %s", name, code, body)
				}
				return sid
			}}
	}
	const metaContact, vonageContact = "+15551237003", "+447700900703"
	metaSends := func() []fakes.GraphSend {
		var out []fakes.GraphSend
		for _, s := range graph.Sent() {
			if "+"+s.To == metaContact {
				out = append(out, s)
			}
		}
		return out
	}
	vonageSends := func() []fakes.VonageSend {
		var out []fakes.VonageSend
		for _, s := range api.Sent() {
			if "+"+s.To == vonageContact {
				out = append(out, s)
			}
		}
		return out
	}
	routes := []sameRoute{
		twilioRoute("Twilio SMS", "sms", "+15551237001"),
		twilioRoute("Twilio WhatsApp", "whatsapp", "+15551237002"),
		{name: "WhatsApp Cloud API", contact: metaContact, channel: "whatsapp",
			post: func(id, text string) int {
				return postMeta(t, g, metaSecret, metaHook([]string{metaText(id, strings.TrimPrefix(metaContact, "+"), text)}, nil))
			},
			replies: func() []string {
				var out []string
				for _, s := range metaSends() {
					switch s.Type {
					case "interactive":
						out = append(out, interactiveText(s))
					case "text":
						out = append(out, s.Text())
					default:
						out = append(out, "("+s.Type+")")
					}
				}
				return out
			},
			deliver: func(i int) string {
				s := metaSends()[i]
				st := fmt.Sprintf(`{"id":%q,"status":"delivered","timestamp":"%d","recipient_id":%q}`, s.ID, time.Now().Unix(), s.To)
				if code := postMeta(t, g, metaSecret, metaHook(nil, []string{st})); code != http.StatusOK {
					t.Fatalf("Meta status answered %d", code)
				}
				return s.ID
			}},
		{name: "Vonage SMS", contact: vonageContact, channel: "sms",
			post: func(id, text string) int {
				body := fmt.Sprintf(`{"channel":"sms","message_uuid":%q,"to":%q,"from":%q,"timestamp":%q,"text":%q,"message_type":"text"}`,
					id, strings.TrimPrefix(vonageNumber, "+"), strings.TrimPrefix(vonageContact, "+"), time.Now().UTC().Format(time.RFC3339), text)
				// A retry is signed again, as Vonage signs each attempt.
				return postVonage(t, g, vonage.InboundPath, signedVonage(body), body)
			},
			replies: func() []string {
				var out []string
				for _, s := range vonageSends() {
					out = append(out, s.Text)
				}
				return out
			},
			deliver: func(i int) string {
				s := vonageSends()[i]
				body := vonageStatus(s, "delivered")
				if code := postVonage(t, g, vonage.StatusPath, signedVonage(body), body); code != http.StatusOK {
					t.Fatalf("Vonage status answered %d", code)
				}
				return s.UUID
			}},
	}

	const menu = "How can we help?\n1 My order\n2 Opening hours\n3 A person"
	turns := []struct {
		send  string
		retry bool   // send the previous message again, as a provider retrying its webhook
		want  string // the answer; "" for none
	}{
		{send: "menu", want: menu},
		{send: "2", want: "9 to 5"},
		{retry: true},
		{send: "MENU", want: menu},
		{send: "Opening hours!", want: "9 to 5"},
		{send: "SIZE", want: "Pick a size\n1 Small\n2 Large"},
		{send: "2", want: "You chose LARGE (Large)"},
		{send: "Stop", want: "You are unsubscribed. Reply START to resubscribe."},
		{send: "MENU"},
		{send: "start", want: "You are resubscribed."},
		{send: "HELP", want: "Reply STOP to opt out. Msg&data rates may apply."},
		{send: "Where is my parcel?", want: "Got Where is my parcel? on CHANNEL"},
	}
	for _, r := range routes {
		var want []string
		last := ""
		for n, turn := range turns {
			id := last
			if !turn.retry {
				switch r.name {
				case "WhatsApp Cloud API":
					id = fmt.Sprintf("wamid.SAME%02d", n)
				case "Vonage SMS":
					id = fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", n)
				default:
					id = fmt.Sprintf("SM%02d%030d", len(r.name), n)
				}
			}
			last = id
			text := turn.send
			if turn.retry {
				text = turns[n-1].send
			}
			if code := r.post(id, text); code != http.StatusOK {
				t.Fatalf("%s: %q answered %d", r.name, text, code)
			}
			if turn.want != "" {
				want = append(want, strings.Replace(turn.want, "CHANNEL", r.channel, 1))
			}
			Eventually(t, patience, fmt.Sprintf("%s: %d answers after %q", r.name, len(want), text), func() bool { return len(r.replies()) >= len(want) })
		}
		if got := r.replies(); !slices.Equal(got, want) {
			t.Errorf("%s answered\n%q\nwant\n%q", r.name, got, want)
		}
		// The first "9 to 5" delivered, through the provider's own status.
		id := r.deliver(1)
		Eventually(t, patience, r.name+": the answer marked delivered", func() bool {
			for _, m := range g.Messages(r.contact) {
				if m.ProviderID == id {
					return m.Status == "delivered" && m.Body == "9 to 5"
				}
			}
			return false
		})
	}
	if n := len(metaSends()); n > 0 && metaSends()[0].Type != "interactive" {
		t.Errorf("the Cloud API's menu went as %s, not interactive buttons", metaSends()[0].Type)
	}
}
