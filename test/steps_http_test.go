package test

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// sinkRequest is a request an httpSink received.
type sinkRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   string
}

// httpSink is a system an http step calls: it records every request and
// answers by path: /status/NNN with that status, /json with
// {"name":"Ann","score":7}, anything else 200 "ok"; /slow never answers: it
// waits for the caller to hang up and records how long that took.
type httpSink struct {
	srv     *httptest.Server
	stop    chan struct{} // closed when the test ends
	mu      sync.Mutex
	reqs    []sinkRequest
	hangUps []time.Duration // how long each /slow caller waited
}

func newHTTPSink(t *testing.T) *httpSink {
	s := &httpSink{stop: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, sinkRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(b)})
		s.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			var status int
			fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &status)
			w.WriteHeader(status)
		case r.URL.Path == "/slow":
			start := time.Now()
			select {
			case <-r.Context().Done():
				s.mu.Lock()
				s.hangUps = append(s.hangUps, time.Since(start))
				s.mu.Unlock()
			case <-s.stop:
			}
		case r.URL.Path == "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"name":"Ann","score":7}`)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(func() {
		close(s.stop)
		s.srv.Close()
	})
	return s
}

func (s *httpSink) received() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.reqs...)
}

// waited returns how long each caller of /slow waited before hanging up.
func (s *httpSink) waited() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.hangUps...)
}

