package test

import (
	"testing"

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
