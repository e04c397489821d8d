package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateReportsEveryProblemWithItsPlace(t *testing.T) {
	t.Parallel()
	const broken = `server:
  listen: ":8080"
  colour: blue
groups:
  - { id: news }
automations:
  - id: join
    keywords: [JOIN, Café]
    steps:
      - { type: reply, text: "hi", next: nowhere }
      - { type: teleport }
  - id: other
    keywords: [cafe, STOP]
    steps:
      - { type: reply, text: "x" }
  - id: join
    steps:
      - { type: reply, text: "y" }
`
	validateRefuses(t, broken,
		`{file}:3:3: unknown key "colour"`,
		`{file}:10:42: automation "join" step 1: next "nowhere" is not a step of this automation`,
		`{file}:11:17: automation "join" step 2: unknown step type "teleport"`,
		`{file}:13:16: automation "other": keyword "cafe" conflicts with keyword "Café" of automation "join" at {file}:8:22`,
		`{file}:13:22: automation "other": keyword "STOP" is a compliance keyword`,
		`{file}:16:9: duplicate automation id "join" (first at {file}:7:9)`,
	)
}

// TestValidateTellsEveryProblemOfAStep checks that a value a step refuses
// (an invalid duration, a list for a text) hides none of the step's other
// problems, such as a template mistake in its JSON body, and adds none: the
// refused field is not then reported missing, nor as making another one
// pointless.
func TestValidateTellsEveryProblemOfAStep(t *testing.T) {
	t.Parallel()
	const src = `automations:
  - id: crm
    keywords: [CRM]
    steps:
      - type: http
        method: POST
        url: "https://crm.example.com/contacts"
        timeout: 2x
        body:
          json: { a: "{{ contact.nme }}" }
      - { type: reply, text: [hi], from: "12" }
      - { type: wait_for_reply, timeout: [1h], on_timeout: bye }
      - { id: bye, type: reply, txt: "bye" }
`
	out, path := validateSource(t, src, 1)
	for _, want := range []string{
		`:8:18: automation "crm" step 1 field timeout: invalid duration "2x"`,
		`:10:26: automation "crm" step 1: template: unknown name contact.nme (did you mean contact.name?`,
		`:11:30: automation "crm" step 2 field text: expected a string, got a list`,
		`:11:42: automation "crm" step 2: "12" is not a valid phone number nor a short code`,
		`:12:42: automation "crm" step 3 field timeout: expected a string, got a list`,
		`:13:33: unknown key "txt" in automation "crm" step 4 (step type "reply") (did you mean "text"?`,
	} {
		if !strings.Contains(out, path+want) {
			t.Errorf("output lacks %q:\n%s", path+want, out)
		}
	}
	if !strings.Contains(out, path+": 6 problem(s)") || strings.Count(out, "warning:") != 1 {
		t.Errorf("want the 6 problems alone, and the help reply's warning:\n%s", out)
	}
}

// TestValidateRefusesALoopThatNeverStops checks that a loop of steps with
// no wait and no way out is refused at the jump that closes it, and that a
// reminder loop through a wait and a loop a condition may leave pass.
func TestValidateRefusesALoopThatNeverStops(t *testing.T) {
	t.Parallel()
	const src = `automations:
  - id: nag
    keywords: [NAG]
    steps:
      - { id: again, type: reply, text: "Are you there?" }
      - { type: tag, add: [nagged], next: again }
  - id: remind
    keywords: [REMIND]
    steps:
      - { id: r, type: reply, text: "Reminder" }
      - { type: wait, duration: 1d, next: r }
  - id: retry
    keywords: [RETRY]
    steps:
      - { id: call, type: http, url: "https://crm.example.com/x", on_error: check }
      - { id: check, type: condition, if: 'http.status == 200', then: end, else: call }
`
	dir := t.TempDir()
	path := filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runKeywayIn(t, dir, "validate", "--config", path)
	want := path + `:6:43: automation "nag" step 2: next "again" closes a loop that never stops (again → #2 → again)`
	if code != 1 || !strings.Contains(out, want) || strings.Count(out, "closes a loop") != 1 {
		t.Errorf("exit %d; want 1 and only the nag loop refused, as\n  %s\ngot:\n%s", code, want, out)
	}
}