// request waits for the request to path and returns it.
func (s *httpSink) request(t *testing.T, path string) sinkRequest {
	t.Helper()
	var got sinkRequest
	Eventually(t, patience, "a request to "+path, func() bool {
		for _, r := range s.received() {
			if r.Path == path {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

func TestHTTPStepBodies(t *testing.T) {
	t.Parallel()
	sink := newHTTPSink(t)
	g := StartGateway(t, `
http: { allow_private: true }
automations:
  - id: json
    keywords: [JSON]
    steps:
      - type: http
        method: POST
        url: "`+sink.srv.URL+`/json-in/{{ contact.phone }}"
        headers: { Authorization: "Bearer e2e-topsecret", X-Source: keyway }
        query: { ref: "{{ automation.id }}" }
        body: { json: { phone: "{{ contact.phone }}", said: "{{ message.body }}", n: 1, ok: true } }
      - { type: reply, text: "json {{ http.status }}" }
  - id: form
    keywords: [FORM]
    steps:
      - { type: http, method: PUT, url: "`+sink.srv.URL+`/form-in", body: { form: { phone: "{{ contact.phone }}", said: "{{ message.body }}" } } }
      - { type: reply, text: "form {{ http.status }}" }
  - id: multi
    keywords: [MULTI]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/multi-in", body: { multipart: { phone: "{{ contact.phone }}", note: "a\nb" } } }
      - { type: reply, text: "multi {{ http.status }}" }
  - id: xml
    keywords: [XML]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/xml-in", body: { xml: "<said>{{ message.body }}</said>" } }
      - { type: reply, text: "xml {{ http.status }}" }
  - id: yaml
    keywords: [YAML]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/yaml-in", body: { yaml: { phone: "{{ contact.phone }}", tags: [a, b] } } }
      - { type: reply, text: "yaml {{ http.status }}" }
  - id: text
    keywords: [TEXT]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/text-in", headers: { Content-Type: text/csv }, body: { text: "{{ contact.phone }},{{ message.body }}" } }
      - { type: reply, text: "text {{ http.status }}" }
  - id: get
    keywords: [GET]
    steps:
      - { type: http, method: delete, url: "`+sink.srv.URL+`/get-in?fixed=1", query: { q: "{{ message.body }}" } }
      - { type: reply, text: "get {{ http.status }}" }
`)
	const from = "+15554440001"
	cases := []struct {
		body, path, method, contentType string
		check                           func(t *testing.T, r sinkRequest)
	}{
		{"JSON me & you", "/json-in/+15554440001", "POST", "application/json", func(t *testing.T, r sinkRequest) {
			if want := `{"phone":"+15554440001","said":"JSON me & you","n":1,"ok":true}`; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
			if r.Header.Get("Authorization") != "Bearer e2e-topsecret" || r.Header.Get("X-Source") != "keyway" {
				t.Errorf("headers %v", r.Header)
			}
			if r.Query.Get("ref") != "json" {
				t.Errorf("query %v", r.Query)
			}
		}},
		{"FORM a+b=c", "/form-in", "PUT", "application/x-www-form-urlencoded", func(t *testing.T, r sinkRequest) {
			if want := "phone=%2B15554440001&said=FORM+a%2Bb%3Dc"; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"MULTI", "/multi-in", "POST", "multipart/form-data", func(t *testing.T, r sinkRequest) {
			_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			form, err := multipart.NewReader(strings.NewReader(r.Body), params["boundary"]).ReadForm(1 << 20)
			if err != nil {
				t.Fatalf("multipart body %q: %v", r.Body, err)
			}
			if got := form.Value; len(got) != 2 || got["phone"][0] != "+15554440001" || got["note"][0] != "a\nb" {
				t.Errorf("fields %v", got)
			}
		}},
		{"XML <b>&", "/xml-in", "POST", "application/xml", func(t *testing.T, r sinkRequest) {
			if want := "<said>XML &lt;b&gt;&amp;</said>"; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"YAML", "/yaml-in", "POST", "application/yaml", func(t *testing.T, r sinkRequest) {
			if want := "phone: \"+15554440001\"\ntags:\n  - a\n  - b\n"; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"TEXT hi", "/text-in", "POST", "text/csv", func(t *testing.T, r sinkRequest) {
			if want := "+15554440001,TEXT hi"; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"GET a&b=c", "/get-in", "DELETE", "", func(t *testing.T, r sinkRequest) {
			if r.Query.Get("fixed") != "1" || r.Query.Get("q") != "GET a&b=c" || r.Query.Has("b") || r.Body != "" {
				t.Errorf("query %v body %q", r.Query, r.Body)
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			g.Text(Inbound{From: from, Body: c.body})
			r := sink.request(t, c.path)
			if r.Method != c.method {
				t.Errorf("method %s, want %s", r.Method, c.method)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, c.contentType)
			}
			c.check(t, r)
			replies := repliesTo(t, g, from, i+1)
			kw := strings.ToLower(strings.Fields(c.body)[0])
			if replies[i] != kw+" 200" {
				t.Errorf("reply %q, want %q", replies[i], kw+" 200")
			}
		})
	}
	if strings.Contains(g.Logs(), "e2e-topsecret") {
		t.Errorf("the Authorization header is in the logs")
	}
}

func TestHTTPStepErrorBranches(t *testing.T) {
	t.Parallel()
	sink := newHTTPSink(t)
	g := StartGateway(t, `
http: { allow_private: true }
automations:
  - id: crash
    keywords: [CRASH]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/status/500", on_error: sorry }
      - { type: reply, text: "saved", next: end }
      - { id: sorry, type: reply, text: "failed with {{ http.status }}" }
  - id: slow
    keywords: [SLOW]
    steps:
      - { type: http, url: "`+sink.srv.URL+`/slow", timeout: 1s, on_error: late }
      - { type: reply, text: "in time", next: end }
      - { id: late, type: reply, text: "late: {{ http.error }}" }
  - id: bare
    keywords: [BARE]
    steps:
      - { type: http, url: "`+sink.srv.URL+`/status/502" }
      - { type: reply, text: "never" }
`)
	g.Text(Inbound{From: "+15554440011", Body: "CRASH"})
	g.Text(Inbound{From: "+15554440012", Body: "SLOW"})
	g.Text(Inbound{From: "+15554440013", Body: "BARE"})
	if got := repliesTo(t, g, "+15554440011", 1); got[0] != "failed with 500" {
		t.Errorf("500: reply %q", got[0])
	}
	if got := repliesTo(t, g, "+15554440012", 1); got[0] != "late: timeout after 1s" {
		t.Errorf("timeout: reply %q", got[0])
	}
	// An enrollment sent to on_error keeps why, as the admin API shows it.
	crashed := ended(t, g, "crash", "+15554440011")
	if want := "step #1 (http): http: POST " + sink.srv.URL + "/status/500: status 500"; crashed.LastError != want {
		t.Errorf("crash: last error %q, want %q", crashed.LastError, want)
	}
	// The slow server never answers, so keyway hung up by itself; the time
	// the server saw it wait is the timeout, not the outbox's or the
	// polling's pace, and far below the 10s default.
	var waited []time.Duration
	Eventually(t, patience, "keyway hanging up on the slow server", func() bool {
		waited = sink.waited()
		return len(waited) > 0
	})
	if len(waited) != 1 || waited[0] > 2500*time.Millisecond {
		t.Errorf("the 1s timeout let the server wait %v", waited)
	}
	want := "http: GET " + sink.srv.URL + "/status/502: status 502"
	var en []Enrollment
	Eventually(t, patience, "the bare enrollment ends", func() bool {
		en = g.Enrollments("bare", "+15554440013")
		return len(en) == 1 && en[0].Status == "ended"
	})
	if en[0].EndReason != want || en[0].HTTP["status"] != float64(502) {
		t.Errorf("enrollment %+v, want end reason %q and http.status 502", en[0], want)
	}
	if got := repliesTo(t, g, "+15554440013", 0); len(got) != 0 {
		t.Errorf("replies after a failed call without on_error: %q", got)
	}
}

func TestHTTPStepJSONResponseFeedsLaterSteps(t *testing.T) {
	t.Parallel()
	sink := newHTTPSink(t)
	g := StartGateway(t, `
http: { allow_private: true }
fields: [score]
automations:
  - id: me
    keywords: [ME]
    steps:
      - { type: http, url: "`+sink.srv.URL+`/json" }
      - { type: reply, text: "Hi {{ http.json.name }}" }
      - { type: http, url: "`+sink.srv.URL+`/json", save_as: crm }
      - { type: set_field, fields: { score: "{{ vars.crm.json.score }}" } }
      - { type: reply, text: "Your score is {{ contact.fields.score }}" }
`)
	const from = "+15554440021"
	g.Text(Inbound{From: from, Body: "ME"})
	got := repliesTo(t, g, from, 2)
	if got[0] != "Hi Ann" || got[1] != "Your score is 7" {
		t.Errorf("replies %q", got)
	}
	if c := g.Contact(from); c.Contact.Fields["score"] != "7" {
		t.Errorf("contact fields %v", c.Contact.Fields)
	}
	en := g.Enrollments("me", from)
	if len(en) != 1 || en[0].Vars["crm"] == nil {
		t.Fatalf("enrollments %+v", en)
	}
	crm, _ := en[0].Vars["crm"].(map[string]any)
	if crm["status"] != float64(200) || crm["body"] != `{"name":"Ann","score":7}` {
		t.Errorf("vars.crm = %v", crm)
	}
}

func TestConditionOnAReply(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
groups: [ { id: newsletter } ]
automations:
  - id: ask
    keywords: [ASK]
    steps:
      - { type: reply, text: "Join the newsletter?" }
      - { type: wait_for_reply, save_as: answer }
      - { type: condition, if: 'vars.answer matches "(?i)^y(es)?$"', else: no }
      - { type: add_to_group, groups: [newsletter] }
      - { type: condition, if: '"newsletter" in contact.groups', then: joined, else: no }
      - { id: joined, type: reply, text: "Welcome aboard!", next: end }
      - { id: no, type: reply, text: "Maybe later." }
`)
	for from, answer := range map[string]string{"+15554440031": "yes", "+15554440032": "nah"} {
		g.Text(Inbound{From: from, Body: "ASK"})
		repliesTo(t, g, from, 1)
		g.Text(Inbound{From: from, Body: answer})
	}
	if got := repliesTo(t, g, "+15554440031", 2); got[1] != "Welcome aboard!" {
		t.Errorf("yes: %q", got)
	}
	if got := repliesTo(t, g, "+15554440032", 2); got[1] != "Maybe later." {
		t.Errorf("nah: %q", got)
	}
	if groups := g.Contact("+15554440031").Contact.Groups; len(groups) != 1 || groups[0] != "newsletter" {
		t.Errorf("groups %v", groups)
	}
}

func TestStartAutomation(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: main
    keywords: [GO]
    steps:
      - { type: reply, text: "main" }
      - { type: start_automation, automation: second }
      - { type: reply, text: "main again" }
  - id: second
    steps:
      - { type: reply, text: "second" }
  - id: ping
    keywords: [LOOP]
    overwrite_if_exists: true
    steps:
      - { type: start_automation, automation: pong }
      - { type: reply, text: "never ping" }
  - id: pong
    overwrite_if_exists: true
    steps:
      # A loop a condition may leave passes validate: the step limit ends it.
      - { type: condition, if: 'message.body == "LOOP"', else: end }
      - { type: start_automation, automation: ping }
      - { type: reply, text: "never pong" }
`)
	g.Text(Inbound{From: "+15554440041", Body: "GO"})
	if got := repliesTo(t, g, "+15554440041", 3); strings.Join(got, "|") != "main|second|main again" {
		t.Errorf("replies %q", got)
	}

	const from = "+15554440042"
	g.Text(Inbound{From: from, Body: "LOOP"})
	for _, id := range []string{"ping", "pong"} {
		var ens []Enrollment
		Eventually(t, patience, "enrollments in "+id, func() bool {
			ens = g.Enrollments(id, from)
			return len(ens) > 0
		})
		limited := 0
		for _, en := range ens {
			if en.Status != "ended" {
				t.Errorf("%s enrollment %s is %s", id, en.ID, en.Status)
			}
			if strings.HasPrefix(en.EndReason, "step limit reached") {
				limited++
			}
		}
		if limited != 1 {
			t.Errorf("%s: %d enrollments ended at the step limit, want 1 (of %d)", id, limited, len(ens))
		}
	}
	if c := g.Contact(from); len(c.Enrollments) != 0 {
		t.Errorf("active enrollments left after the loop: %+v", c.Enrollments)
	}
	// The loop ran in the webhook's commit: once anything it queued is
	// done, a reply would have shown.
	for _, m := range g.Settled(t, from) {
		if m.Direction == "out" {
			t.Errorf("the loop stored an outbound message: %+v", m)
		}
	}
	if got := repliesToNow(g, from); len(got) != 0 {
		t.Errorf("the loop sent %q", got)
	}
}

func TestHTTPStepSSRFGuardRefusesLoopback(t *testing.T) {
	t.Parallel()
	sink := newHTTPSink(t)
	g := StartGateway(t, `
automations:
  - id: hook
    keywords: [HOOK]
    steps:
      - { type: http, method: POST, url: "`+sink.srv.URL+`/hook", body: { json: { a: 1 } }, retries: 2, on_error: refused }
      - { type: reply, text: "called", next: end }
      - { id: refused, type: reply, text: "refused: {{ http.error }}" }
`)
	const from = "+15554440051"
	g.Text(Inbound{From: from, Body: "HOOK"})
	got := repliesTo(t, g, from, 1)
	if !strings.HasPrefix(got[0], "refused: refused by the address guard: prohibited IP address: 127.0.0.1") {
		t.Errorf("reply %q", got[0])
	}
	// The reply is queued in the commit that records the step's last
	// attempt: no attempt comes after it.
	if reqs := sink.received(); len(reqs) != 0 {
		t.Errorf("the guarded server got %d requests", len(reqs))
	}
}

// Whole numbers in a JSON response (and in a manual start's vars) reach the
// customer as written: an order id 1000000 is not "1e+06"; and conditions
// may take them modulo.
func TestHTTPStepWholeNumbersRenderAsWritten(t *testing.T) {
	t.Parallel()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"order":{"id":1000000,"total":12.5},"items":[12345678]}`)
	}))
	t.Cleanup(crm.Close)
	g := StartGateway(t, `
http: { allow_private: true }
fields: [order_id]
automations:
  - id: order
    keywords: [ORDER]
    steps:
      - { type: http, url: "`+crm.URL+`/orders/last" }
      - { type: set_field, fields: { order_id: "{{ http.json.order.id }}" } }
      - { type: reply, text: "Order {{ contact.fields.order_id }}: {{ http.json.order.total }} USD, item {{ http.json.items[0] }}" }
      - { type: condition, if: 'http.json.order.id % 2 == 0 && http.json.order.total > 12', else: odd }
      - { type: reply, text: "even", next: end }
      - { id: odd, type: reply, text: "odd" }
  - id: promo
    steps:
      - { type: reply, text: "Code {{ vars.code }}" }
`)
	const from, other = "+15554440061", "+15554440062"
	g.Text(Inbound{From: from, Body: "ORDER"})
	if got := repliesTo(t, g, from, 2); got[0] != "Order 1000000: 12.5 USD, item 12345678" || got[1] != "even" {
		t.Errorf("replies %q", got)
	}
	body := map[string]any{"contacts": []string{other}, "vars": map[string]any{"code": 2500000}}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/promo/enrollments", body, nil); code != http.StatusAccepted {
		t.Fatalf("manual start answered %d", code)
	}
	if got := repliesTo(t, g, other, 1); got[0] != "Code 2500000" {
		t.Errorf("manual start reply %q", got[0])
	}
}

// A JSON answer that does not say so (no Content-Type, which Go's server
// sniffs as text/plain) still fills http.json; a plain text answer does not.
func TestHTTPStepJSONWithoutContentType(t *testing.T) {
	t.Parallel()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/text" {
			_, _ = io.WriteString(w, "7")
			return
		}
		_, _ = io.WriteString(w, ` {"name":"Ann","orders":[{"id":42}]}`)
	}))
	t.Cleanup(crm.Close)
	g := StartGateway(t, `
http: { allow_private: true }
automations:
  - id: who
    keywords: [WHO]
    steps:
      - { type: http, url: "`+crm.URL+`/who" }
      - { type: reply, text: "Hi {{ http.json.name }}, order {{ http.json.orders[0].id }}" }
      - { type: http, url: "`+crm.URL+`/text" }
      - { type: reply, text: "text [{{ http.json }}] {{ http.body }}" }
`)
	const from = "+15554440071"
	g.Text(Inbound{From: from, Body: "WHO"})
	got := repliesTo(t, g, from, 2)
	if got[0] != "Hi Ann, order 42" || got[1] != "text [] 7" {
		t.Errorf("replies %q", got)
	}
}
