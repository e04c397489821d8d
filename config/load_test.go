package config

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const testFile = "k.yaml"

const helpWarning = "warning: compliance.help.reply: the default help reply does not name your brand; carriers expect it to"

// env is an environment holding vars only.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// render returns each problem as FILE:LINE:COL: message.
func render(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// withoutHelpWarning drops the warning about the default help reply, which
// every configuration without a compliance section gets.
func withoutHelpWarning(ps Problems) []string {
	var out []string
	for _, s := range render(ps) {
		if !strings.HasSuffix(s, helpWarning) {
			out = append(out, s)
		}
	}
	return out
}

func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func mustParse(t *testing.T, src string, vars map[string]string) (*Config, Problems) {
	t.Helper()
	c, ps := Parse(testFile, []byte(src), env(vars))
	if c == nil {
		t.Fatalf("Parse returned no config: %v", render(ps))
	}
	return c, ps
}

var specEnv = map[string]string{
	"KEYWAY_ADMIN_TOKEN": "admin-secret-of-the-spec",
	"TWILIO_ACCOUNT_SID": "AC123",
	"TWILIO_AUTH_TOKEN":  "tw-secret",
}

func readSpecExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/spec_example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSpecExample(t *testing.T) {
	c, ps := Parse("testdata/spec_example.yaml", readSpecExample(t), env(specEnv))
	checkProblems(t, render(ps), []string{
		// the example's optional database is a plain ${DATABASE_URL}
		"testdata/spec_example.yaml:8:13: warning: storage.postgres: environment variable DATABASE_URL is not set or empty, so the value is empty (write ${DATABASE_URL:-} where empty is meant, or ${DATABASE_URL:?why} to require it)",
		"testdata/spec_example.yaml:32:45: " + helpWarning,
	})

	checks := []struct {
		name      string
		got, want any
	}{
		{"admin token from env", c.Admin.Token, "admin-secret-of-the-spec"},
		{"account sid from env", c.Providers.Twilio.AccountSID, "AC123"},
		{"auth token from env", c.Providers.Twilio.AuthToken, "tw-secret"},
		{"timezone", c.Defaults.Timezone, "America/New_York"},
		{"numbers", len(c.Providers.Twilio.Numbers), 3},
		{"short code kept as written", c.Providers.Twilio.Numbers[2].Number, "55123"},
		{"second number channel", c.Providers.Twilio.Numbers[1].Channel, ChannelWhatsApp},
		{"first number mps", c.Providers.Twilio.Numbers[0].MPS, 1.0},
		{"allow_hosts", c.HTTP.AllowHosts, []string{"crm.internal", "10.1.0.0/16"}},
		{"smtp from", c.Email.SMTP.From, "Acme <sms@acme.example>"},
		{"opt-in keywords", c.Compliance.OptIn.Keywords, []string{"START", "UNSTOP", "YES"}},
		{"fields", c.Fields, []string{"first_name", "email"}},
		{"admin_listen", c.Server.AdminListen, "127.0.0.1:8081"},
		{"postgres unset", c.Storage.Postgres, ""},
		{"loop guard", c.Compliance.LoopGuard.Max, 10},
		{"quiet hours end", c.Compliance.QuietHours.End, "08:00"},
		{"staff", len(c.Staff), 1},
		{"staff name", c.Staff[0].Name, "Ann"},
		{"automations", len(c.Automations), 5},
		{"join enabled", c.Automations[0].IsEnabled(), true},
		{"join keywords", c.Automations[0].Keywords, []string{"JOIN", "SUBSCRIBE"}},
		{"join steps", len(c.Automations[0].Steps), 6},
		{"join step 2 id", c.Automations[0].Steps[1].ID, "ask"},
		{"join step 3 type", c.Automations[0].Steps[2].Type, "wait_for_reply"},
		{"join step 5 next", c.Automations[0].Steps[4].Next, End},
		{"join step 5 path", c.Automations[0].Steps[4].Path, "automations[0].steps[4]"},
		{"join step 5 node", c.Automations[0].Steps[4].Node != nil, true},
		{"support path", c.Automations[1].Path, "automations[1]"},
		{"support catch_all", c.Automations[1].CatchAll, true},
		{"agent handoff", c.Automations[2].Steps[0].Type, "handoff"},
		{"reminder channel", c.Automations[3].Channel, ChannelWhatsApp},
		{"weekly cron", c.Automations[4].Schedule.Cron, "0 10 * * MON"},
		{"weekly catch_up", c.Automations[4].Schedule.CatchUp.D(), time.Hour},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if !equal(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

// equal compares the values the tests check: comparable ones or string lists.
func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs)
	}
	return a == b
}

func TestSpecExampleWithoutCredentials(t *testing.T) {
	c, ps := Parse(testFile, readSpecExample(t), env(nil))
	if err := ps.Err(); err != nil {
		t.Fatalf("unexpected errors: %v", err)
	}
	if !c.Providers.Twilio.DevMode() || c.Admin.Token != "" {
		t.Errorf("unset variables should leave empty values, got sid %q token %q admin %q",
			c.Providers.Twilio.AccountSID, c.Providers.Twilio.AuthToken, c.Admin.Token)
	}
}

func TestLoad(t *testing.T) {
	for name, v := range specEnv {
		t.Setenv(name, v)
	}
	t.Run("spec example", func(t *testing.T) {
		c, ps := Load("testdata/spec_example.yaml")
		if err := ps.Err(); err != nil {
			t.Fatal(err)
		}
		if c.File != "testdata/spec_example.yaml" || c.Admin.Token != "admin-secret-of-the-spec" {
			t.Errorf("got file %q, admin token %q", c.File, c.Admin.Token)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		c, ps := Load("testdata/missing.yaml")
		if c != nil || len(ps) != 1 {
			t.Fatalf("got config %v, problems %v", c, render(ps))
		}
		if s := ps[0].String(); !strings.HasPrefix(s, "testdata/missing.yaml:1:1: cannot read the configuration: ") {
			t.Errorf("got %q", s)
		}
	})
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"tab indent", "server:\n\tlisten: x\n", "k.yaml:2:1: invalid YAML: found character that cannot start any token: YAML indents with spaces, and this line's indent holds a tab"},
		{"a character no value starts with, no tab", "server: {}\nfields: [a, @b]\n", "k.yaml:2:1: invalid YAML: found character that cannot start any token"},
		{"an unquoted value holding a colon", "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - type: reply\n        text: Call us: 555\n",
			`k.yaml:6:9: invalid YAML: mapping values are not allowed in this context: a value that holds ": " must be quoted (text: "Note: we close at 5")`},
		{"an unquoted Liquid value with text after it", "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - type: reply\n        text: {{ contact.name }}, welcome\n",
			`k.yaml:6:9: invalid YAML: did not find expected key: a value that starts with {{ must be quoted (text: "{{ contact.name }}, welcome")`},
		{"a quote left open", "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - { type: reply, text: \"unclosed }\n  - id: b\n",
			"k.yaml:5:7: invalid YAML: found unexpected end of stream: a quote opened on this line is not closed"},
		{"a quote closed with an escaped one inside", "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - { type: reply, text: \"say \\\"hi\\\"\" \n  - id: b\n",
			"k.yaml:5:7: invalid YAML: did not find expected ',' or '}'"},
		{"unclosed flow list", "fields: [a,\n  b\n", "k.yaml:2:3: invalid YAML: did not find expected ',' or ']'"},
		{"unknown anchor", "fields: *nope\n", "k.yaml:1:1: invalid YAML: unknown anchor 'nope' referenced"},
		{"second document", "server: {}\n---\nstorage: {}\n", "k.yaml:2:1: a second YAML document starts here; keep the whole configuration in one document"},
		{"syntax error in a second document", "server: {}\n---\na: [\n", "k.yaml:3:1: invalid YAML: did not find expected node content"},
		// yaml.v3 names the line before the enclosing mapping, list or
		// braces; the problem is placed where the file first goes wrong.
		{"key indented too far", "server:\n  listen: \":8080\"\n   public_url: \"https://x\"\n", "k.yaml:3:4: invalid YAML: did not find expected key"},
		{"key indented too far deep in a step list", "fields: [a]\nautomations:\n  - id: a\n    keywords: [A]\n    steps:\n      - type: reply\n        text: hi\n         next: end\n", "k.yaml:8:10: invalid YAML: mapping values are not allowed in this context"},
		{"list item among keys", "automations:\n  - id: a\n    steps: []\n    - id: b\n", "k.yaml:4:5: invalid YAML: did not find expected key"},
		{"unclosed braces of a step", "automations:\n  - id: a\n    steps:\n      - { type: reply, text: \"x\"\n      - { type: end }\n", "k.yaml:4:7: invalid YAML: did not find expected ',' or '}'"},
		{"unclosed brackets", "server: {}\nfields: [a, b\ngroups: []\n", "k.yaml:2:1: invalid YAML: did not find expected ',' or ']'"},
		{"an unquoted reference in braces", "server: {}\nproviders:\n  twilio:\n    numbers:\n      - { number: \"+15005550006\", mps: ${MPS:-1} }\n",
			`k.yaml:5:7: invalid YAML: did not find expected ',' or '}': a ${...} reference inside [ ] or { } must be quoted ("${NAME}"), as its braces end them`},
		{"an unquoted reference in brackets", "fields: [${FIELD}, b]\n",
			`k.yaml:1:1: invalid YAML: did not find expected ',' or ']': a ${...} reference inside [ ] or { } must be quoted ("${NAME}"), as its braces end them`},
		{"a quoted one is not the cause", "fields: [\"${FIELD}\", b\ngroups: []\n", "k.yaml:1:1: invalid YAML: did not find expected ',' or ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := Parse(testFile, []byte(tc.src), nil)
			if c != nil {
				t.Errorf("got a config for invalid YAML")
			}
			checkProblems(t, render(ps), []string{tc.want})
		})
	}
}

