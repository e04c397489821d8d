package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// testConfig is the config the runner's tests run against.
const testConfig = `
defaults: { timezone: "America/New_York" }
providers:
  twilio:
    numbers: [{ number: "+15005550006", channel: sms }]
groups: [{ id: news, name: News }]
fields: [first_name, lead]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [news] }
      - { type: tag, add: [joined] }
      - { type: reply, text: "Welcome! Name?" }
      - { type: wait_for_reply, timeout: 1h, save_as: name, on_timeout: bye }
      - { type: set_field, fields: { first_name: "{{ vars.name }}" } }
      - { type: forward_to_mobile, to: ["+15550100100"], text: "New member {{ vars.name }}" }
      - { type: forward_to_email, to: ["staff@example.com"], subject: "New member {{ vars.name }}" }
      - { type: reply, text: "Thanks {{ vars.name }}!", next: end }
      - { id: bye, type: reply, text: "Bye" }
  - id: open
    keywords: [OPEN]
    steps:
      - { type: wait, until: "13:00" }
      - { type: reply, text: "It is one" }
  - id: lead
    keywords: [LEAD]
    steps:
      - { type: http, method: POST, url: "https://crm.example.com/leads", on_error: oops }
      - { type: set_field, fields: { lead: "{{ http.json.id }}" } }
      - { type: reply, text: "Lead {{ http.json.id }}", next: end }
      - { id: oops, type: reply, text: "CRM said {{ http.status }}" }
  - id: visit
    steps:
      - { type: wait, at: "{{ vars.visit_at }}", offset: -24h }
      - { type: reply, text: "See you tomorrow" }
  - id: booked
    steps:
      - { type: wait, at: "{{ vars.visit_at }}", on_error: nodate }
      - { type: reply, text: "See you", next: end }
      - { id: nodate, type: reply, text: "No date" }
  - id: drip
    steps:
      - { type: reply, text: "Drip 1" }
  - id: menu
    keywords: [MENU]
    steps:
      - { type: reply, text: "How can we help?", buttons: [ { id: HOURS, title: "Opening hours" }, { id: AGENT, title: "A person" } ] }
  - id: tmpl
    keywords: [TMPL]
    steps:
      - { type: reply, template: { content_sid: "HX0123456789abcdef0123456789abcdef", name: deal, language: en_US, variables: ["x"] } }
  - id: weekly
    schedule: { cron: "0 10 * * MON", group: news }
    steps:
      - { type: reply, text: "This week's deal" }
`

