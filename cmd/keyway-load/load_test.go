package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestCheckWaits proves a LATER, which asks for a reply now and one when
// its wait fires, is checked for exactly two: one is missing, three is a
// text too many, even for a message the kill cut off.
func TestCheckWaits(t *testing.T) {
	posted := []sent{
		{SID: "SM1", From: "+1", Kind: kindLater, Status: http.StatusOK},
		{SID: "SM2", From: "+2", Kind: kindLater},
	}
	store := map[string]stored{"+1": {Inbound: map[string]bool{"SM1": true}}, "+2": {}}
	if v := check(posted, store, map[sendKey]int{{"SM1", "+1"}: 2, {"SM2", "+2"}: 2}); !v.OK() || v.ExpectedSends != 2 {
		t.Errorf("both replies: %s", v)
	}
	if v := check(posted, store, map[sendKey]int{{"SM1", "+1"}: 1}); len(v.Missing) != 1 {
		t.Errorf("the wait never fired: %s", v)
	}
	if v := check(posted, store, map[sendKey]int{{"SM1", "+1"}: 3, {"SM2", "+2"}: 3}); len(v.Twice) != 2 || v.Duplicates != 2 {
		t.Errorf("a reply twice each: %s (%d too many)", v, v.Duplicates)
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

// binaries builds keyway and this tool once for the tests that run them.
var binaries = sync.OnceValues(func() (dir string, err error) {
	if dir, err = os.MkdirTemp("", "keyway-load-test-"); err != nil {
		return "", err
	}
	for _, b := range [][2]string{{"keyway", "../keyway"}, {"keyway-load", "."}} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1])
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return "", fmt.Errorf("build %s: %w", b[0], err)
		}
	}
	return dir, nil
})

// builtAny is set once a test asked for the binaries, so that TestMain
// removes them without building them when none did.
var builtAny atomic.Bool

func TestMain(m *testing.M) {
	code := m.Run()
	if builtAny.Load() {
		if dir, err := binaries(); err == nil {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// built returns the paths of the keyway binary and of this tool's.
func built(t *testing.T) (keyway, self string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs keyway")
	}
	builtAny.Store(true)
	dir, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "keyway"), filepath.Join(dir, "keyway-load")
}

// TestLoad builds keyway and drives it with the tool, the bare servers
// alongside: every accepted message must be stored and every reply sent
// exactly once, and the summary must give the ratios.
func TestLoad(t *testing.T) {
	bin, self := built(t)
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
	for _, args := range [][]string{{}, {"--baseline", "--requests", "0"}, {"--baseline", "--crash", "2"},
		{"--keyway", "a", "--keyway", "b", "--crash", "2"}, {"--keyway", "a", "--crash", "2", "--crash-min", "2s", "--crash-max", "1s"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestCrashCycles is the crash test: three cycles of load, SIGKILL at a
// random moment and restart on the same data, with replies and stored
// waits under way. No accepted message may be missing, no text sent twice
// (sends the kill left in doubt are looked up in the fake provider's log),
// and every wait must fire exactly once.
func TestCrashCycles(t *testing.T) {
	bin, self := built(t)
	var out bytes.Buffer
	cmd := exec.Command(self, "--keyway", bin, "--crash", "3", "--crash-min", "200ms", "--crash-max", "1500ms",
		"--conns", "8", "--senders", "300")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyway-load --crash: %v\n%s", err, out.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^cycle  3: killed after `),
		regexp.MustCompile(`texts sent twice: 0\n`),
		regexp.MustCompile(`verified: [1-9][0-9]* accepted messages stored, [1-9][0-9]* replies sent exactly once, nothing else sent`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}

// TestFetchStoredUnknownContact proves a sender keyway never stored (its
// only webhook cut off by a kill) reads as storing nothing, not as a
// contact the admin API could not show; other failures still count.
func TestFetchStoredUnknownContact(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "%2B1000") || strings.Contains(r.URL.Path, "+1000") {
			http.Error(w, `{"error":"no contact"}`, http.StatusNotFound)
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	got := fetchStored(context.Background(), srv.URL, map[string]bool{"+1000": true, "+2000": true})
	if st := got["+1000"]; st.Err != nil || len(st.Inbound) != 0 {
		t.Errorf("unknown contact: %+v, want nothing stored and no error", st)
	}
	if st := got["+2000"]; st.Err == nil {
		t.Errorf("a failing admin API: %+v, want an error", st)
	}
}

// A request under way when --duration ends is answered and counted, not
// cut off: keyway may have taken it, and its reply would then read as
// unexpected. Each request here is held until after the deadline.
func TestDriveDurationFinishesRequestsUnderWay(t *testing.T) {
	const d = 100 * time.Millisecond
	start := time.Now()
	var mu sync.Mutex
	got := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got[r.PostForm.Get("MessageSid")] = true
		mu.Unlock()
		<-time.After(time.Until(start.Add(2 * d))) // answered after the deadline
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	res := drive(t.Context(), srv.URL, loadOptions{Conns: 4, Duration: d, Senders: 8, Nonce: "dur"})
	if len(res.Errors) != 0 {
		t.Errorf("errors: %v, want none", res.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("the server got no request")
	}
	if len(res.Sent) != len(got) || res.Accepted() != len(got) {
		t.Errorf("%d requests recorded, %d accepted; the server took %d", len(res.Sent), res.Accepted(), len(got))
	}
	for _, s := range res.Sent {
		if !got[s.SID] {
			t.Errorf("%s recorded but the server never got it", s.SID)
		}
	}
}
