package config

import (
	"slices"
	"strings"
	"testing"
)

// validate checks each events endpoint with its place: the URL, given
// once, the secret's form and length, and the types.
func TestValidateEvents(t *testing.T) {
	src := `events:
  - url: "https://crm.example.com/a"
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  - url: "ftp://crm.example.com/b"
    secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    types: [contact.opted_out, contact.optedout]
  - url: "https://crm.example.com/a"
    secret: "whsec_not base64!"
  - secret: "whsec_c2hvcnQ="
`
	_, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:4:10: events[1].url: "ftp://crm.example.com/b" is not an http or https URL`,
		`k.yaml:5:13: events[1].secret: an events secret starts with whsec_ (then the key in base64)`,
		`k.yaml:6:32: events[1].types[1]: unknown event type "contact.optedout"; known: contact.opted_out, contact.opted_in, message.received, message.failed, enrollment.completed, handoff.opened, handoff.closed, broadcast.done`,
		`k.yaml:7:10: events[2].url: "https://crm.example.com/a" is listed already, as events[0] (k.yaml:2:10); give each endpoint once, with every type it takes`,
		`k.yaml:8:13: events[2].secret: the events secret after whsec_ is not base64: illegal base64 data at input byte 3`,
		`k.yaml:9:5: events[3].url: an events endpoint needs a url`,
		"k.yaml:9:13: warning: events[3].secret: the events secret holds 5 bytes, easy to guess; use at least 16 (24 to 64 is usual, e.g. whsec_ and the output of `openssl rand -base64 32`)",
	})
}

// A short key is any Standard Webhooks secret still: validate warns, and
// the config runs.
func TestShortEventSecretOnlyWarns(t *testing.T) {
	_, ps := mustParse(t, `events:
  - url: "https://crm.example.com/a"
    secret: "whsec_c2hvcnQ="
`, nil)
	if errs := ps.Errors(); len(errs) != 0 {
		t.Fatalf("errors %v, want none", render(errs))
	}
	if ws := render(ps.Warnings()); !slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(w, "5 bytes, easy to guess") }) {
		t.Fatalf("warnings %v, want one about the short secret", ws)
	}
}
