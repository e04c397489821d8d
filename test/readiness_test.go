package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second `keyway serve` on a data file another one holds exits at once
// and says why, instead of a bare "timeout" after seconds; the first one
// goes on serving.
func TestSecondServeOnLockedDataFile(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, "serve", "--config", g.Config)
	second.Dir = g.Dir
	start := time.Now()
	out, err := second.CombinedOutput()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("second serve: %v after %v, want a non-zero exit:\n%s", err, took, out)
	}
	t.Logf("second serve exited %d after %v:\n%s", exit.ExitCode(), took, out)
	if took > 10*time.Second {
		t.Errorf("second serve took %v to give up, want a second or two", took)
	}
	db := filepath.Join(g.Dir, "data", "keyway.db")
	for _, want := range []string{"the data file is in use by another keyway process", db} {
		if !strings.Contains(string(out), want) {
			t.Errorf("second serve's output lacks %q:\n%s", want, out)
		}
	}
	if code, body := get(t, g.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("first gateway after the second gave up: readyz %d %s", code, body)
	}
}

const bigConfig = `
automations:
  - id: big
    keywords: [BIG]
    steps:
      - { type: reply, text: "got it" }
`

// With the disk full, webhooks get 500 and /readyz says 503 with the
// reason; once there is room again /readyz comes back to 200 by itself and
// Twilio's retry of a refused webhook is taken. The gateway's data folder
// is a 4 MiB tmpfs in a mount namespace of its own, filled up by a file.
func TestReadyzWithFullDisk(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: no unshare(1) to give keyway a tmpfs of its own; gateway's TestReadyzFollowsStorageCommits covers a failing store")
	}
	g := newGateway(t, bigConfig)
	data := filepath.Join(g.Dir, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	mount := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs -o size=4m keyway-test "$0" && exec "$@"`, data}
	if out, err := exec.Command(mount[0], append(mount[1:], "true")...).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs in a mount namespace here (%v: %s); gateway's TestReadyzFollowsStorageCommits covers a failing store", err, strings.TrimSpace(string(out)))
	}
	g.wrap = mount
	g.startUntilEnd()
	// The tmpfs is seen through the gateway's own root.
	inNS := filepath.Join("/proc", fmt.Sprint(g.cmd.Process.Pid), "root", data)
	if _, err := os.Stat(filepath.Join(inNS, "keyway.db")); err != nil {
		t.Fatalf("data file not on the tmpfs: %v", err)
	}

	g.Text(Inbound{From: "+15551250001", Body: "BIG hello"})
	g.Twilio.WaitSent(t, 1, 10*time.Second)

	filler := filepath.Join(inNS, "filler")
	fill(t, filler)

	// More pages than bbolt has free, even compressed: random letters.
	noise := make([]byte, 30000)
	_, _ = rand.Read(noise)
	big := "BIG " + base64.RawURLEncoding.EncodeToString(noise)
	var refused []Inbound
	for i := range 5 {
		in := Inbound{SID: fmt.Sprintf("SM%032d", 900+i), From: "+15551250002", Body: big}
		code, _ := g.PostSigned("/webhooks/twilio", g.Form(in))
		if code == http.StatusOK {
			continue
		}
		if code != http.StatusInternalServerError {
			t.Fatalf("webhook on a full disk: %d, want 500", code)
		}
		refused = append(refused, in)
	}
	if len(refused) == 0 {
		t.Fatal("every webhook was taken on a full disk: the disk is not full")
	}
	code, body := get(t, g.URL+"/readyz")
	t.Logf("%d of 5 webhooks refused on a full disk; readyz %d %s", len(refused), code, body)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) || !strings.Contains(body, "no space left on device") {
		t.Fatalf("readyz on a full disk: %d %s, want 503 naming the full disk", code, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, "readyz back to 200 once the disk has room", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusOK
	})
	for _, in := range refused { // Twilio retries what got 500
		g.Text(in)
	}
	if got := repliesTo(t, g, "+15551250002", len(refused)); len(got) != len(refused) {
		t.Errorf("replies to the retried webhooks: %q, want %d", got, len(refused))
	}
	if !strings.Contains(g.Logs(), "not ready: storage cannot commit") || !strings.Contains(g.Logs(), "ready again: storage commits") {
		t.Errorf("the log does not tell when storage failed and came back")
	}
}

// fill writes to path until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}
