package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// An address may fail loginBurst times; then it waits loginEvery per try,
// and each address (and, later, each user name) has its own budget.
func TestFailedLoginsBudget(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	f := newFailedLogins(clock.now)
	a, b := addrKey("192.0.2.1"), addrKey("192.0.2.2")
	for i := 0; i < loginBurst; i++ {
		if w := f.wait(a); w != 0 {
			t.Fatalf("failure %d: wait %v before it, want none", i+1, w)
		}
		f.failed(a)
	}
	if w := f.wait(a); w != loginEvery {
		t.Fatalf("after %d failures: wait %v, want %v", loginBurst, w, loginEvery)
	}
	if w := f.wait(b); w != 0 {
		t.Errorf("another address waits %v, want none", w)
	}
	if got := retryAfter(f.wait(a)); got != "10" {
		t.Errorf("Retry-After %q, want 10", got)
	}
	clock.advance(loginEvery - time.Second)
	if w := f.wait(a).Round(time.Millisecond); w != time.Second {
		t.Errorf("9s later: wait %v, want 1s", w)
	}
	clock.advance(time.Second)
	if w := f.wait(a); w != 0 {
		t.Fatalf("%v later: wait %v, want none", loginEvery, w)
	}
	f.failed(a) // the one try it earned
	if w := f.wait(a); w != loginEvery {
		t.Errorf("after the earned try failed: wait %v, want %v", w, loginEvery)
	}
	// With several keys (an address and a user), the longest wait counts.
	if w := f.wait(b, a); w != loginEvery {
		t.Errorf("wait of both keys %v, want %v", w, loginEvery)
	}
	// A full budget after loginBurst*loginEvery: the key is forgotten when
	// room is needed.
	clock.advance(loginBurst * loginEvery)
	f.forgetRecovered(clock.now())
	if _, kept := f.by[a]; kept {
		t.Errorf("a recovered address is still remembered")
	}
}

// The keys failedLogins remembers are bounded: past maxLoginKeys, new
// addresses share one budget.
func TestFailedLoginsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	f := newFailedLogins(clock.now)
	for i := 0; i < maxLoginKeys+50; i++ {
		f.failed(addrKey(fmt.Sprint("10.0.", i/256, ".", i%256)))
	}
	if len(f.by) > maxLoginKeys+1 {
		t.Errorf("%d keys remembered, want at most %d", len(f.by), maxLoginKeys+1)
	}
}

// An IPv6 address counts by its /64: the next address of the same block
// has no fresh budget. IPv4 addresses count one by one.
func TestFailedLoginsIPv6CountsByBlock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	f := newFailedLogins(clock.now)
	for i := 0; i < loginBurst; i++ {
		f.failed(addrKey(fmt.Sprintf("2001:db8:0:7::%x", i+1)))
		f.failed(addrKey(fmt.Sprintf("192.0.2.%d", i+1)))
	}
	if w := f.wait(addrKey("2001:db8:0:7:ffff::1")); w != loginEvery {
		t.Errorf("another address of the same /64: wait %v, want %v", w, loginEvery)
	}
	if w := f.wait(addrKey("2001:db8:0:8::1")); w != 0 {
		t.Errorf("an address of another /64: wait %v, want none", w)
	}
	if w := f.wait(addrKey("192.0.2.1")); w != 0 {
		t.Errorf("an IPv4 address that failed once: wait %v, want none", w)
	}
}

// Once a flood of addresses fills the room, a new address or user name
// is not free to guess: it shares the overflow budget, which the flood
// spent, until the flood's keys recover and are forgotten.
func TestFailedLoginsOverflowBudgetHolds(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	f := newFailedLogins(clock.now)
	for i := 0; i < maxLoginKeys+loginBurst; i++ {
		f.failed(addrKey(fmt.Sprintf("2001:db8:%x::1", i)))
	}
	guesser, name := addrKey("2001:db9::1"), userKey("ann")
	if w := f.wait(guesser, name); w == 0 {
		t.Fatalf("with the room full and the overflow budget spent, a new address and name may try at once")
	}
	for i := 0; i < 20; i++ {
		f.failed(guesser, name)
	}
	if w := f.wait(guesser, name); w < loginEvery {
		t.Errorf("after 20 more failures: wait %v, want at least %v", w, loginEvery)
	}
	// The flood stops: its keys recover, are forgotten, and the next
	// address has its own budget again.
	clock.advance(loginBurst * loginEvery)
	if w := f.wait(addrKey("2001:dba::1")); w != 0 {
		t.Errorf("after the flood recovered: wait %v, want none", w)
	}
	f.failed(addrKey("2001:dba::1"))
	if _, own := f.by[addrKey("2001:dba::1")]; !own {
		t.Errorf("after the flood recovered, a new address still shares the overflow budget")
	}
}

// A chunked body is read only up to its route's limit: one over it gets
// 413, one under it reaches the webhook.
func TestChunkedBodyCapped(t *testing.T) {
	tg := newTestGateway(t) // max_body_bytes: 2048
	post := func(body string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, inboundURL, strings.NewReader(body))
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := tg.g.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := post("Body=x&Padding=" + strings.Repeat("x", 4096)); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over max_body_bytes: %d, want 413", res.StatusCode)
	}
	// Under the limit it is read whole and reaches the provider, whose
	// signature check refuses it (unsigned): 403, not 413.
	if res := post("Body=x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("chunked body under max_body_bytes: %d, want 403 (read, then refused unsigned)", res.StatusCode)
	}
}