func TestSyntaxProblem(t *testing.T) {
	tests := []struct {
		err  string
		want string
	}{
		{"yaml: line 3: mapping values are not allowed in this context", "f:3:1: invalid YAML: mapping values are not allowed in this context"},
		{"yaml: line 3: column 7: boom", "f:3:7: invalid YAML: boom"},
		{"yaml: control characters are not allowed", "f:1:1: invalid YAML: control characters are not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.err, func(t *testing.T) {
			if got := syntaxProblem("f", nil, errors.New(tc.err)).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTestFileIsNamed: a keyway test file given where a config goes
// (keyway validate starter_test.yaml) is said to be one, in one problem.
func TestTestFileIsNamed(t *testing.T) {
	src := "# tests\nconfig: starter.yaml\ntests:\n  - name: x\n    turns: [{ send: HI }]\n"
	c, ps := Parse(testFile, []byte(src), nil)
	if c != nil {
		t.Errorf("a test file gave a configuration")
	}
	checkProblems(t, render(ps), []string{"k.yaml:1:1: this is a keyway test file, not a config: keyway test k.yaml runs its tests, and its config: names the config they run on"})
	if ps.Err() == nil {
		t.Error("the test-file problem is not an error")
	}
}

func TestEmptyFileIsRefused(t *testing.T) {
	for name, src := range map[string]string{
		"zero bytes":    "",
		"whitespace":    "  \n\n   \n",
		"comments only": "# nothing yet\n\n  # still nothing\n",
		"document mark": "---\n",
		"null":          "~\n",
		"null word":     "# header\nnull\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, ps := Parse(testFile, []byte(src), nil)
			if c != nil {
				t.Errorf("an empty file gave a configuration with %d automations", len(c.Automations))
			}
			checkProblems(t, render(ps), []string{"k.yaml:1:1: " + emptyFileMessage})
			if ps.Err() == nil {
				t.Error("the empty-file problem is not an error")
			}
		})
	}
}

func TestNoAutomationsIsNotEmpty(t *testing.T) {
	c, ps := mustParse(t, "automations: []\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if c.Server.Listen != ":8080" || len(c.Automations) != 0 || c.AllowEmptyAutomations {
		t.Errorf("got listen %q, %d automations, allow_empty_automations %v", c.Server.Listen, len(c.Automations), c.AllowEmptyAutomations)
	}
	c, ps = mustParse(t, "allow_empty_automations: true\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if !c.AllowEmptyAutomations {
		t.Error("allow_empty_automations: true was not read")
	}
}

func TestTopLevelNotAMapping(t *testing.T) {
	_, ps := mustParse(t, "- server\n", nil)
	checkProblems(t, withoutHelpWarning(ps), []string{"k.yaml:1:1: top level: expected a mapping, got a list"})
}

func TestEnvExpansion(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": "", "REF": "${A}"}
	tests := []struct {
		value, want string
	}{
		{`"${A}"`, "x"},
		{`"pre-${A}-post"`, "pre-x-post"},
		{`"${A}${A}"`, "xx"},
		{`${A}`, "x"},
		{`"${A:-d}"`, "x"},
		{`"${UNSET:-d}"`, "d"},
		{`"${EMPTY:-d}"`, "d"},
		{`"${UNSET:-}"`, ""},
		{`"${A:-}"`, "x"},
		{`"${UNSET:-a b: c}"`, "a b: c"},
		{`"${UNSET:-${A}}"`, "x"},
		{`"${UNSET:-${EMPTY:-deep}}-tail"`, "deep-tail"},
		{`"${UNSET:-$$5}"`, "$5"},
		{`"${UNSET:-{x}}"`, "{x}"},
		{`"$$"`, "$"},
		{`"$$A"`, "$A"},
		{`"$${A}"`, "${A}"},
		{`"$$$${A}"`, "$${A}"},
		{`"cost: $5"`, "cost: $5"},
		{`"$5.00, or $ 5, or 5$"`, "$5.00, or $ 5, or 5$"},
		{`"$"`, "$"},
		{`"a $-b $."`, "a $-b $."},
		{`"(?i)^y(es)?$"`, "(?i)^y(es)?$"},
		{`"${REF}"`, "${A}"},
		{`"${REF:-no}"`, "${A}"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			c, ps := mustParse(t, "admin:\n  token: "+tc.value+"\n", vars)
			checkProblems(t, withoutHelpWarning(ps), nil)
			if c.Admin.Token != tc.want {
				t.Errorf("got %q, want %q", c.Admin.Token, tc.want)
			}
		})
	}
}

