package providers

import "testing"

// native is a provider that sends choices natively on WhatsApp only.
type native struct{ stub }

func (native) SendsChoices(m Outbound) bool { return m.Channel == "whatsapp" }

func TestNumberedText(t *testing.T) {
	buttons := &Choices{Buttons: []Choice{{ID: "ORDER", Title: "My order"}, {ID: "HOURS", Title: "Opening hours"}, {ID: "AGENT", Title: "A person"}}}
	list := &Choices{List: &List{Button: "Sizes", Sections: []Section{
		{Title: "Coffee", Rows: []Choice{{ID: "SMALL", Title: "Small", Description: "8 oz"}, {ID: "LARGE", Title: "Large"}}},
		{Title: "Tea", Rows: []Choice{{ID: "POT", Title: "A pot"}}},
	}}}
	cases := []struct {
		name    string
		body    string
		choices *Choices
		want    string
	}{
		{"buttons", "How can we help?", buttons, "How can we help?\n1 My order\n2 Opening hours\n3 A person"},
		{"list rows in order across sections", "Pick a size", list, "Pick a size\n1 Small\n2 Large\n3 A pot"},
		{"no text", "", buttons, "1 My order\n2 Opening hours\n3 A person"},
		{"no choices", "Hello", nil, "Hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := NumberedText(tc.body, tc.choices); got != tc.want {
				t.Errorf("NumberedText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDeliverable(t *testing.T) {
	choices := &Choices{Buttons: []Choice{{ID: "A", Title: "Yes"}, {ID: "B", Title: "No"}}}
	sms := Outbound{Channel: "sms", Body: "Coming?", Choices: choices}
	wa := Outbound{Channel: "whatsapp", Body: "Coming?", Choices: choices}
	tpl := Outbound{Channel: "whatsapp", ContentSID: "HX1", Choices: choices}
	cases := []struct {
		name     string
		p        Provider
		m        Outbound
		wantBody string
		native   bool
	}{
		{"a provider without interactive messages gets numbered text", stub{name: "plain"}, wa, "Coming?\n1 Yes\n2 No", false},
		{"a native provider keeps the choices", native{stub{name: "n"}}, wa, "Coming?", true},
		{"a native provider that declines gets numbered text", native{stub{name: "n"}}, sms, "Coming?\n1 Yes\n2 No", false},
		{"a template carries its own buttons", stub{name: "plain"}, tpl, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Deliverable(tc.p, tc.m)
			if got.Body != tc.wantBody {
				t.Errorf("Body = %q, want %q", got.Body, tc.wantBody)
			}
			if (got.Choices != nil) != tc.native {
				t.Errorf("Choices = %v, want kept: %v", got.Choices, tc.native)
			}
		})
	}
	if m := Deliverable(stub{}, Outbound{Body: "x", Choices: &Choices{}}); m.Choices != nil || m.Body != "x" {
		t.Errorf("empty choices: got %+v", m)
	}
}
