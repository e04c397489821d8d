package config

import (
	"fmt"
	"testing"
)

// A required variable that is unset or empty is an error placed at its
// value, with its message; one in a default that is not used is not.
func TestEnvRequired(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	tests := []struct {
		value, want string
		problems    []string
	}{
		{`"${A:?set A}"`, "x", nil},
		{`"${UNSET:?the CRM key, from the CRM's settings page}"`, "", []string{
			"k.yaml:2:10: admin.token: environment variable UNSET is required, and is not set or is empty: the CRM key, from the CRM's settings page",
		}},
		{`"${EMPTY:?}"`, "", []string{
			"k.yaml:2:10: admin.token: environment variable EMPTY is required, and is not set or is empty",
		}},
		{`"${A:-${UNSET:?never said}}"`, "x", nil},
		{`"${EMPTY:-${UNSET:?said}}"`, "", []string{
			"k.yaml:2:10: admin.token: environment variable UNSET is required, and is not set or is empty: said",
		}},
		// a message's references are not used, so never warned about
		{`"${A:?see ${UNSET}}"`, "x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			c, ps := mustParse(t, "admin:\n  token: "+tc.value+"\n", vars)
			checkProblems(t, withoutHelpWarning(ps), tc.problems)
			if (ps.Err() != nil) != (tc.problems != nil) {
				t.Errorf("Err() = %v", ps.Err())
			}
			if c.Admin.Token != tc.want {
				t.Errorf("got %q, want %q", c.Admin.Token, tc.want)
			}
		})
	}
}

// bare (providers_test.go) runs in dev mode without a key.
func init() {
	SetDevCheck("bare", func(_ *Config, s *ProviderSection) string {
		var v struct {
			Key string `yaml:"key"`
		}
		if s.Node == nil || s.Node.Decode(&v) != nil || v.Key == "" {
			return "no bare key"
		}
		return ""
	})
}

// devFollows is what an unset value of a provider in dev mode warns of.
const devFollows = "its messages are logged and stored, not sent, and its webhook signatures are not checked"