func TestEnvExpansionProblems(t *testing.T) {
	const notRef = ` is not a variable reference: write ${NAME}, ${NAME:-default} or ${NAME:?message} (NAME: letters, digits and _, not starting with a digit), or $$ for a literal "$"`
	const unterminated = `: a reference is ${NAME}, ${NAME:-default} or ${NAME:?message}; write $$ for a literal "$"`
	tests := []struct {
		value string
		want  []string
	}{
		{`"$A"`, []string{`k.yaml:2:10: admin.token: "$A" is not expanded: write ${A} for the environment variable, or $$A for the literal text`}},
		{`hi $first_name!`, []string{`k.yaml:2:10: admin.token: "$first_name" is not expanded: write ${first_name} for the environment variable, or $$first_name for the literal text`}},
		{`"$_X and $Y"`, []string{
			`k.yaml:2:10: admin.token: "$_X" is not expanded: write ${_X} for the environment variable, or $$_X for the literal text`,
			`k.yaml:2:10: admin.token: "$Y" is not expanded: write ${Y} for the environment variable, or $$Y for the literal text`,
		}},
		{`"${A"`, []string{`k.yaml:2:10: admin.token: unterminated "${A"` + unterminated}},
		{`"x ${A:-d"`, []string{`k.yaml:2:10: admin.token: unterminated "${A:-d"` + unterminated}},
		{`"${A:-${B"`, []string{`k.yaml:2:10: admin.token: unterminated "${B"` + unterminated}},
		{`"${"`, []string{`k.yaml:2:10: admin.token: unterminated "${"` + unterminated}},
		{`"${1A}"`, []string{`k.yaml:2:10: admin.token: "${1A}"` + notRef}},
		{`"${}"`, []string{`k.yaml:2:10: admin.token: "${}"` + notRef}},
		{`"${A-x}"`, []string{`k.yaml:2:10: admin.token: "${A-x}"` + notRef}},
		{`"${A?x}"`, []string{`k.yaml:2:10: admin.token: "${A?x}"` + notRef}},
		{`"${A:?x"`, []string{`k.yaml:2:10: admin.token: unterminated "${A:?x"` + unterminated}},
		{`"${A B}"`, []string{`k.yaml:2:10: admin.token: "${A B}"` + notRef}},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			c, ps := Parse(testFile, []byte("admin:\n  token: "+tc.value+"\n"), env(map[string]string{"A": "x"}))
			if c == nil {
				t.Fatalf("no config: %v", render(ps))
			}
			checkProblems(t, withoutHelpWarning(ps), tc.want)
			if ps.Err() == nil {
				t.Error("not an error")
			}
		})
	}
}

