package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyway-sms/keyway/config"
)

// From a pipe, hash-password reads one line and prints a bcrypt hash of
// it, without its line ending, that admin.users takes as written.
func TestHashPassword(t *testing.T) {
	for _, in := range []string{"correct horse\n", "correct horse\r\n", "correct horse", "correct horse\nsecond line\n"} {
		var out, errOut bytes.Buffer
		if code := run([]string{"hash-password"}, strings.NewReader(in), &out, &errOut); code != 0 {
			t.Fatalf("hash-password <<%q: exit %d, %s", in, code, errOut.String())
		}
		hash := strings.TrimSuffix(out.String(), "\n")
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse")); err != nil {
			t.Errorf("hash-password <<%q printed %q, not a hash of the password: %v", in, out.String(), err)
		}
		if strings.Contains(out.String()+errOut.String(), "correct horse") {
			t.Errorf("hash-password printed the password")
		}
		if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.DefaultCost {
			t.Errorf("cost %d, want %d", cost, bcrypt.DefaultCost)
		}
		src := "admin:\n  users:\n    - { name: Ann, role: admin, password_hash: " + hash + " }\n"
		cfg, ps := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
		for _, p := range ps {
			if strings.Contains(p.String(), "admin.users") {
				t.Errorf("the config refuses the printed hash: %s", p)
			}
		}
		if cfg == nil || cfg.Admin.User("Ann") == nil || cfg.Admin.User("Ann").PasswordHash != hash {
			t.Errorf("the hash read back from the config differs: %+v", cfg)
		}
	}
	for in, want := range map[string]string{
		"\n":                    "keyway hash-password: the password is empty\n",
		"":                      "keyway hash-password: the password is empty\n",
		strings.Repeat("x", 73): "keyway hash-password: the password is 73 bytes long; bcrypt takes at most 72\n",
	} {
		var out, errOut bytes.Buffer
		code := run([]string{"hash-password"}, strings.NewReader(in), &out, &errOut)
		if code != 1 || errOut.String() != want || out.Len() != 0 {
			t.Errorf("hash-password <<%q: exit %d, stdout %q, stderr %q; want 1 and %q", in, code, out.String(), errOut.String(), want)
		}
	}
	if code, _, errOut := runCLI("hash-password", "extra"); code != 2 || !strings.Contains(errOut, "extra") {
		t.Errorf("hash-password extra: exit %d, %s", code, errOut)
	}
}