// runTestCmd writes the config and the test file into a temp dir and runs
// `keyway test` on it.
func runTestCmd(t *testing.T, tests string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "keyway.yaml"), []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tests", "keyway_test.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("config: ../conf/keyway.yaml\n"+tests), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"test", path}, strings.NewReader(""), &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestKeywayTestPasses(t *testing.T) {
	code, out := runTestCmd(t, `
tests:
  - name: join remembers the name
    turns:
      - send: "join"
        expect:
          replies: ["Welcome! Name?"]
          groups: [news]
          tags: [joined]
          enrolled: [join]
          opted_out: false
      - send: "Ann"
        expect:
          replies: ["/^Thanks An+!$/"]
          forwards: [{ to: "+15550100100", text: "/^New member Ann\\n#[A-Z0-9]{4}$/" }]
          emails: [{ to: "staff@example.com", subject: "/member Ann/" }]
          fields: { first_name: "Ann" }
          enrolled: []
  - name: each test starts on an empty store
    turns:
      - send: "JOIN"
        expect: { replies: ["Welcome! Name?"] }
  - name: the clock starts Monday 12:00 in the config's time zone
    turns:
      - send: "OPEN"
        expect: { replies: [] }
      - wait: 59m
        expect: { replies: [] }
      - wait: 1m
        expect: { replies: ["It is one"] }
  - name: a Monday-morning schedule does not tick into the first days
    turns:
      - send: "JOIN"
        expect: { replies: ["Welcome! Name?"], groups: [news] }
      - send: "Ann"
      - wait: 25h
        expect: { replies: [] }
      - wait: 5d20h59m
        expect: { replies: [] }
      - wait: 1m
        expect: { replies: ["This week's deal"] }
  - name: a timeout falls due when the clock moves
    from: "+15551230001"
    turns:
      - send: "JOIN"
      - wait: 2h
        expect: { replies: ["Bye"], forwards: [], emails: [] }
  - name: http answers come from the test file
    turns:
      - send: "LEAD"
        expect: { replies: ["Lead 7"], fields: { lead: "7" } }
    http:
      - { method: GET, url: "https://crm.example.com/", status: 500 }
      - { method: post, url: "https://crm.example.com/lea", status: 201, json: { id: 7 } }
  - name: an http error status takes on_error
    turns:
      - send: "LEAD"
        expect: { replies: ["CRM said 503"] }
    http:
      - { url: "https://crm.example.com/leads", status: 503 }
  - name: start enrolls as the admin API does
    turns:
      - start: drip
        expect: { replies: ["Drip 1"] }
  - name: STOP opts out
    turns:
      - send: "STOP"
        expect: { opted_out: true, replies: ["/unsubscribed/"] }
`)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{
		"ok join remembers the name\n",
		"ok each test starts on an empty store\n",
		"ok the clock starts Monday 12:00 in the config's time zone\n",
		"ok a Monday-morning schedule does not tick into the first days\n",
		"ok http answers come from the test file\n",
		"ok start enrolls as the admin API does\n",
		"9 passed, 0 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKeywayTestFailsWithADiff(t *testing.T) {
	code, out := runTestCmd(t, `
tests:
  - name: passes
    turns:
      - send: "JOIN"
  - name: wrong reply and state
    turns:
      - send: "JOIN"
        expect:
          replies: ["Welcome! Your name?"]
          groups: [news, vip]
          tags: [gold]
          fields: { first_name: "Bob" }
          opted_out: true
          enrolled: []
  - name: wrong forward and email
    turns:
      - send: "JOIN"
      - send: "Ann"
        expect:
          forwards: [{ to: "+15550100199", text: "New member Ann" }]
          emails: [{ to: "staff@example.com", subject: "Hello" }]
  - name: unanswered http
    turns:
      - send: "LEAD"
    http:
      - { method: GET, url: "https://crm.example.com/leads", status: 200 }
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"ok passes\n",
		"FAIL wrong reply and state\n",
		"replies differ\n",
		`expected: ["Welcome! Your name?"]`,
		`got:      ["Welcome! Name?"]`,
		"groups differ: not in vip",
		"tags differ: no gold",
		"field first_name differs",
		"got:      (not set)",
		"opted_out differs",
		"enrolled differs",
		"got:      [join]",
		"FAIL wrong forward and email\n",
		"forwards differ",
		`got:      [{to: +15550100100, text: "New member Ann\n#2W33"}]`,
		"emails differ",
		"FAIL unanswered http\n",
		"http POST https://crm.example.com/leads has no answer in the test file",
		"1 passed, 3 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "keyway_test.yaml:") {
		t.Errorf("a difference does not say where in the test file:\n%s", out)
	}
}

// A failing turn shows each wait's resolved time and each enrollment's end
// with its reason, so that an admin sees what an `at` read from the data.
// A reply with choices matches its text with the numbered choices (as SMS
// shows it) and its text alone (as WhatsApp shows it above the buttons),
// and nothing else.
func TestKeywayTestRepliesWithChoices(t *testing.T) {
	code, out := runTestCmd(t, `
tests:
  - name: numbered
    turns:
      - send: "MENU"
        expect: { replies: ["How can we help?\n1 Opening hours\n2 A person"] }
  - name: text alone
    turns:
      - send: "MENU"
        expect: { replies: ["How can we help?"] }
  - name: on whatsapp
    channel: whatsapp
    turns:
      - send: "MENU"
        expect: { replies: ["How can we help?"] }
  - name: a part
    turns:
      - send: "MENU"
        expect: { replies: ["How can we"] }
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"ok numbered\n", "ok text alone\n", "ok on whatsapp\n", "FAIL a part\n", "3 passed, 1 failed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A template given in both forms matches the text of either form.
func TestKeywayTestTemplateInBothForms(t *testing.T) {
	code, out := runTestCmd(t, `
tests:
  - name: by content sid
    turns:
      - send: "TMPL"
        expect: { replies: ['template HX0123456789abcdef0123456789abcdef {"1":"x"}'] }
  - name: by name
    turns:
      - send: "TMPL"
        expect: { replies: ['template deal (en_US) ["x"]'] }
  - name: other
    turns:
      - send: "TMPL"
        expect: { replies: ['template deal (en_US) ["y"]'] }
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"ok by content sid\n", "ok by name\n", "FAIL other\n", "2 passed, 1 failed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKeywayTestShowsWaitsOfAFailingTurn(t *testing.T) {
	code, out := runTestCmd(t, `
tests:
  - name: a date
    turns:
      - start: visit
        vars: { visit_at: "2026-01-08 10:00" }
        expect: { replies: ["See you tomorrow"] }
  - name: not a date
    turns:
      - start: visit
        vars: { visit_at: "next tuesday" }
        expect: { enrolled: [visit] }
  - name: not a date, on_error
    turns:
      - start: booked
        vars: { visit_at: "soon" }
        expect: { replies: ["See you"] }
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"[visit] wait at Wed 2026-01-07 10:00 EST (America/New_York)",
		`[visit] ended: wait at: "next tuesday" is not a date`,
		`[booked] wait at: "soon" is not a date (use RFC 3339, "2026-12-24 10:00" or "2026-12-24"); on_error: nodate`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKeywayTestCannotRead(t *testing.T) {
	cases := map[string]struct{ tests, want string }{
		"unknown key":        {"tests:\n  - name: x\n    turns:\n      - sned: hi\n", `keyway_test.yaml:5:9: unknown key "sned" (did you mean "send"? allowed: send, wait, start, vars, expect)`},
		"two kinds":          {"tests:\n  - name: x\n    turns:\n      - { send: hi, wait: 2h }\n", "needs exactly one of send, wait or start"},
		"bad duration":       {"tests:\n  - name: x\n    turns:\n      - wait: soon\n", `wait "soon" is not a positive duration`},
		"bad regexp":         {"tests:\n  - name: x\n    turns:\n      - send: hi\n        expect: { replies: [\"/(/\"] }\n", "regular expression /(/"},
		"no tests":           {"tests: []\n", "no tests"},
		"bad channel":        {"tests:\n  - name: x\n    channel: fax\n    turns:\n      - send: hi\n", "channel must be sms or whatsapp"},
		"duplicate name":     {"tests:\n  - { name: x, turns: [{ send: a }] }\n  - { name: x, turns: [{ send: b }] }\n", "the name is used twice"},
		"bad from":           {"tests:\n  - name: x\n    from: abc\n    turns: [{ send: a }]\n", `test "x": from: config: phone number "abc"`},
		"http without host":  {"tests:\n  - name: x\n    turns: [{ send: a }]\n    http: [{ url: /x }]\n", "url must start with http"},
		"vars without start": {"tests:\n  - name: x\n    turns:\n      - { send: hi, vars: { a: b } }\n", "vars go with start"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := runTestCmd(t, tc.tests)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, tc.want, out)
			}
		})
	}
}

func TestKeywayTestInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(cfg, []byte("automations:\n  - id: x\n    keywords: [X]\n    steps:\n      - { type: reply }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x_test.yaml")
	if err := os.WriteFile(path, []byte("config: keyway.yaml\ntests:\n  - name: x\n    turns: [{ send: X }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run([]string{"test", path, filepath.Join(dir, "missing_test.yaml")}, strings.NewReader(""), &out, &out)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out.String())
	}
	for _, want := range []string{cfg + ":5:", "its tests did not run", "missing_test.yaml: open", "0 passed, 0 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestKeywayTestGivenAConfig: a config given in place of its test file
// (keyway test config/examples/*.yaml catches both) is said so in one line
// that names the test file beside it, not as one unknown key per section.
func TestKeywayTestGivenAConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(dir, "keyway_test.yaml")
	if err := os.WriteFile(test, []byte("config: keyway.yaml\ntests:\n  - name: join\n    turns: [{ send: JOIN, expect: { replies: [\"Welcome! Name?\"] } }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run([]string{"test", cfg, test}, strings.NewReader(""), &out, &out)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out.String())
	}
	want := cfg + ":1:1: this is a keyway config, not a test file (a test file has config: and tests:); its tests may be in " + test
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "unknown key") {
		t.Errorf("output lacks %q, or names unknown keys:\n%s", want, out.String())
	}
	if !strings.Contains(out.String(), "ok join") {
		t.Errorf("the test file beside it did not run:\n%s", out.String())
	}
}

// TestKeywayTestEmptyFile: an empty test file (or one of comments only)
// is said to be empty, not reported as YAML's "EOF".
func TestKeywayTestEmptyFile(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "comments only": "# to do\n"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyway_test.yaml")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code := run([]string{"test", path}, strings.NewReader(""), &out, &out)
			want := path + ":1:1: the test file is empty: it needs config: (the config to test) and tests:"
			if code != 2 || !strings.Contains(out.String(), want) || strings.Contains(out.String(), "EOF") {
				t.Errorf("exit %d, want 2 and %q:\n%s", code, want, out.String())
			}
		})
	}
}

func TestTextMatch(t *testing.T) {
	exact := textMatch{src: "/a"}
	if !exact.Match("/a") || exact.Match("a") {
		t.Error("a text that is not /.../ must match exactly")
	}
	var re textMatch
	if err := re.UnmarshalYAML(scalar("/^hi( there)?$/")); err != nil {
		t.Fatal(err)
	}
	if !re.Match("hi there") || re.Match("oh hi") {
		t.Error("a /.../ text must match as a regular expression")
	}
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// Every problem of a test file shows at once, in the order of the file: a
// regular expression that does not compile or an unknown key does not hide
// the problems after it.
func TestKeywayTestListsEveryProblem(t *testing.T) {
	code, out := runTestCmd(t, `tests:
  - name: x
    turns:
      - send: hi
        expect: { replies: ["/(/"] }
      - sned: hi
      - wait: soon
  - name: y
    channel: fax
    turns:
      - send: { button: "" }
`)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
	var lines []string
	for _, want := range []string{
		"keyway_test.yaml:6:29: regular expression /(/",
		`keyway_test.yaml:7:9: unknown key "sned" (did you mean "send"?`,
		`keyway_test.yaml:8:9: test "x" turn 3: wait "soon" is not a positive duration`,
		`keyway_test.yaml:9:5: test "y": channel must be sms or whatsapp, not "fax"`,
		"keyway_test.yaml:12:15: send: button needs the id of a button or list row",
	} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("output lacks %q:\n%s", want, out)
			continue
		}
		lines = append(lines, out[i:])
	}
	for i := 1; i < len(lines); i++ {
		if len(lines[i]) > len(lines[i-1]) {
			t.Errorf("problems out of the file's order:\n%s", out)
			break
		}
	}
}