// A reference problem in a step, in a list and in a nested mapping is placed
// at its value, reported once although a step's common keys are read twice.
func TestEnvExpansionProblemsInSteps(t *testing.T) {
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - id: $ID
        type: reply
        text: "Pay $5 now, $NAME"
      - type: http
        url: "${URL"
        headers: { $key: "v", X-A: "${A:-ok}" }
        body: { json: { items: [1, "$B"] } }
`
	_, ps := Parse(testFile, []byte(src), nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:5:13: automation "a" step 1 field id: "$ID" is not expanded: write ${ID} for the environment variable, or $$ID for the literal text`,
		`k.yaml:7:15: automation "a" step 1 field text: "$NAME" is not expanded: write ${NAME} for the environment variable, or $$NAME for the literal text`,
		`k.yaml:9:14: automation "a" step 2 field url: unterminated "${URL": a reference is ${NAME}, ${NAME:-default} or ${NAME:?message}; write $$ for a literal "$"`,
		`k.yaml:11:36: automation "a" step 2 field body.json.items[1]: "$B" is not expanded: write ${B} for the environment variable, or $$B for the literal text`,
	})
}

func TestEnvExpansionTypes(t *testing.T) {
	src := `server:
  max_body_bytes: ${UNSET}
email:
  smtp: { host: h, from: a@b.example, port: "${PORT}" }
http:
  allow_private: ${YES}
  allow_hosts: ["${HOST}", b]
`
	c, ps := mustParse(t, src, map[string]string{"PORT": "2525", "YES": "true", "HOST": "crm.internal"})
	checkProblems(t, withoutHelpWarning(ps), []string{
		"k.yaml:2:19: warning: server.max_body_bytes: environment variable UNSET is not set or empty, so the setting counts as not written (a default applies where there is one) (write ${UNSET:-} where empty is meant, or ${UNSET:?why} to require it)",
	})
	if c.Server.MaxBodyBytes != 65536 {
		t.Errorf("an unset variable should read as null and leave the default, got %d", c.Server.MaxBodyBytes)
	}
	if c.Email.SMTP.Port != 2525 || !c.HTTP.AllowPrivate || c.HTTP.AllowHosts[0] != "crm.internal" {
		t.Errorf("got port %d, allow_private %v, hosts %q", c.Email.SMTP.Port, c.HTTP.AllowPrivate, c.HTTP.AllowHosts)
	}
}

