package httpstep_test

import (
	"context"
	"fmt"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/steps/httpstep"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	simulate = simtest.Simulate
)

func lastEnrollment(t *testing.T, sim *sim.Simulator, id string) *engine.Enrollment {
	t.Helper()
	var ens []*engine.Enrollment
	err := sim.Store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ens, err = tx.Enrollments(id, sim.From, false, 1)
		return err
	})
	if err != nil || len(ens) == 0 {
		t.Fatalf("no enrollment in %q: %v", id, err)
	}
	return ens[0]
}

func TestHTTPTraceAndEndReasonHideSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crm/ok" {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	sim, trace := simulate(t, srv.URL, `
http: { allow_private: true }
automations:
  - id: crm
    keywords: [CRM]
    steps:
      - type: http
        method: POST
        url: "${SERVER}/crm/{{ message.body | remove_first: 'CRM ' }}?api_key=QUERYSECRET"
        headers: { Authorization: "Bearer HEADERSECRET" }
        query: { token: "{{ 'PARAMSECRET' }}" }
`, "CRM ok", "CRM fails")

	wantOK := fmt.Sprintf("http POST %s/crm/ok → 201", srv.URL)
	wantFail := fmt.Sprintf("http POST %s/crm/fails → status 500", srv.URL)
	if !slices.Contains(trace, wantOK) || !slices.Contains(trace, wantFail) {
		t.Errorf("trace %q lacks %q or %q", trace, wantOK, wantFail)
	}
	en := lastEnrollment(t, sim, "crm")
	if want := fmt.Sprintf("http: POST %s/crm/fails: status 500", srv.URL); en.EndReason != want {
		t.Errorf("end reason %q, want %q", en.EndReason, want)
	}
	for _, line := range append(trace, en.EndReason) {
		if strings.Contains(line, "SECRET") {
			t.Errorf("a secret leaked into %q", line)
		}
	}
}

func TestHTTPGuardAllowHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	cases := []struct {
		label, allow, host, want string
	}{
		{"a host name matches the URL's host", `["localhost"]`, "localhost", "200"},
		{"host names match whatever their case", `["LocalHost."]`, "localhost", "200"},
		{"another host name does not", `["crm.internal"]`, "localhost", "refused by the address guard"},
		{"a host name does not allow its addresses", `["localhost"]`, "127.0.0.1", "refused by the address guard"},
		{"a range must hold the address dialled", `["10.0.0.0/8", "::1"]`, "127.0.0.1", "refused by the address guard"},
		{"an IP address", `["127.0.0.1"]`, "127.0.0.1", "200"},
		{"a range", `["127.0.0.0/30"]`, "127.0.0.1", "200"},
		{"nothing allowed", `[]`, "127.0.0.1", "refused by the address guard: prohibited IP address: 127.0.0.1"},
		{"a host name with its port", `["localhost:` + port + `"]`, "localhost", "200"},
		{"a host name with another port", `["localhost:1"]`, "localhost", "refused by the address guard"},
		{"an IP address with its port", `["127.0.0.1:` + port + `"]`, "127.0.0.1", "200"},
		{"an IP address with another port", `["127.0.0.1:1"]`, "127.0.0.1", "refused by the address guard"},
		{"an IPv6 address with another port", `["[::1]:1"]`, "::1", "refused by the address guard"},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			sim, _ := simulate(t, "http://"+net.JoinHostPort(c.host, port), `
http: { allow_hosts: `+c.allow+` }
automations:
  - id: g
    keywords: [GO]
    steps:
      - { type: http, url: "${SERVER}/x", on_error: end }
`, "GO")
			en := lastEnrollment(t, sim, "g")
			got := fmt.Sprint(en.HTTP["status"])
			if e, ok := en.HTTP["error"].(string); ok {
				got = e
			}
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("got %q, want %q...", got, c.want)
			}
		})
	}
}

func TestHTTPResponseBodyIsCapped(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 70000) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Twice", "first")
		w.Header().Add("X-Twice", "second")
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()
	sim, _ := simulate(t, srv.URL, `
http: { allow_private: true }
automations:
  - id: big
    keywords: [GO]
    steps:
      - { type: http, url: "${SERVER}/big" }
`, "GO")
	res := lastEnrollment(t, sim, "big").HTTP
	if body, _ := res["body"].(string); len(body) != httpstep.HTTPMaxResponseBody || body != big[:httpstep.HTTPMaxResponseBody] {
		t.Errorf("body is %d bytes, want the first %d", len(body), httpstep.HTTPMaxResponseBody)
	}
	if _, ok := res["json"]; ok {
		t.Errorf("a truncated body was parsed as JSON")
	}
	headers, _ := res["headers"].(map[string]any)
	if headers["x-twice"] != "first" || headers["content-type"] != "application/json" {
		t.Errorf("headers = %v, want first values under lower-case names", headers)
	}
	if _, ok := res["duration_ms"]; !ok {
		t.Errorf("no duration_ms in %v", res)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	sim, _ := simulate(t, "http://"+addr, `
http: { allow_private: true }
automations:
  - id: r
    keywords: [GO]
    steps:
      - { type: http, url: "${SERVER}/x", retries: 1 }
`, "GO")
	en := lastEnrollment(t, sim, "r")
	want := fmt.Sprintf("http: GET http://%s/x: connection refused", addr)
	if en.EndReason != want || en.HTTP["error"] != "connection refused" {
		t.Errorf("end reason %q, http %v; want %q", en.EndReason, en.HTTP, want)
	}
}
