package test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/test/fakes"
)

// A Meta contact outside the WhatsApp window (a manual start to someone
// who never wrote) gets the step's named template at the Graph API, in its
// language, with its variables rendered and in order.
func TestMetaOutsideTheWindowSendsTheNamedTemplate(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`automations:
  - id: promo
    channel: whatsapp
    steps:
      - type: reply
        text: "Hello"
        from: "`+metaNumber+`"
        template: { name: order_update, language: en_US, variables: ["{{ contact.phone }}", "{{ automation.id }}"] }
`)
	const ann = "+15551238811"
	startBy(t, g, "promo", "whatsapp:"+ann)
	Eventually(t, patience, "the template sent through the Graph API", func() bool { return len(graph.Sent()) == 1 })
	s := graph.Sent()[0]
	if s.Type != "template" || s.To != "15551238811" || s.PhoneNumberID != metaPhoneID {
		t.Fatalf("send %+v, want a template to 15551238811 from %s", s, metaPhoneID)
	}
	tpl, _ := s.Body["template"].(map[string]any)
	lang, _ := tpl["language"].(map[string]any)
	if tpl["name"] != "order_update" || lang["code"] != "en_US" {
		t.Fatalf("template %v, want order_update in en_US", tpl)
	}
	var got []any
	if comps, _ := tpl["components"].([]any); len(comps) == 1 {
		c, _ := comps[0].(map[string]any)
		if c["type"] == "body" {
			for _, p := range c["parameters"].([]any) {
				got = append(got, p.(map[string]any)["text"])
			}
		}
	}
	if len(got) != 2 || got[0] != ann || got[1] != "promo" {
		t.Fatalf("template components %v, want body parameters [%s promo]", tpl["components"], ann)
	}
}

// One step's template given in both forms serves a config with both
// WhatsApp providers: outside the window, a contact on the Twilio number
// gets the content sid with its variables by key, and a contact on the
// Meta number the named template with the same values in key order.
func TestATemplateInBothFormsGoesOutThroughEitherProvider(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`automations:
  - id: promo
    channel: whatsapp
    keywords: [PROMO]
    steps:
      - type: reply
        text: "Hello"
        template:
          content_sid: "HX0123456789abcdef0123456789abcdef"
          name: order_update
          language: en_US
          variables: { "2": "{{ automation.id }}", "1": "{{ contact.phone }}" }
`)
	// Bob never wrote: his reply goes from the first WhatsApp number in
	// the file, Twilio's.
	const bob = "+15551238821"
	startBy(t, g, "promo", "whatsapp:"+bob)
	Eventually(t, patience, "the content template sent through Twilio", func() bool { return len(g.Twilio.Sent()) == 1 })
	tw := g.Twilio.Sent()[0]
	if tw.To != "whatsapp:"+bob || tw.ContentSID != "HX0123456789abcdef0123456789abcdef" || tw.ContentVariables != `{"1":"`+bob+`","2":"promo"}` || tw.Body != "" {
		t.Fatalf("Twilio send %+v, want the content sid to whatsapp:%s with its variables by key", tw, bob)
	}

	// Ann wrote to the Meta number 25 hours ago (Meta's timestamp): the
	// answer goes outside the window, from the Meta number.
	const ann = "15551238822"
	old := fmt.Sprintf(`{"from":%q,"id":"wamid.both1","timestamp":"%d","type":"text","text":{"body":"PROMO"}}`, ann, time.Now().Add(-25*time.Hour).Unix())
	if code := postMeta(t, g, metaSecret, metaHook([]string{old}, nil)); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the named template sent through the Graph API", func() bool { return len(graph.Sent()) == 1 })
	s := graph.Sent()[0]
	tpl, _ := s.Body["template"].(map[string]any)
	if s.Type != "template" || s.To != ann || tpl["name"] != "order_update" {
		t.Fatalf("Graph send %+v, want the template order_update to %s", s, ann)
	}
	var got []any
	if comps, _ := tpl["components"].([]any); len(comps) == 1 {
		for _, p := range comps[0].(map[string]any)["parameters"].([]any) {
			got = append(got, p.(map[string]any)["text"])
		}
	}
	if len(got) != 2 || got[0] != "+"+ann || got[1] != "promo" {
		t.Fatalf("template parameters %v, want [+%s promo]", got, ann)
	}
	if n := len(g.Twilio.Sent()); n != 1 {
		t.Errorf("Twilio got %d sends, want only Bob's", n)
	}
	// The admin API shows the send with the template in its own words.
	var res struct {
		Messages []struct {
			Direction string `json:"direction"`
			Template  any    `json:"template"`
		} `json:"messages"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/whatsapp:+"+ann+"/messages", nil, &res); code != http.StatusOK {
		t.Fatalf("messages of %s: %d", ann, code)
	}
	want := map[string]any{"name": "order_update", "language": "en_US", "variables": []any{"+" + ann, "promo"}}
	for _, m := range res.Messages {
		if m.Direction == "out" && !reflect.DeepEqual(m.Template, want) {
			t.Errorf("the admin API shows the template as %v, want %v", m.Template, want)
		}
	}
}

// A group broadcast of an automation on WhatsApp reaches the contacts of
// an imported list, who never wrote, on WhatsApp: its template goes out
// through the Graph API, and nothing goes out by SMS.
func TestMetaGroupBroadcastReachesImportedContactsOnWhatsApp(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`groups: [ { id: news } ]
automations:
  - id: promo
    channel: whatsapp
    steps:
      - type: reply
        text: "Hello"
        from: "`+metaNumber+`"
        template: { name: winter_sale, language: en_US, variables: ["{{ contact.name }}"] }
`)
	ann, bea := "+15551238821", "+15551238822"
	g.importContacts(t, map[string]any{"groups": []string{"news"}, "name": "Ann"}, ann, bea)
	b := g.startBroadcast(t, map[string]any{"automation": "promo", "group": "news"})
	Eventually(t, patience, "both templates sent through the Graph API", func() bool { return len(graph.Sent()) == 2 })
	for _, s := range graph.Sent() {
		tpl, _ := s.Body["template"].(map[string]any)
		if s.Type != "template" || tpl["name"] != "winter_sale" || s.PhoneNumberID != metaPhoneID {
			t.Errorf("send %+v, want the template winter_sale from %s", s, metaPhoneID)
		}
	}
	Eventually(t, patience, "the broadcast's sends counted", func() bool { return g.broadcast(t, b.ID).Sent == 2 })
	if sms := g.Twilio.Sent(); len(sms) != 0 {
		t.Errorf("the broadcast sent by SMS: %+v", sms)
	}
}
