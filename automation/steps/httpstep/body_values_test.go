package httpstep_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// A json or yaml body's value written as one {{ output }} sends the value
// itself: an object, a list, a number or true/false from an earlier
// response as that JSON, a text as a text ("007" and "+1555..." stay
// texts). Inside other text, or in a form, an object is compact JSON, never
// Go's map[...] syntax.
func TestHTTPBodyCarriesValues(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/customer" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"customer": {"id": 7, "tags": ["a"], "vip": true, "score": 1.5, "note": null}, "n": 1000000, "s": "007"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = string(b)
		mu.Unlock()
	}))
	defer srv.Close()
	simulate(t, srv.URL, `
http: { allow_private: true }
fields: [code, age, phone]
automations:
  - id: crm
    keywords: [GO]
    steps:
      - { type: set_field, fields: { code: "007", age: "42", phone: "+15550100" } }
      - { type: wait_for_reply, save_as: answer }
      - { type: http, url: "${SERVER}/customer" }
      - type: http
        method: POST
        url: "${SERVER}/json"
        save_as: posted # http keeps the customer's response
        body:
          json:
            customer: "{{ http.json.customer }}"
            tags: "{{ http.json.customer.tags }}"
            id: "{{ http.json.customer.id }}"
            n: "{{ http.json.n }}"
            vip: "{{ http.json.customer.vip }}"
            score: "{{ http.json.customer.score }}"
            s: "{{ http.json.s }}"
            missing: "{{ http.json.missing }}"
            text: "c={{ http.json.customer }}"
            answer: "{{ vars.answer }}"
            code: "{{ contact.fields.code }}"
            phone: "{{ contact.fields.phone }}"
            age: "{{ contact.fields.age }}"
            age_number: "{{ contact.fields.age | plus: 0 }}"
            list: ["{{ http.json.customer.id }}", "{{ contact.fields.code }}"]
      - type: http
        method: POST
        url: "${SERVER}/yaml"
        save_as: posted
        body: { yaml: { customer: "{{ http.json.customer }}", s: "{{ http.json.s }}", n: "{{ http.json.n }}" } }
      - { type: http, method: POST, url: "${SERVER}/form", save_as: posted, body: { form: { customer: "{{ http.json.customer }}" } } }
`, "GO", "+15550123")

	want := map[string]string{
		"/json": `{"customer":{"id":7,"note":null,"score":1.5,"tags":["a"],"vip":true},"tags":["a"],"id":7,"n":1000000,"vip":true,"score":1.5,` +
			`"s":"007","missing":"","text":"c={\"id\":7,\"note\":null,\"score\":1.5,\"tags\":[\"a\"],\"vip\":true}","answer":"+15550123",` +
			`"code":"007","phone":"+15550100","age":"42","age_number":42,"list":[7,"007"]}`,
		"/yaml": "customer:\n  id: 7\n  note: null\n  score: 1.5\n  tags:\n    - a\n  vip: true\ns: \"007\"\nn: 1000000\n",
		"/form": "customer=%7B%22id%22%3A7%2C%22note%22%3Anull%2C%22score%22%3A1.5%2C%22tags%22%3A%5B%22a%22%5D%2C%22vip%22%3Atrue%7D",
	}
	mu.Lock()
	defer mu.Unlock()
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s body\n got %s\nwant %s", path, got[path], w)
		}
	}
}
