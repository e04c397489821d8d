package main

import (
	"os"
	"path/filepath"
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
	if _, err := readyzURL(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing config gave a URL")
	}
}
