package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadyzURL checks that the probe reaches a wildcard listener on
// loopback, as a container's HEALTHCHECK must (the image listens on ":8080").
func TestReadyzURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{":8080", "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/readyz"},
		{"[::]:8080", "http://[::1]:8080/readyz"},
		{"10.1.2.3:8080", "http://10.1.2.3:8080/readyz"},
	} {
		path := filepath.Join(t.TempDir(), "k.yaml")
		if err := os.WriteFile(path, []byte("server:\n  listen: \""+tc.listen+"\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readyzURL(path)
		if err != nil || got != tc.want {
			t.Errorf("listen %q: %q, %v; want %q", tc.listen, got, err, tc.want)
		}
	}
}

// A config file that gives no config at all right now (missing, or empty
// mid-deploy) does not stop a running keyway, which keeps the config it
// has: the probe asks it where a file that sets no server.listen would have
// it, and answers "not ready" (1) rather than a usage error (2) when nothing
// is there, as a container's HEALTHCHECK expects of it.
func TestHealthWithoutAConfigAsksTheDefaultListen(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.yaml"), empty} {
		got, err := readyzURL(path)
		if got != "http://127.0.0.1:8080/readyz" || !errors.Is(err, errNoConfig) {
			t.Errorf("%s: %q, %v; want the default listen's /readyz and errNoConfig", path, got, err)
		}
		var out, errOut bytes.Buffer
		code := run([]string{"health", "--timeout", "1s", path}, strings.NewReader(""), &out, &errOut)
		if code == 2 || !strings.Contains(errOut.String(), "asking http://127.0.0.1:8080/readyz") {
			t.Errorf("%s: exit %d, want 0 or 1 and the address asked:\n%s%s", path, code, out.String(), errOut.String())
		}
	}
}
