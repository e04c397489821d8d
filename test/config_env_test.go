package test

import (
	"net/http"
	"strings"
	"testing"
)

func TestValidateRefusesBareDollarNamesAndBadListen(t *testing.T) {
	t.Parallel()
	const src = `server:
  listen: "8080"
admin:
  token: "${KEYWAY_TEST_UNSET_TOKEN"
automations:
  - id: price
    keywords: [PRICE]
    steps:
      - { type: reply, text: "Only $5 today, $NAME" }
`
	validateRefuses(t, src,
		`{file}:2:11: server.listen: "8080" is not an address to listen on: missing port in address`,
		`{file}:4:10: admin.token: unterminated "${KEYWAY_TEST_UNSET_TOKEN"`,
		`{file}:9:30: automation "price" step 1 field text: "$NAME" is not expanded: write ${NAME} for the environment variable, or $$NAME for the literal text`,
	)
}

// validateRefuses runs validate on a config file holding src, in a folder
// of its own, and checks that it exits 1 and prints each of wants, where
// {file} stands for the file's path.
func validateRefuses(t *testing.T, src string, wants ...string) {
	t.Helper()
	out, path := validateSource(t, src, 1)
	for _, want := range wants {
		if want = strings.ReplaceAll(want, "{file}", path); !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvDefaultsAndLiteralDollars(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: deal
    keywords: [DEAL]
    steps:
      - { type: reply, text: "${KEYWAY_TEST_UNSET_GREETING:-Hello}! $$SAVE means $5 off, ${KEYWAY_TEST_UNSET_EMPTY:-}today" }
`)
	const to = "+15554450031"
	g.Text(Inbound{From: to, Body: "DEAL"})
	if got := repliesTo(t, g, to, 1); got[0] != "Hello! $SAVE means $5 off, today" {
		t.Fatalf("reply %q", got[0])
	}
}

// The warning about a step's field that a quoted reference left empty says
// what follows, as a top-level setting's does: a duration or a number
// counts as not written and its default applies, a text is empty.
func TestValidateSaysWhatAnEmptiedStepFieldBecomes(t *testing.T) {
	t.Parallel()
	const src = `automations:
  - id: crm
    keywords: [CRM]
    steps:
      - { type: wait_for_reply, timeout: "${KEYWAY_TEST_UNSET_REPLY}" }
      - { type: http, url: "https://crm.example.com/x", timeout: "${KEYWAY_TEST_UNSET_HTTP}", headers: { X-Note: "${KEYWAY_TEST_UNSET_NOTE}" } }
`
	out, _ := validateSource(t, src, 0)
	for _, want := range []string{
		`:5:42: warning: automation "crm" step 1 field timeout: environment variable KEYWAY_TEST_UNSET_REPLY is not set or empty, so the setting counts as not written (a default applies where there is one)`,
		`:6:66: warning: automation "crm" step 2 field timeout: environment variable KEYWAY_TEST_UNSET_HTTP is not set or empty, so the setting counts as not written (a default applies where there is one)`,
		`: warning: automation "crm" step 2 field headers.X-Note: environment variable KEYWAY_TEST_UNSET_NOTE is not set or empty, so the value is empty`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A quoted reference that gives nothing, in a duration or a flag, counts
// as not written, as it does unquoted: the gateway starts with the
// settings' defaults (retention: keep forever; enabled: yes) and answers.
func TestEnvQuotedEmptyKeepsDefaults(t *testing.T) {
	t.Parallel()
	const body = `
automations:
  - id: hours
    keywords: [HOURS]
    enabled: "${KEYWAY_TEST_UNSET_ENABLED:-}"
    expire_after: "${KEYWAY_TEST_UNSET_EXPIRY}"
    steps:
      - { type: reply, text: "Open 9 to 5" }
`
	g := newGateway(t, body)
	g.retention = "${KEYWAY_TEST_UNSET_RETENTION:-}"
	g.WriteConfig(body)
	g.startUntilEnd()
	const to = "+15554450032"
	g.Text(Inbound{From: to, Body: "HOURS"})
	if got := repliesTo(t, g, to, 1); got[0] != "Open 9 to 5" {
		t.Fatalf("reply %q", got[0])
	}
	const warning = "field expire_after: environment variable KEYWAY_TEST_UNSET_EXPIRY is not set or empty, so the setting counts as not written"
	if !strings.Contains(g.Logs(), warning) {
		t.Errorf("the log lacks %q:\n%s", warning, g.Logs())
	}
}

// Template and variable mistakes are told by validate, each at its place,
// instead of reaching customers: a misspelt name, an undeclared field, an
// unclosed {{, a misspelt condition, a name below a text (message.body.x,
// which would render empty), a required variable that is unset,
// and an unset variable that empties a URL (named in the error) or leaves
// a bare "Bearer " (a warning). A template's problem stands on the name it
// is about, on a later line of a | block too, and so does a required
// variable's.
func TestValidateTellsTemplateAndVariableMistakes(t *testing.T) {
	t.Parallel()
	const src = `fields: [first_name]
automations:
  - id: thanks
    keywords: [THANKS]
    steps:
      - { type: reply, text: "Thanks {{ contact.feilds.first_name }}!" }
      - { type: set_field, fields: { first_name: "{{ vars.name }" } }
      - { type: condition, if: 'mesage.body == "x"', then: end }
      - { type: reply, text: "Hi {{ contact.fields.frist_name }}" }
      - type: http
        method: POST
        url: "${KEYWAY_TEST_UNSET_CRM_URL}/leads"
        headers: { Authorization: "Bearer ${KEYWAY_TEST_UNSET_CRM_KEY}", X-Account: "${KEYWAY_TEST_UNSET_ACCOUNT:?the CRM account id, from its settings page}" }
      - type: reply
        text: |
          Hello,
          {{ vars.x }} then {{ contect.name }}
          Bye, ${KEYWAY_TEST_UNSET_SIGNOFF:?the team's signature}
      - { type: condition, if: 'message.body.x == "y"', then: end }
      - { type: reply, text: "Hi {{ contact.name.given }}" }
`
	validateRefuses(t, src,
		`{file}:6:41: automation "thanks" step 1: template: unknown name contact.feilds (did you mean contact.fields?`,
		`{file}:7:51: automation "thanks" step 2: fields.first_name: template: "{{ vars.name }" is not closed by "}}"`,
		`{file}:8:33: automation "thanks" step 3: unknown name mesage (did you mean message?)`,
		`{file}:9:37: automation "thanks" step 4: template: contact.fields.frist_name: field "frist_name" is not declared under fields (did you mean contact.fields.first_name?)`,
		`{file}:12:14: automation "thanks" step 5: url "/leads" must start with http:// or https:// (environment variable KEYWAY_TEST_UNSET_CRM_URL is not set or empty)`,
		`{file}:12:14: warning: automation "thanks" step 5 field url: environment variable KEYWAY_TEST_UNSET_CRM_URL is not set or empty`,
		`{file}:13:35: warning: automation "thanks" step 5 field headers.Authorization: environment variable KEYWAY_TEST_UNSET_CRM_KEY is not set or empty, so the value is "Bearer "`,
		`{file}:13:85: automation "thanks" step 5 field headers.X-Account: environment variable KEYWAY_TEST_UNSET_ACCOUNT is required, and is not set or is empty: the CRM account id, from its settings page`,
		`{file}:17:32: automation "thanks" step 6: template: unknown name contect (did you mean contact?`,
		`{file}:18:16: automation "thanks" step 6 field text: environment variable KEYWAY_TEST_UNSET_SIGNOFF is required, and is not set or is empty: the team's signature`,
		`{file}:19:33: automation "thanks" step 7: unknown name message.body.x (message.body has no names below it)`,
		`{file}:20:37: automation "thanks" step 8: template: unknown name contact.name.given (contact.name has no names below it)`,
	)
}

// serve logs the warning about an unset variable, with its place.
func TestServeLogsUnsetVariables(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: hi
    keywords: [HI]
    steps:
      - { type: reply, text: "Hi${KEYWAY_TEST_UNSET_SUFFIX}" }
`)
	if logs := g.Logs(); !strings.Contains(logs, `environment variable KEYWAY_TEST_UNSET_SUFFIX is not set or empty, so the value is \"Hi\"`) {
		t.Fatalf("serve's log does not name the unset variable:\n%s", logs)
	}
}

// A reload logs its warnings as the start does: an unset variable that the
// new file brings is named in serve's log with its place, not only counted.
func TestReloadLogsUnsetVariables(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: hi
    keywords: [HI]
    steps:
      - { type: reply, text: "Hi" }
`)
	g.WriteConfig(`
automations:
  - id: hi
    keywords: [HI]
    steps:
      - { type: reply, text: "Hi${KEYWAY_TEST_UNSET_RELOADED}" }
`)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload: status %d", code)
	}
	Eventually(t, patience, "the reload logged", func() bool { return strings.Contains(g.Logs(), "config reloaded") })
	if logs := g.Logs(); !strings.Contains(logs, `environment variable KEYWAY_TEST_UNSET_RELOADED is not set or empty, so the value is \"Hi\"`) {
		t.Fatalf("serve's log does not name the variable the reloaded file left unset:\n%s", logs)
	}
}
