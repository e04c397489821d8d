package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStarterPackTests runs `keyway test` on every example's test file: the
// starter pack is kept working by its own tests. Every example config has a
// test file and starts with a comment that says what it is for.
func TestStarterPackTests(t *testing.T) {
	t.Parallel()
	configs, err := filepath.Glob("../config/examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tests []string
	for _, c := range configs {
		if strings.HasSuffix(c, "_test.yaml") {
			tests = append(tests, c)
			continue
		}
		src, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(src), "# keyway ") {
			t.Errorf("%s does not start with a comment saying what it is for", c)
		}
		if _, err := os.Stat(strings.TrimSuffix(c, ".yaml") + "_test.yaml"); err != nil {
			t.Errorf("%s has no keyway test file: %v", c, err)
		}
	}
	if len(tests) < 7 {
		t.Fatalf("want a test file for each of the 7 examples, found %v", tests)
	}
	code, out := Keyway(t, "", append([]string{"test"}, tests...)...)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("keyway test on the starter pack: exit %d\n%s", code, out)
	}
	m := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("no summary with tests passed:\n%s", out)
	}
}

const keywayTestConfig = `
providers:
  twilio:
    numbers: [{ number: "+15005550006", channel: sms }]
groups: [{ id: news, name: News }]
fields: [first_name]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [news] }
      - { type: reply, text: "Welcome! What is your first name?" }
      - { type: wait_for_reply, timeout: 24h, save_as: name, on_timeout: bye }
      - { type: set_field, fields: { first_name: "{{ vars.name }}" } }
      - { type: reply, text: "Thanks {{ contact.fields.first_name }}!", next: end }
      - { id: bye, type: reply, text: "No worries, you are on the list." }
  - id: crm
    keywords: [LEAD]
    steps:
      - { type: http, method: POST, url: "https://crm.example.com/leads", on_error: oops }
      - { type: reply, text: "Lead {{ http.json.id }}", next: end }
      - { id: oops, type: reply, text: "Sorry" }
`

// writeTestFiles writes keyway.yaml into dir and the test file into
// dir/tests (its config path is relative to it), and returns the test
// file's path.
func writeTestFiles(t *testing.T, config, tests string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keyway.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tests", "keyway_test.yaml")
	if err := os.WriteFile(path, []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeywayTestCommand(t *testing.T) {
	t.Parallel()
	passing := `config: ../keyway.yaml
tests:
  - name: signup asks a name and remembers it
    from: "+15551230001"
    channel: sms
    turns:
      - send: "JOIN"
        expect:
          replies: ["Welcome! What is your first name?"]
      - send: "Ann"
        expect:
          replies: ["Thanks Ann!"]
          groups: [news]
          fields: { first_name: "Ann" }
      - wait: 25h
        expect: { replies: [] }
  - name: the CRM answers from the test file
    turns:
      - send: "LEAD"
        expect: { replies: ["/^Lead 7$/"] }
    http:
      - { method: POST, url: "https://crm.example.com/leads", status: 201, json: { id: 7 } }
`
	t.Run("passing", func(t *testing.T) {
		code, out := Keyway(t, "", "test", writeTestFiles(t, keywayTestConfig, passing))
		want := "ok signup asks a name and remembers it\nok the CRM answers from the test file\n2 passed, 0 failed\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d, want 0 and\n%s\ngot:\n%s", code, want, out)
		}
	})
	t.Run("failing", func(t *testing.T) {
		failing := strings.Replace(passing, `replies: ["Thanks Ann!"]`, `replies: ["Thanks, Ann!"]`, 1)
		failing = strings.Replace(failing, "    http:\n      - { method: POST", "    http:\n      - { method: GET", 1)
		code, out := Keyway(t, "", "test", writeTestFiles(t, keywayTestConfig, failing))
		for _, want := range []string{
			"FAIL signup asks a name and remembers it\n",
			`turn 2 (send "Ann", `,
			"replies differ\n",
			`expected: ["Thanks, Ann!"]`,
			`got:      ["Thanks Ann!"]`,
			"FAIL the CRM answers from the test file\n",
			"http POST https://crm.example.com/leads has no answer in the test file",
			"\n0 passed, 2 failed\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		code, out := Keyway(t, "", "test", filepath.Join(t.TempDir(), "missing_test.yaml"))
		if code != 2 || !strings.Contains(out, "missing_test.yaml") {
			t.Fatalf("exit %d, want 2 naming the file:\n%s", code, out)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		bad := strings.Replace(keywayTestConfig, "groups: [news]", "groups: [nope]", 1)
		code, out := Keyway(t, "", "test", writeTestFiles(t, bad, passing))
		if code != 2 || !strings.Contains(out, "keyway.yaml:11:") || !strings.Contains(out, "nope") {
			t.Fatalf("exit %d, want 2 with the config's problem:\n%s", code, out)
		}
	})
}

// TestCommandsHelpAndArguments checks that --help on every command exits 0
// and lists its flags, that the config may be the argument, and that extra
// arguments are refused.
func TestCommandsHelpAndArguments(t *testing.T) {
	t.Parallel()
	for cmd, flags := range map[string][]string{
		"serve":    {"-config", "-log-level", "-log-format"},
		"validate": {"-config", "-format", "-segments"},
		"simulate": {"-config", "-from", "-channel"},
		"test":     nil,
		"version":  nil,
	} {
		code, out := Keyway(t, "", cmd, "--help")
		if code != 0 {
			t.Errorf("keyway %s --help: exit %d\n%s", cmd, code, out)
		}
		for _, f := range flags {
			if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
				t.Errorf("keyway %s --help does not list %s:\n%s", cmd, f, out)
			}
		}
	}
	starter := "../config/examples/starter.yaml"
	if code, out := Keyway(t, "", "validate", starter); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("keyway validate FILE: exit %d\n%s", code, out)
	}
	if code, out := Keyway(t, "/quit\n", "simulate", starter, "--from", "+15551230001"); code != 0 || !strings.Contains(out, "you are +15551230001") {
		t.Errorf("keyway simulate FILE --from: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"validate", starter, "extra"}, {"serve", starter, "extra"}, {"simulate", starter, "extra"}} {
		if code, out := Keyway(t, "", args...); code != 2 || !strings.Contains(out, "unexpected argument(s): extra") {
			t.Errorf("keyway %v: exit %d, want 2\n%s", args, code, out)
		}
	}
	code, out := Keyway(t, "", "validate", "--format", "json", starter)
	if code != 0 || !strings.Contains(out, `"valid": true`) {
		t.Errorf("validate --format json: exit %d\n%s", code, out)
	}
}
