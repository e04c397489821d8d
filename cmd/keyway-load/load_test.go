package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheck proves the verdict catches each fault: a stored message missing,
// a reply missing, a reply sent twice, an unmatched message answered and a
// send nobody asked for; and that a message that was not accepted is only
// held to "at most once".
func TestCheck(t *testing.T) {
	posted := []sent{
		{SID: "SM1", From: "+1", Kind: kindKeyword, Status: http.StatusOK},
		{SID: "SM2", From: "+1", Kind: kindJoin, Status: http.StatusOK},
		{SID: "SM3", From: "+2", Kind: kindUnmatched, Status: http.StatusOK},
		{SID: "SM4", From: "+2", Kind: kindKeyword, Status: http.StatusInternalServerError},
	}
	allStored := map[string]stored{
		"+1": {Inbound: map[string]bool{"SM1": true, "SM2": true}},
		"+2": {Inbound: map[string]bool{"SM3": true}},
	}
	good := map[sendKey]int{{"SM1", "+1"}: 1, {"SM2", "+1"}: 1}
	if v := check(posted, allStored, good); !v.OK() || v.Accepted != 3 || v.ExpectedSends != 2 {
		t.Fatalf("a clean run: %s (accepted %d, expected sends %d)", v, v.Accepted, v.ExpectedSends)
	}
	// The failed SM4 may have been handled: one reply to it is fine.
	withSM4 := map[sendKey]int{{"SM1", "+1"}: 1, {"SM2", "+1"}: 1, {"SM4", "+2"}: 1}
	if v := check(posted, allStored, withSM4); !v.OK() {
		t.Fatalf("a failed message answered once: %s", v)
	}

	for _, c := range []struct {
		name   string
		store  map[string]stored
		counts map[sendKey]int
		fault  func(verdict) []string
	}{
		{"not stored", map[string]stored{"+1": {Inbound: map[string]bool{"SM1": true}}, "+2": allStored["+2"]}, good,
			func(v verdict) []string { return v.NotStored }},
		{"reply missing", allStored, map[sendKey]int{{"SM1", "+1"}: 1},
			func(v verdict) []string { return v.Missing }},
		{"sent twice", allStored, map[sendKey]int{{"SM1", "+1"}: 2, {"SM2", "+1"}: 1},
			func(v verdict) []string { return v.Twice }},
		{"failed message sent twice", allStored, map[sendKey]int{{"SM1", "+1"}: 1, {"SM2", "+1"}: 1, {"SM4", "+2"}: 2},
			func(v verdict) []string { return v.Twice }},
		{"unmatched answered", allStored, map[sendKey]int{{"SM1", "+1"}: 1, {"SM2", "+1"}: 1, {"SM3", "+2"}: 1},
			func(v verdict) []string { return v.Unexpected }},
		{"reply to the wrong number", allStored, map[sendKey]int{{"SM1", "+1"}: 1, {"SM2", "+9"}: 1},
			func(v verdict) []string { return v.Unexpected }},
	} {
		v := check(posted, c.store, c.counts)
		if v.OK() || len(c.fault(v)) == 0 {
			t.Errorf("%s: verdict %s", c.name, v)
		}
	}
	if v := check(posted, map[string]stored{"+1": {Inbound: allStored["+1"].Inbound, Queued: 1}, "+2": allStored["+2"]}, good); v.OK() {
		t.Errorf("a queued reply: verdict %s", v)
	}
	if v := (verdict{Refused: 1}); v.OK() {
		t.Errorf("a request the provider refused: verdict %s", v)
	}
}

// TestPick proves each kind goes to a sender in the right state, so every
// message's outcome is known: answers only from waiting senders, and the
// rest only from senders that do not wait.
func TestPick(t *testing.T) {
	mine := []*sender{{From: "+1"}, {From: "+2"}}
	var cursor int
	var waiting []*sender
	for n := range int64(200) {
		k, s := pick(n, mine, &cursor, &waiting)
		if s == nil {
			t.Fatalf("message %d: no sender", n)
		}
		if (k == kindReply) != s.Waiting {
			t.Fatalf("message %d: kind %d to a sender that waits=%v", n, k, s.Waiting)
		}
		switch k {
		case kindJoin:
			s.Waiting = true
			waiting = append(waiting, s)
		case kindReply:
			s.Waiting = false
		}
	}
	mine[0].Broken, mine[1].Broken = true, true
	if _, s := pick(0, mine, &cursor, &waiting); s != nil {
		t.Fatalf("every sender broke, got %s", s.From)
	}
}

// TestLoad builds keyway and drives it with the tool, the bare servers
// alongside: every accepted message must be stored and every reply sent
// exactly once, and the summary must give the ratios.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs keyway")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyway")
	build := exec.Command("go", "build", "-o", bin, "../keyway")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build keyway: %v", err)
	}
	// The bare servers run as the tool's own binary, so build it too.
	self := filepath.Join(dir, "keyway-load")
	build = exec.Command("go", "build", "-o", self, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build keyway-load: %v", err)
	}
	var out bytes.Buffer
	cmd := exec.Command(self, "--keyway", "kw="+bin, "--baseline", "--conns", "8", "--requests", "400", "--senders", "20")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyway-load: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`verified: 400 accepted messages stored, [1-9][0-9]* replies sent exactly once, nothing else sent`).MatchString(out.String()) {
		t.Errorf("not verified:\n%s", out.String())
	}
	for _, want := range []string{
		"kw         round 1: 400 accepted",
		"bare-batch round 1: 400 accepted",
		"bare-update round 1: 400 accepted",
		"of bare-batch",
		"of bare-update",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunRefuses proves a run with nothing to drive or no bound says so.
func TestRunRefuses(t *testing.T) {
	for _, args := range [][]string{{}, {"--baseline", "--requests", "0"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