// TestValidateLooksInsideADuplicateBlock checks that a second
// automations: block, which keyway does not read, has its own problems
// reported beside the duplicate key, the steps' included, and that the
// file's other warnings are not said twice.
func TestValidateLooksInsideADuplicateBlock(t *testing.T) {
	t.Parallel()
	const src = `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "hi" }
automations:
  - id: more
    keywrds: [MORE]
    steps:
      - { type: replyy, text: "x" }
      - { type: start_automation, automation: join }
`
	out, path := validateSource(t, src, 1)
	for _, want := range []string{
		`:6:1: duplicate key "automations" at top level (first at `,
		`:8:5: unknown key "keywrds" in automation "more" (did you mean "keywords"?`,
		`:10:17: automation "more" step 1: unknown step type "replyy" (did you mean "reply"?`,
	} {
		if !strings.Contains(out, path+want) {
			t.Errorf("output lacks %q:\n%s", path+want, out)
		}
	}
	if strings.Count(out, "help reply does not name your brand") != 1 || strings.Contains(out, `"join" is not defined`) {
		t.Errorf("a warning said twice, or a reference to the first block missed:\n%s", out)
	}
}

// TestValidateLooksInsideDuplicatesAtEveryLevel checks that a key written
// twice below the top level (a second steps: in an automation, a second
// text: in a step, a key of a JSON body) is reported at the later key, and
// that the problems of the value keyway does not read are reported too,
// the steps' included: a second steps: block's steps, and a later single
// value, as if it replaced the first.
func TestValidateLooksInsideDuplicatesAtEveryLevel(t *testing.T) {
	t.Parallel()
	const src = `automations:
  - id: a
    keywords: [A]
    steps:
      - { type: reply, text: "hi" }
    steps:
      - { type: reply, text: "x", timeout: 2x }
      - type: reply
        text: one
        text: "{{ mesage.body }}"
  - id: b
    keywords: [B]
    steps:
      - type: http
        method: POST
        url: "https://crm.example/leads"
        timeout: 5s
        timeout: 2x
      - type: http
        method: POST
        url: "https://crm.example/leads"
        body:
          json: { name: "{{ contact.name }}", name: "{{ contact.nme }}" }
`
	validateRefuses(t, src,
		`{file}:6:5: duplicate key "steps" in automation "a" (first at {file}:4:5)`,
		`{file}:7:35: unknown key "timeout" in automation "a" step 2 (step type "reply")`,
		`{file}:10:9: duplicate key "text" in automation "a" step 3 (first at {file}:9:9)`,
		`{file}:10:19: automation "a" step 3: template: unknown name mesage`,
		`{file}:18:9: duplicate key "timeout" in automation "b" step 1 (first at {file}:17:9)`,
		`{file}:18:18: automation "b" step 1 field timeout: invalid duration "2x"`,
		`{file}:23:47: duplicate key "name" in automation "b" step 2 field body.json (first at {file}:23:19)`,
		`{file}:23:57: automation "b" step 2: template: unknown name contact.nme`,
	)
}

// TestValidateReportsABlockWrittenTwiceOnce checks that a step's template:
// block written twice is one problem, the duplicate template key, and not
// one more for each of its keys the first block has too; a problem of the
// hidden block's own (a name that does not exist) is still reported.
func TestValidateReportsABlockWrittenTwiceOnce(t *testing.T) {
	t.Parallel()
	const src = `providers:
  twilio:
    numbers: [ { number: "+14155238886", channel: whatsapp } ]
automations:
  - id: a
    keywords: [GO]
    steps:
      - type: reply
        template:
          content_sid: HX0123456789abcdef0123456789abcdef
          variables: { "1": a }
        template:
          content_sid: HX0123456789abcdef0123456789abcdef
          variables: { "1": "{{ contact.nme }}" }
`
	out, path := validateSource(t, src, 1)
	want := path + `:12:9: duplicate key "template" in automation "a" step 1 (first at ` + path + `:9:9)`
	if !strings.Contains(out, want) || strings.Count(out, "duplicate key") != 1 {
		t.Errorf("want the one duplicate key\n  %s\ngot:\n%s", want, out)
	}
	if !strings.Contains(out, path+`:14:33: automation "a" step 1: template: unknown name contact.nme`) || !strings.Contains(out, "2 problem(s)") {
		t.Errorf("want the hidden block's unknown name too, and 2 problems:\n%s", out)
	}
}

