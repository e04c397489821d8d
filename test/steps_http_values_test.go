package test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// What an earlier response, a saved answer and a contact field hold goes
// on to a CRM as what it is: an object, a list, a number or true/false
// written as one {{ output }} in a json body is sent as that JSON value, a
// text stays a text ("007" is not made a number), and an object in an SMS
// is compact JSON, never Go's map[...] syntax.
func TestHTTPStepBodyCarriesValues(t *testing.T) {
	t.Parallel()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"customer":{"id":7,"tags":["a","b"],"vip":true,"score":1.5}}`)
	}))
	t.Cleanup(crm.Close)
	sink := newHTTPSink(t)
	g := StartGateway(t, `
http: { allow_private: true }
fields: [code]
automations:
  - id: sync
    keywords: [SYNC]
    steps:
      - { type: reply, text: "Your code?" }
      - { type: wait_for_reply, save_as: code }
      - { type: set_field, fields: { code: "{{ vars.code }}" } }
      - { type: http, url: "`+crm.URL+`/customers/me" }
      - type: http
        method: POST
        url: "`+sink.srv.URL+`/leads"
        save_as: lead
        body:
          json:
            customer: "{{ http.json.customer }}"
            tags: "{{ http.json.customer.tags }}"
            id: "{{ http.json.customer.id }}"
            vip: "{{ http.json.customer.vip }}"
            answer: "{{ vars.code }}"
            field: "{{ contact.fields.code }}"
            phone: "{{ contact.phone }}"
            note: "customer {{ http.json.customer.id }}"
      - { type: reply, text: "Synced {{ http.json.customer }}" }
`)
	const from = "+15554440081"
	g.Text(Inbound{From: from, Body: "SYNC"})
	repliesTo(t, g, from, 1)
	g.Text(Inbound{From: from, Body: "007"})

	r := sink.request(t, "/leads")
	want := `{"customer":{"id":7,"score":1.5,"tags":["a","b"],"vip":true},"tags":["a","b"],"id":7,"vip":true,` +
		`"answer":"007","field":"007","phone":"+15554440081","note":"customer 7"}`
	if r.Body != want {
		t.Errorf("json body\n got %s\nwant %s", r.Body, want)
	}
	if got := repliesTo(t, g, from, 2)[1]; got != `Synced {"id":7,"score":1.5,"tags":["a","b"],"vip":true}` {
		t.Errorf("reply %q", got)
	}
}