func TestUnknownKeys(t *testing.T) {
	src := `server:
  listen: ":1"
  lisen: ":2"
automations:
  - id: a
    keyword: [A]
    steps: [{type: reply, txt: hi}]
    schedule: { cron: "@daily", group: g, every: 2h }
groups: [{id: g}]
colour: blue
`
	_, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:3:3: unknown key "lisen" in server (did you mean "listen"? allowed: listen, public_url, max_body_bytes, admin_listen, max_connections)`,
		// the misspelt keywords and the schedule left out leave the automation without a start
		`k.yaml:6:5: unknown key "keyword" in automation "a" (did you mean "keywords"? allowed: id, name, enabled, keywords, match, channel, overwrite_if_exists, catch_all, schedule, expire_after, steps)`,
		`k.yaml:8:43: unknown key "every" in automation "a" field schedule (allowed: cron, group, timezone, catch_up)`,
		`k.yaml:10:1: unknown key "colour" at top level (allowed: server, storage, admin, defaults, providers, http, email, compliance, staff, groups, fields, automations, events, allow_empty_automations)`,
	})
}

func TestDuplicateAndOddKeys(t *testing.T) {
	src := `server:
  listen: ":1"
  listen: ":2"
storage:
  <<: {path: x}
  ? [a]
  : b
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:3:3: duplicate key "listen" in server (first at k.yaml:2:3)`,
		`k.yaml:5:3: storage: merge keys (<<) are not supported`,
		`k.yaml:6:5: storage: expected a name as key, got a list`,
	})
	if c.Server.Listen != ":1" {
		t.Errorf("the first of duplicate keys should hold, got %q", c.Server.Listen)
	}
}

func TestWrongTypes(t *testing.T) {
	src := `server:
  listen: [":1"]
  max_body_bytes: abc
http:
  allow_private: maybe
  allow_hosts: crm.internal
providers:
  twilio:
    numbers:
      - { number: "+15005550006", mps: fast }
automations:
  - id: a
    enabled: sometimes
    keywords: [A]
    match: [x]
    expire_after: 2x
    steps:
      - reply
      - { type: [reply], next: {a: 1} }
      - { type: wait_for_reply, timeout: 2x }
      -
    schedule: every day
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:2:11: server.listen: expected a string, got a list`,
		`k.yaml:3:19: server.max_body_bytes: expected a whole number, got "abc"`,
		`k.yaml:5:18: http.allow_private: expected true or false, got "maybe"`,
		`k.yaml:6:16: http.allow_hosts: expected a list, got "crm.internal"`,
		`k.yaml:10:40: providers.twilio.numbers[0].mps: expected a number, got "fast"`,
		`k.yaml:13:14: automation "a" field enabled: expected true or false, got "sometimes"`,
		`k.yaml:15:12: automation "a" field match: expected a string, got a list`,
		`k.yaml:16:19: automation "a" field expire_after: invalid duration "2x" (use e.g. 90s, 15m, 2h, 3d)`,
		`k.yaml:18:9: automation "a" step 1: expected a mapping, got "reply"`,
		`k.yaml:19:9: automation "a" step 2: missing type`,
		`k.yaml:19:17: automation "a" step 2 field type: expected a string, got a list`,
		`k.yaml:19:32: automation "a" step 2 field next: expected a string, got a mapping`,
		`k.yaml:21:8: automation "a" step 4: expected a mapping, got nothing`,
		`k.yaml:22:15: automation "a" field schedule: expected a mapping, got "every day"`,
	})
	if c.Automations[0].Enabled != nil || c.Automations[0].Schedule != nil {
		t.Errorf("a pointer whose value has a problem should stay nil")
	}
}

func TestNumbers(t *testing.T) {
	src := `server:
  max_body_bytes: 99999999999999999999
http:
  allow_private: off
providers:
  twilio:
    numbers:
      - { number: "+15005550006", mps: 2.5 }
      - { number: "+15005550007", mps: 3 }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:2:19: server.max_body_bytes: expected a whole number, got "99999999999999999999"`,
	})
	if n := c.Providers.Twilio.Numbers; n[0].MPS != 2.5 || n[1].MPS != 3 {
		t.Errorf("got mps %v and %v", n[0].MPS, n[1].MPS)
	}
	if c.HTTP.AllowPrivate {
		t.Errorf("off should read as false")
	}
}

func TestAliases(t *testing.T) {
	src := `groups:
  - { id: news }
automations:
  - id: a
    keywords: &kw [A, B]
    steps: &steps [{type: reply, id: s}]
  - id: b
    keywords: *kw
    steps: *steps
fields: [x, *kw]
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:10:13: fields[1]: expected a string, got a list`,
		`k.yaml:10:13: fields[1]: empty field name`,
	})
	b := c.Automations[1]
	if !slices.Equal(b.Keywords, []string{"A", "B"}) || len(b.Steps) != 1 || b.Steps[0].ID != "s" {
		t.Errorf("aliases not followed: keywords %q, steps %v", b.Keywords, b.Steps)
	}
	if b.Steps[0].Path != "automations[1].steps[0]" {
		t.Errorf("an aliased step should get the path where it is used, got %q", b.Steps[0].Path)
	}
}

func TestDefaults(t *testing.T) {
	src := `providers:
  twilio:
    numbers:
      - number: "(500) 555-0006"
      - { number: "+442071838750", channel: whatsapp }
email:
  smtp: { host: h, from: a@b.example }
automations:
  - id: a
    keywords: [A]
    steps: [{type: reply}]
  - id: b
    match: exact
    expire_after: 2h
    schedule: { cron: "@daily", group: g }
    steps: [{type: reply}]
groups: [{id: g}]
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", c.Server.Listen, ":8080"},
		{"server.max_body_bytes", c.Server.MaxBodyBytes, 65536},
		{"storage.path", c.Storage.Path, "./data/keyway.db"},
		{"defaults.region", c.Defaults.Region, "US"},
		{"defaults.timezone", c.Defaults.Timezone, "UTC"},
		{"api_base_url", c.Providers.Twilio.APIBaseURL, "https://api.twilio.com"},
		{"number normalised", c.Providers.Twilio.Numbers[0].Number, "+15005550006"},
		{"number channel", c.Providers.Twilio.Numbers[0].Channel, ChannelSMS},
		{"whatsapp channel kept", c.Providers.Twilio.Numbers[1].Channel, ChannelWhatsApp},
		{"smtp tls", c.Email.SMTP.TLS, "starttls"},
		{"smtp port", c.Email.SMTP.Port, 587},
		{"opt_out keywords", c.Compliance.OptOut.Keywords, []string{"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT", "REVOKE"}},
		{"opt_out reply", c.Compliance.OptOut.Reply, "You are unsubscribed. Reply START to resubscribe."},
		{"opt_in keywords", c.Compliance.OptIn.Keywords, []string{"START", "UNSTOP", "YES"}},
		{"opt_in reply", c.Compliance.OptIn.Reply, "You are resubscribed."},
		{"help keywords", c.Compliance.Help.Keywords, []string{"HELP", "INFO"}},
		{"help reply", c.Compliance.Help.Reply, "Reply STOP to opt out. Msg&data rates may apply."},
		{"match", c.Automations[0].Match, "first_word"},
		{"expire_after", c.Automations[0].ExpireAfter.D(), 720 * time.Hour},
		{"no schedule", c.Automations[0].Schedule == nil, true},
		{"match kept", c.Automations[1].Match, "exact"},
		{"expire_after kept", c.Automations[1].ExpireAfter.D(), 2 * time.Hour},
		{"catch_up", c.Automations[1].Schedule.CatchUp.D(), time.Hour},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if !equal(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestSMTPDefaults(t *testing.T) {
	tests := []struct {
		smtp    string
		tls     string
		port    int
		comment string
	}{
		{"{ host: h, from: a@b.example, tls: tls }", "tls", 465, "implicit TLS defaults to 465"},
		{"{ host: h, from: a@b.example, tls: none }", "none", 587, "no TLS keeps 587"},
		{"{ host: h, from: a@b.example, tls: tls, port: 2465 }", "tls", 2465, "a port is kept"},
	}
	for _, tc := range tests {
		t.Run(tc.comment, func(t *testing.T) {
			c, ps := mustParse(t, "email:\n  smtp: "+tc.smtp+"\n", nil)
			checkProblems(t, withoutHelpWarning(ps), nil)
			if s := c.Email.SMTP; s.TLS != tc.tls || s.Port != tc.port {
				t.Errorf("got tls %q port %d, want %q %d", s.TLS, s.Port, tc.tls, tc.port)
			}
		})
	}
}

func TestCompliancePartialDefaults(t *testing.T) {
	src := `compliance:
  opt_out: { keywords: [STOP, ARRET] }
  help: { reply: "Acme: reply STOP to opt out." }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, render(ps), nil)
	if !slices.Equal(c.Compliance.OptOut.Keywords, []string{"STOP", "ARRET"}) {
		t.Errorf("keywords given should be kept, got %q", c.Compliance.OptOut.Keywords)
	}
	if c.Compliance.OptOut.Reply != defaultOptOutReply || !slices.Equal(c.Compliance.Help.Keywords, defaultHelpKeywords) {
		t.Errorf("missing reply or keywords should get defaults, got %q and %q", c.Compliance.OptOut.Reply, c.Compliance.Help.Keywords)
	}
}

func TestPositions(t *testing.T) {
	c, _ := Parse(testFile, readSpecExample(t), env(specEnv))
	tests := []struct {
		path string
		want Pos
	}{
		{"server", Pos{2, 3}},
		{"server.listen", Pos{2, 11}},
		{"providers.twilio.numbers", Pos{21, 7}},
		{"providers.twilio.numbers[0]", Pos{21, 9}},
		{"providers.twilio.numbers[0].number", Pos{21, 19}},
		{"automations", Pos{41, 3}},
		{"automations[0]", Pos{41, 5}},
		{"automations[0].keywords[1]", Pos{44, 22}},
		{"automations[0].steps[2]", Pos{50, 9}},
		{"automations[0].steps[4].next", Pos{52, 79}},
		{"automations[4].schedule.group", Pos{71, 46}},
		// step type fields are recorded by DecodeStep: until then the step stands for them
		{"automations[0].steps[2].timeout", Pos{50, 9}},
		{"nowhere", Pos{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := c.At(tc.path); got != tc.want {
				t.Errorf("At(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestMultipleProblems(t *testing.T) {
	src := `server:
  max_body_bytes: big
  port: 80
defaults:
  timezone: Nowhere/City
automations:
  - id: a
    steps: []
  - id: a
    keywords: [A]
    steps: [{type: reply, next: b}]
`
	_, ps := mustParse(t, src, nil)
	checkProblems(t, render(ps), []string{
		`k.yaml:1:1: ` + helpWarning,
		`k.yaml:2:19: server.max_body_bytes: expected a whole number, got "big"`,
		`k.yaml:3:3: unknown key "port" in server (allowed: listen, public_url, max_body_bytes, admin_listen, max_connections)`,
		`k.yaml:5:13: defaults.timezone: unknown time zone "Nowhere/City"`,
		`k.yaml:7:5: warning: automation "a" has no keywords, no schedule and is not catch_all: only a start_automation step or the admin API can start it`,
		`k.yaml:8:12: warning: automation "a" has no steps`,
		`k.yaml:9:9: duplicate automation id "a" (first at k.yaml:7:9)`,
		`k.yaml:11:33: automation "a" step 1: next "b" is not a step of this automation`,
	})
	if len(ps.Errors()) != 5 || len(ps.Warnings()) != 3 {
		t.Errorf("got %d errors and %d warnings", len(ps.Errors()), len(ps.Warnings()))
	}
}

func TestAccessors(t *testing.T) {
	c, _ := Parse(testFile, readSpecExample(t), env(specEnv))
	join := c.Automation("join")
	tests := []struct {
		name      string
		got, want bool
	}{
		{"automation found", join != nil && join.ID == "join", true},
		{"automation missing", c.Automation("nope") == nil, true},
		{"step id", join.HasStep("ask"), true},
		{"end", join.HasStep(End), true},
		{"unknown step", join.HasStep("nope"), false},
		{"empty step id", join.HasStep(""), false},
		{"step of another automation", c.Automation("weekly").HasStep("bye"), false},
		{"group", c.HasGroup("newsletter"), true},
		{"unknown group", c.HasGroup("vip"), false},
		{"field", c.HasField("email"), true},
		{"unknown field", c.HasField("age"), false},
		{"location", c.Location().String() == "America/New_York", true},
		{"bad location is UTC", (&Config{Defaults: Defaults{Timezone: "Nowhere/City"}}).Location() == time.UTC, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}