// Every problem of a test file has its column, as validate's have: those
// yaml reports by line only (a value of the wrong kind, a key given twice,
// a syntax error) are placed on the key or value they are about.
func TestKeywayTestProblemsHaveAColumn(t *testing.T) {
	cases := map[string]struct{ tests, want string }{
		"a value of the wrong kind": {
			"tests:\n  - name: x\n    turns: [{ send: a }]\n    http: [{ url: \"https://x.example\", status: lots }]\n",
			`keyway_test.yaml:5:48: cannot unmarshal !!str ` + "`lots`" + ` into int`,
		},
		"a key given twice": {
			"tests:\n  - name: x\n    turns: [{ send: a }]\n    name: y\n",
			`keyway_test.yaml:5:5: mapping key "name" already defined at line 3`,
		},
		"an http answer": {
			"tests:\n  - name: x\n    turns: [{ send: a }]\n    http:\n      - { url: /x }\n",
			`keyway_test.yaml:6:9: test "x" http answer 1: url must start with http`,
		},
		"not YAML": {
			"tests:\n  - name: x\n    turns: [{ send: a }\n",
			`keyway_test.yaml:4:5: invalid YAML: did not find expected ',' or ']'`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := runTestCmd(t, tc.tests)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// A turn that names an automation, group or field the config does not
// have says so, with the name it was likely meant as, beside what differed.
func TestKeywayTestNamesWhatTheConfigLacks(t *testing.T) {
	code, out := runTestCmd(t, `tests:
  - name: start
    turns:
      - start: dirp
  - name: expect
    turns:
      - send: JOIN
        expect: { enrolled: [jion], groups: [nesw], fields: { firstname: x } }
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"turn 1 (start dirp, ", `start: automation "dirp" is not in `, `keyway.yaml (did you mean "drip"?)`,
		`enrolled: automation "jion" is not in `, `(did you mean "join"?)`,
		`groups: group "nesw" is not in `, `(did you mean "news"?)`,
		`fields: field "firstname" is not in `, `(did you mean "first_name"?)`,
		"0 passed, 2 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "engine:") {
		t.Errorf("an unknown automation reads as the engine's error:\n%s", out)
	}
}
