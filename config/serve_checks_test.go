package config

import (
	"fmt"
	"testing"
)

// TestListenAddress checks that validate refuses every server.listen that
// net.Listen would refuse at serve, and takes the ones it accepts.
func TestListenAddress(t *testing.T) {
	const hint = `; write [host]:port, e.g. ":8080" or "127.0.0.1:8080"`
	tests := []struct {
		listen string
		want   string // the problem after `server.listen: "LISTEN" is not an address to listen on: `, or "" when valid
	}{
		{":8080", ""},
		{"127.0.0.1:0", ""},
		{"[::1]:8080", ""},
		{"localhost:8080", ""},
		{"0.0.0.0:443", ""},
		{"[fe80::1%eth0]:8080", ""},
		{"keyway_web:8080", ""},
		{":http", ""},
		{"8080", "missing port in address"},
		{"abc", "missing port in address"},
		{":99999", `port "99999" is not a port number from 0 to 65535`},
		{":-1", `port "-1" is not a port number from 0 to 65535`},
		{"::1:8080", "too many colons in address"},
		{"bad host!:8080", `host "bad host!" is not an IP address or a hostname`},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			_, ps := mustParse(t, fmt.Sprintf("server:\n  listen: %q\n", tc.listen), nil)
			var want []string
			if tc.want != "" {
				want = []string{fmt.Sprintf("k.yaml:2:11: server.listen: %q is not an address to listen on: %s%s", tc.listen, tc.want, hint)}
			}
			checkProblems(t, withoutHelpWarning(ps), want)
		})
	}
}

// TestWhatServeDiesOn checks the settings that gateway.New would refuse at
// start: validate reports them first, with their place.
func TestWhatServeDiesOn(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "api_base_url with credentials",
			src:  "providers:\n  twilio:\n    api_base_url: \"https://u:p@proxy.example\"\n",
			want: []string{`k.yaml:3:19: providers.twilio.api_base_url: "https://u:p@proxy.example" must not hold credentials, a query or a fragment`},
		},
		{
			name: "api_base_url with a query",
			src:  "providers:\n  twilio:\n    api_base_url: \"https://proxy.example/?a=1\"\n",
			want: []string{`k.yaml:3:19: providers.twilio.api_base_url: "https://proxy.example/?a=1" must not hold credentials, a query or a fragment`},
		},
		{
			name: "api_base_url with a path",
			src:  "providers:\n  twilio:\n    api_base_url: \"http://127.0.0.1:9000/twilio/\"\n",
		},
		{
			name: "storage path is a folder",
			src:  "storage:\n  path: ./data/\n",
			want: []string{`k.yaml:2:9: storage.path: "./data/" names a folder; name the database file in it, e.g. "./data/keyway.db"`},
		},
		{
			name: "storage path is the current folder",
			src:  "storage:\n  path: .\n",
			want: []string{`k.yaml:2:9: storage.path: "." names a folder; name the database file in it, e.g. "./data/keyway.db"`},
		},
		{
			name: "storage path from the environment with a default",
			src:  "storage:\n  path: ${KEYWAY_DB:-./data/keyway.db}\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := mustParse(t, tc.src, nil)
			checkProblems(t, withoutHelpWarning(ps), tc.want)
		})
	}
}
