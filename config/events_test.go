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

// An endpoint on an address the guard refuses (loopback, private,
// link-local) is a warning, unless the http section lets it through:
// its events would be retried for a day and fail.
func TestValidateWarnsOfAnEventEndpointTheGuardRefuses(t *testing.T) {
	const endpoints = `events:
  - { url: "http://127.0.0.1:9000/hooks", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
  - { url: "https://crm.example.com/hooks", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
`
	_, ps := mustParse(t, endpoints, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		"k.yaml:2:12: warning: events[0].url: 127.0.0.1 is a loopback, private or link-local address: keyway refuses to call it unless http.allow_private is true or http.allow_hosts lists it; its events would never be delivered",
	})
	for _, allowed := range []string{"http: { allow_private: true }\n", "http: { allow_hosts: [\"127.0.0.1:9000\"] }\n"} {
		_, ps := mustParse(t, allowed+endpoints, nil)
		checkProblems(t, withoutHelpWarning(ps), nil)
	}
}

// Refuses tells what the address guard refuses whatever a name resolves
// to: an address it denies, or localhost, that the http section does not
// let through; a name it cannot judge before resolving it.
func TestHTTPRefuses(t *testing.T) {
	for _, c := range []struct {
		http    HTTP
		url     string
		refused bool
	}{
		{HTTP{}, "http://127.0.0.1/x", true},
		{HTTP{}, "http://localhost:8080/x", true},
		{HTTP{}, "http://LocalHost./x", true},
		{HTTP{}, "http://10.1.2.3/x", true},
		{HTTP{}, "http://169.254.169.254/latest", true},
		{HTTP{}, "http://[::1]:8080/x", true},
		{HTTP{}, "http://[fd00::5]/x", true},
		{HTTP{}, "https://crm.example.com/x", false},
		{HTTP{}, "https://8.8.8.8/x", false},
		{HTTP{AllowPrivate: true}, "http://127.0.0.1/x", false},
		{HTTP{AllowHosts: []string{"10.1.0.0/16"}}, "http://10.1.2.3/x", false},
		{HTTP{AllowHosts: []string{"10.1.0.0/16"}}, "http://10.2.0.1/x", true},
		{HTTP{AllowHosts: []string{"127.0.0.1:9000"}}, "http://127.0.0.1:9000/x", false},
		{HTTP{AllowHosts: []string{"127.0.0.1:9000"}}, "http://127.0.0.1:9001/x", true},
		{HTTP{AllowHosts: []string{"127.0.0.1:9000"}}, "http://127.0.0.1/x", true},
		{HTTP{AllowHosts: []string{"localhost"}}, "http://localhost:8080/x", false},
		{HTTP{AllowHosts: []string{"127.0.0.0/8"}}, "http://localhost:8080/x", false},
	} {
		if why := c.http.Refuses(c.url); (why != "") != c.refused {
			t.Errorf("%+v refuses %s: %q, want refused %t", c.http, c.url, why, c.refused)
		}
	}
}