// TestValidateRefusesAStartAutomationLoopThatNeverStops checks that
// automations that start each other at once, with no wait on the way, are
// refused at the start that closes the loop when each start enrolls the
// contact again: each restarts (overwrite_if_exists: the starts nest until
// the step limit), or an http call puts the next start in a later run,
// after the earlier enrollment finished (the loop calls for ever). Such a
// loop with no http call and no restart stops at once (the contact is
// still in the first automation), and one through a wait stops: both pass.
func TestValidateRefusesAStartAutomationLoopThatNeverStops(t *testing.T) {
	t.Parallel()
	const src = `http: { allow_private: true }
automations:
  - id: ping
    keywords: [PING]
    overwrite_if_exists: true
    steps:
      - { type: reply, text: "ping" }
      - { type: start_automation, automation: pong }
  - id: pong
    keywords: [PONG]
    overwrite_if_exists: true
    steps:
      - { type: start_automation, automation: ping }
  - id: sync
    keywords: [SYNC]
    steps:
      - { type: http, url: "http://127.0.0.1:9/sync" }
      - { type: start_automation, automation: resync }
  - id: resync
    keywords: [RESYNC]
    steps:
      - { type: http, url: "http://127.0.0.1:9/resync" }
      - { type: start_automation, automation: sync }
  - id: menu
    keywords: [MENU]
    steps:
      - { type: start_automation, automation: submenu }
  - id: submenu
    keywords: [SUB]
    steps:
      - { type: start_automation, automation: menu }
  - id: daily
    keywords: [DAILY]
    overwrite_if_exists: true
    steps:
      - { type: http, url: "http://127.0.0.1:9/daily" }
      - { type: wait, duration: 1d }
      - { type: start_automation, automation: daily }
`
	dir := t.TempDir()
	path := filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runKeywayIn(t, dir, "validate", "--config", path)
	want := []string{
		path + `:13:47: automation "pong" step 1: start_automation "ping" closes a loop of automations that never stops (ping → pong → ping)`,
		path + `:23:47: automation "resync" step 2: start_automation "sync" closes a loop of automations that never stops (sync → resync → sync)`,
	}
	if code != 1 || !strings.Contains(out, want[0]) || !strings.Contains(out, want[1]) || strings.Count(out, "closes a loop") != 2 {
		t.Errorf("exit %d; want 1 and only the ping and sync loops refused, as\n  %s\ngot:\n%s", code, strings.Join(want, "\n  "), out)
	}
}

