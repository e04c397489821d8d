package test

import (
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