// A plain ${NAME} that gives nothing is a warning that names the variable,
// says what the value became, and what follows for a provider's
// credentials (dev mode, whichever the provider) and the admin token.
func TestEnvUnsetWarnings(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	const hint = " (write ${%s:-} where empty is meant, or ${%s:?why} to require it)"
	tests := []struct {
		label, src string
		warnings   []string
	}{
		{"set", "admin:\n  token: \"${A}\"\n", nil},
		{"defaulted", "admin:\n  token: \"${UNSET:-d}${EMPTY:-}\"\n", nil},
		{"unused default", "admin:\n  token: \"${A:-${UNSET}}\"\n", nil},
		{"used default", "server:\n  public_url: \"${UNSET:-${EMPTY}}\"\n", []string{
			"k.yaml:2:15: warning: server.public_url: environment variable EMPTY is not set or empty, so the value is empty" + fmt.Sprintf(hint, "EMPTY", "EMPTY"),
		}},
		{"admin token", "admin:\n  token: \"${UNSET}\"\n", []string{
			"k.yaml:2:10: warning: admin.token: environment variable UNSET is not set or empty, so the admin API and the dashboard are off" + fmt.Sprintf(hint, "UNSET", "UNSET"),
		}},
		{"dev mode", "providers:\n  twilio:\n    account_sid: \"${SID}\"\n    auth_token: \"${EMPTY}\"\n", []string{
			"k.yaml:3:18: warning: providers.twilio.account_sid: environment variable SID is not set or empty, so the value is empty, and the twilio provider runs in dev mode (no Twilio credentials): " + devFollows + fmt.Sprintf(hint, "SID", "SID"),
			"k.yaml:4:17: warning: providers.twilio.auth_token: environment variable EMPTY is not set or empty, so the value is empty, and the twilio provider runs in dev mode (no Twilio credentials): " + devFollows + fmt.Sprintf(hint, "EMPTY", "EMPTY"),
		}},
		// Every provider's credentials, not only Twilio's: the provider
		// says itself whether it runs in dev mode. A live one's empty value
		// is only empty.
		{"dev mode of another provider", "providers:\n  bare:\n    key: \"${UNSET}\"\n", []string{
			"k.yaml:3:10: warning: providers.bare.key: environment variable UNSET is not set or empty, so the value is empty, and the bare provider runs in dev mode (no bare key): " + devFollows + fmt.Sprintf(hint, "UNSET", "UNSET"),
		}},
		{"a live provider", "providers:\n  bare:\n    key: \"${A}\"\n    region: \"${EMPTY}\"\n", []string{
			"k.yaml:4:13: warning: providers.bare.region: environment variable EMPTY is not set or empty, so the value is empty" + fmt.Sprintf(hint, "EMPTY", "EMPTY"),
		}},
		{"part of a value, twice, and another", `automations:
  - id: a
    keywords: [A]
    steps:
      - type: http
        url: "https://crm.example.com/"
        headers: { Authorization: "Bearer ${KEY}${KEY}${EMPTY}" }
`, []string{
			`k.yaml:7:35: warning: automation "a" step 1 field headers.Authorization: environment variables KEY, EMPTY are not set or empty, so the value is "Bearer "` + fmt.Sprintf(hint, "KEY", "KEY"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			_, ps := mustParse(t, tc.src, vars)
			checkProblems(t, withoutHelpWarning(ps), tc.warnings)
			if ps.Err() != nil {
				t.Errorf("a warning made an error: %v", ps.Err())
			}
		})
	}
}

// A credential left empty beside one that is set is no dev mode: the
// section is refused for it, so the warning about the empty variable does not
// promise dev mode.
func TestEnvUnsetHalfCredentialsIsNoDevMode(t *testing.T) {
	const src = "providers:\n  twilio:\n    account_sid: \"AC1\"\n    auth_token: \"${TOKEN}\"\n    numbers:\n      - { number: \"+15005550006\" }\n"
	_, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		"k.yaml:4:17: warning: providers.twilio.auth_token: environment variable TOKEN is not set or empty, so the value is empty (write ${TOKEN:-} where empty is meant, or ${TOKEN:?why} to require it)",
		"k.yaml:4:17: providers.twilio: account_sid is set but auth_token is empty (environment variable TOKEN is not set or empty)",
	})
}

// An error about a value that an unset variable emptied names the variable.
func TestErrorsNameUnsetVariables(t *testing.T) {
	_, ps := mustParse(t, "server:\n  public_url: \"${PUBLIC_HOST}/sms\"\n", nil)
	got := ps.Errors()
	want := `k.yaml:2:15: server.public_url: "/sms" is not an absolute http(s) URL (environment variable PUBLIC_HOST is not set or empty)`
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("errors %v, want %s", render(got), want)
	}
}

// A warning inside a section does not drop the section: an smtp whose
// username variable is unset is still the mail server.
func TestUnsetVariableKeepsItsSection(t *testing.T) {
	c, ps := mustParse(t, "email:\n  smtp: { host: mail.example.com, username: \"${SMTP_USER}\", from: a@example.com }\n", nil)
	if ps.Err() != nil || len(ps.Warnings()) == 0 {
		t.Fatalf("problems %v, want only the warning", render(ps))
	}
	if c.Email.SMTP == nil || c.Email.SMTP.Host != "mail.example.com" {
		t.Fatalf("smtp %+v, want the section read", c.Email.SMTP)
	}
}

// A reference on a line of a | block is told on that line, where the file
// shows it: the problem names the line of the reference, not the line of
// the key. A one-line value's problems stand at the value (the other tests).
func TestEnvReferenceInABlockStandsOnItsLine(t *testing.T) {
	const src = "compliance:\n  help:\n    reply: |\n      Acme help.\n      Call ${UNSET_PHONE:?the help line's number} or ${UNSET_HOURS}\n      $BARE\n    keywords: [HELP]\n"
	_, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		"k.yaml:5:12: compliance.help.reply: environment variable UNSET_PHONE is required, and is not set or is empty: the help line's number",
		`k.yaml:5:54: warning: compliance.help.reply: environment variable UNSET_HOURS is not set or empty, so the value is "Acme help.\nCall  or \n$BARE\n" (write ${UNSET_HOURS:-} where empty is meant, or ${UNSET_HOURS:?why} to require it)`,
		`k.yaml:6:7: compliance.help.reply: "$BARE" is not expanded: write ${BARE} for the environment variable, or $$BARE for the literal text`,
	})
}