func TestValidateAcceptsEveryExample(t *testing.T) {
	examples, err := filepath.Glob("../config/examples/*.yaml")
	if err != nil || len(examples) < 2 {
		t.Fatalf("examples %v: %v", examples, err)
	}
	// Without their variables the examples run in dev mode, and validate
	// warns about each variable they need and what its absence does; with
	// them, as when going live, there is no warning at all.
	live := map[string]string{
		"TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN": "secret-auth-token",
		"KEYWAY_ADMIN_TOKEN": "an-admin-token-long-enough", "KEYWAY_PUBLIC_URL": "https://sms.example.com",
		"CRM_API_KEY":     "crm-key",
		"META_APP_SECRET": "meta-app-secret", "META_VERIFY_TOKEN": "meta-verify-token", "META_ACCESS_TOKEN": "meta-access-token",
		"VONAGE_API_KEY": "abcd1234", "VONAGE_API_SECRET": "vonage-api-secret", "VONAGE_SIGNATURE_SECRET": "vonage-signature-secret",
	}
	for name := range live {
		t.Setenv(name, "")
	}
	for _, ex := range examples {
		if strings.HasSuffix(ex, "_test.yaml") {
			continue // a keyway test file, not a config (starter_pack_test.go runs them)
		}
		t.Run(filepath.Base(ex), func(t *testing.T) {
			code, out := Keyway(t, "", "validate", "--config", ex)
			if code != 0 || !strings.Contains(out, "OK") {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "warning:") && !strings.Contains(line, " is not set or empty, so ") {
					t.Errorf("examples warn only about their unset variables, not:\n%s", line)
				}
			}
		})
	}
	for name, v := range live {
		t.Setenv(name, v)
	}
	for _, ex := range examples {
		if strings.HasSuffix(ex, "_test.yaml") {
			continue
		}
		t.Run(filepath.Base(ex)+" live", func(t *testing.T) {
			code, out := Keyway(t, "", "validate", "--config", ex)
			if code != 0 || !strings.Contains(out, "OK") || strings.Contains(out, "warning:") {
				t.Fatalf("exit %d (examples must validate without warnings once their variables are set):\n%s", code, out)
			}
		})
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("KEYWAY_CONFIG", "../config/examples/starter.yaml")
	code, out := Keyway(t, "", "validate")
	if code != 0 {
		t.Fatalf("KEYWAY_CONFIG not used: exit %d:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out := Keyway(t, "", "version")
	if code != 0 || !strings.Contains(out, "keyway") || !strings.Contains(out, "go1.") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestValidatePrintsSegmentsPerStep(t *testing.T) {
	t.Parallel()
	code, out := Keyway(t, "", "validate", "--segments", "--config", "../config/examples/starter.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, `automation "hours" step 1: 1 segment(s), GSM-7`) {
		t.Fatalf("no segment count for the hours reply:\n%s", out)
	}
}

// validate warns about a reply that can reach a WhatsApp contact more than
// 24 hours after its last message, also when no single pause is that long:
// waits one after another, a question's timeout then a wait, a handoff
// that times out, a loop of waits. A reply after an answered question
// counts from the answer, and a reply the pauses cannot carry that far
// gets no warning.
func TestValidateWarnsWhenPausesAddUpPastTheWhatsAppWindow(t *testing.T) {
	t.Parallel()
	const src = `compliance:
  help: { keywords: [HELP], reply: "Acme: reply STOP to opt out" }
providers:
  twilio:
    numbers:
      - { number: "+14155238886", channel: whatsapp }
automations:
  - id: waits
    keywords: [WAITS]
    steps:
      - { type: wait, duration: 23h }
      - { type: reply, text: "soon" }
      - { type: wait, duration: 2h }
      - { type: reply, text: "late" }
  - id: quiz
    keywords: [QUIZ]
    steps:
      - { type: wait_for_reply, timeout: 12h, save_as: a, on_timeout: nudge }
      - { type: wait, duration: 20h }
      - { type: reply, text: "answered 20h ago", next: end }
      - { id: nudge, type: wait, duration: 13h }
      - { type: reply, text: "still there?" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100"], timeout: 30h }
      - { type: reply, text: "after the handoff" }
  - id: nag
    keywords: [NAG]
    steps:
      - { id: top, type: wait, duration: 6h }
      - { type: condition, if: '"done" in contact.tags', then: out, else: top }
      - { id: out, type: reply, text: "at last" }
`
	out, path := validateSource(t, src, 0)
	late := func(line int, automation string, step int) string {
		return fmt.Sprintf("%s:%d:9: warning: automation %q step %d: on WhatsApp this reply can go out more than 24 hours after the contact's last message", path, line, automation, step)
	}
	for _, want := range []string{late(14, "waits", 4), late(22, "quiz", 5), late(27, "agent", 2), late(33, "nag", 3)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, notLate := range []string{late(12, "waits", 2), late(20, "quiz", 3)} {
		if strings.Contains(out, notLate) {
			t.Errorf("output warns %q, though that reply goes out within 24 hours:\n%s", notLate, out)
		}
	}
}

// With Twilio's and the Cloud API's WhatsApp numbers in one config, a
// template in one form is a warning where the step may go out from the
// other provider's number (a problem where its from is one), and a
// template in both forms is neither; its variables then are a list or a
// mapping keyed by whole numbers.
func TestValidateChecksTheTemplateFormOfEachWhatsAppNumber(t *testing.T) {
	t.Parallel()
	const src = `compliance:
  help: { keywords: [HELP], reply: "Acme: reply STOP to opt out" }
providers:
  twilio:
    numbers:
      - { number: "+14155238886", channel: whatsapp }
  meta:
    app_secret: "s"
    verify_token: "v"
    access_token: "a"
    numbers:
      - { number: "+15550001234", phone_number_id: "106540352242922" }
automations:
  - id: promo
    keywords: [PROMO]
    steps:
      - { type: reply, template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
      - { type: reply, template: { name: deal, language: en_US } }
      - { type: reply, from: "+14155238886", template: { name: deal, language: en_US } }
      - { type: reply, template: { content_sid: "HX0123456789abcdef0123456789abcdef", name: deal, language: en_US, variables: ["a"] } }
      - { type: reply, template: { content_sid: "HX0123456789abcdef0123456789abcdef", name: deal, language: en_US, variables: { "1": "a" } } }
      - { type: reply, template: { content_sid: "HX0123456789abcdef0123456789abcdef", name: deal, language: en_US, variables: { first: "a" } } }
`
	out, path := validateSource(t, src, 1)
	for _, want := range []string{
		path + ":17:34: warning: automation \"promo\" step 1: a template by content_sid cannot go out from +15550001234 (providers.meta), which sends templates by name and language",
		path + ":18:34: warning: automation \"promo\" step 2: a template by name and language cannot go out from +14155238886 (providers.twilio), which sends templates by content_sid",
		path + ":19:56: automation \"promo\" step 3: from +14155238886 is a number of providers.twilio, which sends templates by content_sid, not name and language",
		path + ":22:127: automation \"promo\" step 6: a template with both content_sid and name takes its variables as a list, or a mapping keyed 1, 2, 3...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, step := range []string{"step 4", "step 5"} {
		if strings.Contains(out, step+":") {
			t.Errorf("output names %s, whose template has both forms:\n%s", step, out)
		}
	}
}

// validateSource runs keyway validate on src, written to a keyway.yaml in
// a folder of its own, and fails the test unless it exits with code; it
// returns what validate printed, and the file's path.
func validateSource(t *testing.T, src string, code int) (out, path string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got, out := runKeywayIn(t, dir, "validate", "--config", path)
	if got != code {
		t.Fatalf("exit %d, want %d:\n%s", got, code, out)
	}
	return out, path
}
