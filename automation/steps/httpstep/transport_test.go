package httpstep_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSimulatorTransportAnswersHTTPSteps proves that a simulator's HTTP
// transport answers http steps instead of the network: the host does not
// exist, so only the transport can answer.
func TestSimulatorTransportAnswersHTTPSteps(t *testing.T) {
	src := `
automations:
  - id: lead
    keywords: [LEAD]
    steps:
      - { type: http, method: POST, url: "https://crm.keyway-test.invalid/leads", body: { json: { phone: "{{ contact.phone }}" } }, on_error: oops }
      - { type: reply, text: "lead {{ http.json.id }}", next: end }
      - { id: oops, type: reply, text: "failed: {{ http.error }}" }
`
	cfg, problems := config.Parse("test.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if problems.Err() != nil {
		t.Fatal(problems)
	}
	set, problems := engine.Compile(cfg)
	if set == nil {
		t.Fatal(problems)
	}
	s := sim.NewSimulator(set, nil)
	var got string
	s.HTTP = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.String() + " " + string(b)
		return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{"id": 7}`))}, nil
	})
	res, err := s.Say(context.Background(), "LEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 1 || res.Sent[0].Body != "lead 7" {
		t.Fatalf("sent %v, want the reply made from the transport's answer", res.Sent)
	}
	if want := `POST https://crm.keyway-test.invalid/leads {"phone":"+15550001111"}`; got != want {
		t.Errorf("transport saw %q, want %q", got, want)
	}
}
