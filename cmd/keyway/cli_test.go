package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const starter = "../../config/examples/starter.yaml"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelpListsEveryFlag checks that --help on each command exits 0 and
// prints every flag the command defines.
func TestHelpListsEveryFlag(t *testing.T) {
	flags := map[string][]string{
		"serve":         {"-config", "-log-level", "-log-format"},
		"validate":      {"-config", "-format", "-segments"},
		"simulate":      {"-config", "-from", "-channel"},
		"test":          {},
		"version":       {},
		"hash-password": {},
	}
	for cmd, want := range flags {
		for _, help := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			code, out, errOut := runCLI(help...)
			if code != 0 || !strings.Contains(out, "Usage: keyway "+cmd) {
				t.Errorf("keyway %v: exit %d, stdout:\n%s\nstderr:\n%s", help, code, out, errOut)
			}
			for _, f := range want {
				if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
					t.Errorf("keyway %s --help does not list %s:\n%s", cmd, f, out)
				}
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}} {
		if code, out, _ := runCLI(args...); code != 0 || !strings.Contains(out, "keyway test") {
			t.Errorf("keyway %v: exit %d:\n%s", args, code, out)
		}
	}
	if code, _, errOut := runCLI("help", "teleport"); code != 2 || !strings.Contains(errOut, `unknown command "teleport"`) {
		t.Errorf("keyway help teleport: exit %d:\n%s", code, errOut)
	}
}

func TestConfigAsTheArgument(t *testing.T) {
	t.Setenv("KEYWAY_CONFIG", "")
	for _, args := range [][]string{
		{"validate", starter},
		{"validate", "--config", starter},
		{"validate", starter, "--format", "text"},
		{"validate", "--format", "text", starter},
		{"validate", "--config", starter, starter},
	} {
		code, out, errOut := runCLI(args...)
		if code != 0 || !strings.Contains(out, "OK: 3 automation(s)") {
			t.Errorf("keyway %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, out, _ := runCLI("simulate", starter)
	if code != 0 || !strings.Contains(out, "keyway simulate: 3 automation(s)") {
		t.Errorf("keyway simulate FILE: exit %d\n%s", code, out)
	}
}

func TestArgumentErrors(t *testing.T) {
	t.Setenv("KEYWAY_CONFIG", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"validate", starter, "extra"}, "unexpected argument(s): extra"},
		{[]string{"serve", starter, "a", "b"}, "unexpected argument(s): a b"},
		{[]string{"simulate", starter, "x"}, "unexpected argument(s): x"},
		{[]string{"version", "x"}, "unexpected argument(s): x"},
		{[]string{"validate", "--config", starter, "other.yaml"}, "the config is given twice"},
		{[]string{"validate"}, "a config FILE is required"},
		{[]string{"validate", "--nope", starter}, "flag provided but not defined: -nope"},
		{[]string{"validate", "--format", "xml", starter}, "--format must be text or json"},
		{[]string{"serve", "--log-format", "xml", starter}, `log format "xml"`},
	}
	for _, tc := range cases {
		code, _, errOut := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("keyway %v: exit %d, want 2 and %q; stderr:\n%s", tc.args, code, tc.want, errOut)
		}
	}
}

func TestValidateFormatJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyway.yaml")
	src := "compliance:\n  help: { reply: \"Reply STOP to opt out. Msg&data rates may apply.\" }\nautomations:\n  - id: x\n    keywords: [X]\n    steps:\n      - { type: reply }\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI("validate", "--format", "json", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var got struct {
		Valid    bool          `json:"valid"`
		Problems []jsonProblem `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Valid || len(got.Problems) == 0 {
		t.Fatalf("want an invalid result with problems: %s", out)
	}
	var sawError, sawWarning bool
	for _, p := range got.Problems {
		if p.File != path || p.Line == 0 || p.Col == 0 || p.Message == "" {
			t.Errorf("problem without a place or message: %+v", p)
		}
		sawError = sawError || (p.Severity == "error" && p.Line == 7)
		sawWarning = sawWarning || p.Severity == "warning"
	}
	if !sawError || !sawWarning {
		t.Errorf("want an error on line 7 and a warning: %s", out)
	}
	code, out, _ = runCLI("validate", "--format", "json", starter)
	// (its warnings name the Twilio and admin variables the test does not set)
	if code != 0 || !strings.Contains(out, `"valid": true`) || strings.Contains(out, `"severity": "error"`) {
		t.Errorf("valid config: exit %d:\n%s", code, out)
	}
}

func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger("info", "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hello")
	if !strings.HasPrefix(buf.String(), "{") {
		t.Errorf("default format to a non-terminal is not JSON: %q", buf.String())
	}
	buf.Reset()
	log, _ = newLogger("info", "console", &buf)
	log.Info().Msg("hello")
	if strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), "INF hello") {
		t.Errorf("console format: %q", buf.String())
	}
	buf.Reset()
	log, _ = newLogger("info", "json", &buf)
	log.Info().Msg("hello")
	if !strings.Contains(buf.String(), `"message":"hello"`) {
		t.Errorf("json format: %q", buf.String())
	}
}

func TestLogLevel(t *testing.T) {
	for _, level := range []string{"debug", "info", "warn", "error", "WARN"} {
		if _, err := newLogger(level, "json", &bytes.Buffer{}); err != nil {
			t.Errorf("level %q: %v", level, err)
		}
	}
	// zerolog's own parser takes these (or says "defaulting to NoLevel" of a
	// typo); serve takes the four levels it documents and names them.
	for _, level := range []string{"verbose", "warning", "trace", "disabled", "panic", "-1", "5"} {
		_, err := newLogger(level, "json", &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "debug, info, warn or error") {
			t.Errorf("level %q: error = %v, want one naming the levels", level, err)
		}
	}
	code, _, errOut := runCLI("serve", "--log-level", "verbose", starter)
	if code != 2 || !strings.Contains(errOut, `log level "verbose": debug, info, warn or error`) || strings.Contains(errOut, "NoLevel") {
		t.Errorf("serve --log-level verbose: exit %d, stderr %q", code, errOut)
	}
}

// TestSimulateCommandsWithoutArgument: a command typed without its
// argument says what it needs, in the simulator's words.
func TestSimulateCommandsWithoutArgument(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"simulate", starter}, strings.NewReader("/from\n/button\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"error: /from needs a number, e.g. /from +15550002222", "error: /button needs the id"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("simulate output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "config:") {
		t.Errorf("simulate output names a package:\n%s", out.String())
	}
}

// TestSimulateDefaultChannel: simulate chats on SMS unless the config has
// only WhatsApp numbers, where it chats on WhatsApp (no SMS could arrive);
// --channel still chooses.
func TestSimulateDefaultChannel(t *testing.T) {
	const waOnly = "../../config/examples/whatsapp_cloud.yaml"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{waOnly}, "on whatsapp."},
		{[]string{waOnly, "--channel", "sms"}, "on sms."},
		{[]string{starter}, "on sms."},
	} {
		code, out, errOut := runCLI(append([]string{"simulate"}, tc.args...)...)
		if code != 0 || !strings.Contains(out, "you are +15550001111 "+tc.want) {
			t.Errorf("simulate %v: exit %d, want %q:\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

func TestParseFlagsInAnyOrder(t *testing.T) {
	fs := newCommandFlags("x", "")
	f := fs.String("f", "", "")
	if code, done := parseFlags(fs, []string{"a", "-f", "v", "b", "--", "-c"}, &bytes.Buffer{}, &bytes.Buffer{}); done {
		t.Fatalf("done with %d", code)
	}
	if *f != "v" || strings.Join(fs.Args(), " ") != "a b -c" {
		t.Errorf("f=%q args=%q", *f, fs.Args())
	}
}
