package providertest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/providers"
)

// full is a Suite with one case of every kind.
func full() Suite {
	msg := []providers.Inbound{{ID: "1"}}
	return Suite{
		Webhooks: []WebhookCase{
			{Label: "signed", Messages: msg},
			{Label: "bad", Signature: BadSignature, Status: http.StatusForbidden},
			{Label: "missing", Signature: NoSignature, Status: http.StatusUnauthorized},
			{Label: "tampered", Tamper: strings.ToUpper, Status: http.StatusForbidden},
			{Label: "twice", Repeat: true, Messages: msg},
			{Label: "status", Statuses: []providers.Status{{ProviderID: "p"}}},
			{Label: "malformed", Status: http.StatusBadRequest},
			{Label: "media", Messages: []providers.Inbound{{ID: "2", Media: []string{"u"}}}},
			{Label: "dev", Dev: true, Signature: NoSignature, Messages: msg},
		},
		Sends: []SendCase{
			{Label: "sent", Requests: []APIRequest{{}}},
			{Label: "media", Message: providers.Outbound{Media: []string{"u"}}, Requests: []APIRequest{{}}},
			{Label: "dev", Dev: true},
			{Label: "unreachable", Unreachable: true, Outcome: RetryLater},
			{Label: "retry", Requests: []APIRequest{{}}, Outcome: RetryLater},
			{Label: "failed", Requests: []APIRequest{{}}, Outcome: Failed},
			{Label: "opted out", Requests: []APIRequest{{}}, Outcome: OptedOut},
			{Label: "marketing", Requests: []APIRequest{{}}, Outcome: MarketingOptOut},
			{Label: "window", Requests: []APIRequest{{}}, Outcome: OutsideWindow},
			{Label: "throttled", Requests: []APIRequest{{}}, Outcome: Throttled},
		},
	}
}

// A Suite with a case of every kind passes the coverage check; one that
// leaves a kind out, or says it lacks a kind it has, or lacks one without
// saying why, does not.
func TestCoverage(t *testing.T) {
	if got := full().coverage(); len(got) != 0 {
		t.Fatalf("a full suite: %q", got)
	}

	s := full()
	s.Webhooks = slices.DeleteFunc(s.Webhooks, func(c WebhookCase) bool { return c.Label == "bad" })
	// A refused send, which never reaches the API, is no failure answer.
	s.Sends = slices.DeleteFunc(s.Sends, func(c SendCase) bool { return c.Label == "failed" })
	s.Sends = append(s.Sends, SendCase{Label: "refused before sending", Outcome: Failed})
	// A bad signature answered 200 is no bad signature case.
	s.Webhooks = append(s.Webhooks, WebhookCase{Label: "bad but taken", Signature: BadSignature, Messages: []providers.Inbound{{ID: "3"}}})
	want := []string{
		`no case of "bad signature" (add one, or say in Lacks why the provider has none)`,
		`no case of "send failed" (add one, or say in Lacks why the provider has none)`,
	}
	if got := s.coverage(); !slices.Equal(got, want) {
		t.Errorf("kinds left out:\n%q\nwant\n%q", got, want)
	}

	s.Lacks = map[Kind]string{KindBadSignature: "none", SendKind(Failed): "", KindStatus: "has one", "telepathy": "x"}
	want = []string{
		`Lacks "status" but has 1 cases of it`,
		`Lacks "send failed" without saying why`,
		`Lacks "telepathy", which is not a kind`,
	}
	if got := s.coverage(); !slices.Equal(got, want) {
		t.Errorf("lacks:\n%q\nwant\n%q", got, want)
	}
}