// A quoted reference that gives nothing, in a number, a flag or a duration,
// counts as not written, as the same reference unquoted does: the setting
// keeps its default instead of failing to read "". Text keeps the empty
// value, and a literal "" is still read as written.
func TestEnvQuotedEmptyReadsAbsent(t *testing.T) {
	src := `server:
  max_body_bytes: "${UNSET}"
  max_connections: '${UNSET:-}'
storage:
  retention: "${EMPTY:-}"
http:
  allow_private: "${UNSET:-}"
admin:
  token: "${UNSET:-}"
automations:
  - id: a
    keywords: [A]
    steps:
      - type: sample
        text: "${UNSET:-}"
        timeout: "${EMPTY:-}"
        retries: "${UNSET:-}"
        headers: { X-Key: "${UNSET:-}" }
        body: { note: "${UNSET:-}" }
        opt: { until: "${UNSET:-}" }
      - type: sample
        timeout: ""
`
	c, ps := mustParse(t, src, map[string]string{"EMPTY": ""})
	checkProblems(t, withoutHelpWarning(ps), []string{
		"k.yaml:2:19: warning: server.max_body_bytes: environment variable UNSET is not set or empty, so the setting counts as not written (a default applies where there is one) (write ${UNSET:-} where empty is meant, or ${UNSET:?why} to require it)",
	})
	if c.Server.MaxBodyBytes != 65536 || c.Server.MaxConnections != 1024 || c.Storage.Retention != 0 || c.HTTP.AllowPrivate || c.Admin.Token != "" {
		t.Errorf("got server %+v, retention %v, allow_private %v, token %q", c.Server, c.Storage.Retention, c.HTTP.AllowPrivate, c.Admin.Token)
	}

	var s sampleStep
	checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[0], &s)), nil)
	if s.Timeout != 0 || s.Retries != 0 || s.Text != "" || s.Headers["X-Key"] != "" || s.Opt == nil || s.Opt.Until != "" {
		t.Errorf("got %+v", s)
	}
	if note, ok := s.Body.(map[string]any)["note"]; !ok || note != "" {
		t.Errorf("body note = %#v, want the empty text", note)
	}
	checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[1], &s)), []string{
		`k.yaml:22:18: automation "a" step 2 field timeout: invalid duration "" (use e.g. 90s, 15m, 2h, 3d)`,
	})
}

// The warning about a step's field that a quoted reference left empty says
// what follows, as a top-level setting's does: a number, a flag or a
// duration counts as not written, a text is empty. The step's type decides
// which, so DecodeStep tells it, once; Parse does not.
func TestEnvQuotedUnsetInAStepSaysWhatFollows(t *testing.T) {
	const hint = " (write ${%s:-} where empty is meant, or ${%s:?why} to require it)"
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - type: sample
        timeout: "${UNSET}"
        retries: "${UNSET}"
        text: "${UNSET}"
        headers: { X-Key: "Bearer ${UNSET}" }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:9:27: warning: automation "a" step 1 field headers.X-Key: environment variable UNSET is not set or empty, so the value is "Bearer "` + fmt.Sprintf(hint, "UNSET", "UNSET"),
	})
	var s sampleStep
	checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[0], &s)), []string{
		`k.yaml:6:18: warning: automation "a" step 1 field timeout: environment variable UNSET is not set or empty, so the setting counts as not written (a default applies where there is one)` + fmt.Sprintf(hint, "UNSET", "UNSET"),
		`k.yaml:7:18: warning: automation "a" step 1 field retries: environment variable UNSET is not set or empty, so the setting counts as not written (a default applies where there is one)` + fmt.Sprintf(hint, "UNSET", "UNSET"),
		`k.yaml:8:15: warning: automation "a" step 1 field text: environment variable UNSET is not set or empty, so the value is empty` + fmt.Sprintf(hint, "UNSET", "UNSET"),
	})
	if ps := c.UntoldUnsetWarnings(); len(ps) != 0 {
		t.Errorf("told again: %v", render(ps))
	}
}
