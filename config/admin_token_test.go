package config

import (
	"strings"
	"testing"
)

// A short admin.token is a problem once keyway sends for real (Twilio
// credentials set), and taken in dev mode, where keyway is tried out.
func TestAdminTokenLength(t *testing.T) {
	live := "providers:\n  twilio: { account_sid: AC1, auth_token: t, numbers: [{ number: \"+15005550006\", channel: sms }] }\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"short, live", "admin:\n  token: \"a\"\n" + live,
			[]string{"k.yaml:2:10: admin.token: too short to resist guessing (length 1); use at least 16 random characters, e.g. the output of `openssl rand -hex 16`"}},
		{"15 characters, live", "admin:\n  token: \"" + strings.Repeat("x", 15) + "\"\n" + live,
			[]string{"k.yaml:2:10: admin.token: too short to resist guessing (length 15); use at least 16 random characters, e.g. the output of `openssl rand -hex 16`"}},
		{"16 characters, live", "admin:\n  token: \"" + strings.Repeat("x", 16) + "\"\n" + live, nil},
		{"no token, live", live, nil},
		{"short, dev mode", "admin:\n  token: \"a\"\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := mustParse(t, tc.src, nil)
			var got []string
			for _, p := range withoutHelpWarning(ps) {
				if strings.Contains(p, "admin.token") {
					got = append(got, p)
				}
			}
			checkProblems(t, got, tc.want)
		})
	}
}

func TestParseAllowHost(t *testing.T) {
	tests := []struct {
		entry string
		host  string
		port  int
		want  bool
	}{
		{"localhost", "localhost", 6379, true},
		{"localhost:8080", "localhost", 8080, true},
		{"localhost:8080", "localhost", 6379, false},
		{"localhost:8080", "LOCALHOST.", 8080, true},
		{"crm.internal:8443", "other.internal", 8443, false},
		{"127.0.0.1:8080", "127.0.0.1", 8080, true},
		{"127.0.0.1:8080", "127.0.0.1", 8081, false},
		{"127.0.0.1", "127.0.0.1", 1, true},
		{"[::1]:8080", "::1", 8080, true},
		{"[::1]:8080", "[::1]", 9090, false},
		{"::1", "::1", 9090, true},
		{"10.1.0.0/16", "10.1.200.3", 22, true},
		{"10.1.0.0/16", "10.2.0.1", 22, false},
	}
	for _, tc := range tests {
		a, err := ParseAllowHost(tc.entry)
		if err != nil {
			t.Fatalf("%s: %v", tc.entry, err)
		}
		if got := a.Allows(tc.host, tc.port); got != tc.want {
			t.Errorf("%s allows %s port %d: %v, want %v", tc.entry, tc.host, tc.port, got, tc.want)
		}
	}
}
