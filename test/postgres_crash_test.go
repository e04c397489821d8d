package test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
	"github.com/keyway-sms/keyway/test/fakes"
)

const crashConfig = `
compliance:
  loop_guard: { max: 100000, per: 1m } # each contact writes about once a second here
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: wait, duration: 2s }
      - { type: reply, text: "after the wait" }
  - id: echo
    catch_all: true
    steps:
      - { type: reply, text: "got {{ message.body }}" }
`

// node is one of the processes under load: posters skip it while down.
type node struct {
	mu   sync.RWMutex
	g    *Gateway
	down bool
}

// url returns where the node listens, or "" while it is down.
func (n *node) url() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.down {
		return ""
	}
	return n.g.URL
}

// crashCycles is how many times TestPostgresCrashUnderLoad kills a
// process: KEYWAY_CRASH_CYCLES if set (the documented run uses 20), else
// 10, or 3 in CI to keep it short.
func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("KEYWAY_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	if os.Getenv("CI") != "" {
		return 3
	}
	return 10
}

// SIGKILL one of three processes at random moments during load, then
// start it again, cycle after cycle: every webhook answered 200 is handled
// once and gets its reply, sent once, and every wait fires once. Sends the
// killed process had under way are taken back by the process started again
// under its name (KEYWAY_INSTANCE) and finished after a look in Twilio's
// log, not left to wait out their 1-minute leases.
func TestPostgresCrashUnderLoad(t *testing.T) {
	gs := startShared(t, 3, crashConfig)
	nodes := make([]*node, len(gs))
	for i, g := range gs {
		nodes[i] = &node{g: g}
	}
	tw := gs[0].Twilio
	rng := rand.New(rand.NewPCG(9, uint64(time.Now().UnixNano())))

	// The load: one webhook every 5 ms, to a live process chosen in turn.
	var (
		accepted   sync.Map // "contact\x00body" → the webhook's SID, for each 200
		acceptedN  atomic.Int64
		dripped    sync.Map // contact → the webhook's SID, for each DRIP answered 200
		seq        atomic.Int64
		stop       = make(chan struct{})
		loadDone   sync.WaitGroup
		client     = &http.Client{Timeout: 10 * time.Second}
		pace       = time.NewTicker(5 * time.Millisecond)
		contacts   = 200
		postErrors atomic.Int64
	)
	defer pace.Stop()
	post := func(n *node, in Inbound) bool {
		base := n.url()
		if base == "" {
			return false
		}
		form := gs[0].Form(in)
		sig := twilio.Sign(tw.AuthToken, PublicURL+"/webhooks/twilio", form)
		req, err := http.NewRequest(http.MethodPost, base+"/webhooks/twilio", strings.NewReader(form.Encode()))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		res, err := client.Do(req)
		if err != nil {
			postErrors.Add(1)
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	for w := range 8 {
		loadDone.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				k := seq.Add(1)
				n := nodes[int(k)%len(nodes)]
				if k%10 == 0 { // a wait, from a contact of its own
					from, sid := fmt.Sprintf("+1555400%04d", k/10), fmt.Sprintf("SMcrash%09d", k)
					if post(n, Inbound{SID: sid, From: from, Body: "DRIP"}) {
						dripped.Store(from, sid)
					}
					continue
				}
				from, body, sid := contactPhone(int(k)%contacts), fmt.Sprintf("w%d-%d", w, k), fmt.Sprintf("SMcrash%09d", k)
				if post(n, Inbound{SID: sid, From: from, Body: body}) {
					accepted.Store(from+"\x00"+body, sid)
					acceptedN.Add(1)
				}
			}
		})
	}

	for cycle := range crashCycles() {
		// A random moment: after 20 to 120 more webhooks were taken.
		target := acceptedN.Load() + 20 + rng.Int64N(100)
		Eventually(t, patience, fmt.Sprintf("cycle %d: load reached %d webhooks", cycle, target), func() bool {
			return acceptedN.Load() >= target
		})
		n := nodes[rng.IntN(len(nodes))]
		n.mu.Lock()
		n.down = true
		n.mu.Unlock()
		n.g.Kill()
		n.g.Start()
		n.mu.Lock()
		n.down = false
		n.mu.Unlock()
	}
	close(stop)
	loadDone.Wait()
	t.Logf("%d cycles; %d webhooks answered 200 (%d failed to post while a process died)", crashCycles(), acceptedN.Load(), postErrors.Load())

	// Nothing accepted is lost: every reply goes out.
	want := map[string]string{} // "contact\x00reply" → the webhook's SID
	accepted.Range(func(k, sid any) bool {
		contact, body, _ := strings.Cut(k.(string), "\x00")
		want[contact+"\x00got "+body] = sid.(string)
		return true
	})
	drips := map[string]string{} // contact → the DRIP webhook's SID
	dripped.Range(func(k, sid any) bool { drips[k.(string)] = sid.(string); return true })
	waitForSends(t, nodes[0].g, tw, want, drips)
	// Sent once: a send a killed process had under way is looked up in
	// Twilio's log by whichever process takes it over, not sent again.
	sentN := map[string]int{}
	for _, m := range tw.Sent() {
		sentN[m.To+"\x00"+m.Body]++
	}
	for k, n := range sentN {
		if n > 1 {
			contact, body, _ := strings.Cut(k, "\x00")
			t.Errorf("%s: Twilio got %q %d times, want once", contact, body, n)
		}
	}
	// Handled once: each accepted message has one stored reply, and each
	// wait one stored outcome (a turn or timer run twice would be two).
	live := nodes[0].g
	stored := func(contact string) []Message {
		var out struct {
			Messages []Message `json:"messages"`
		}
		if code := live.Admin("GET", "/api/v1/contacts/"+url.PathEscape(contact)+"/messages?limit=100000", nil, &out); code != http.StatusOK {
			t.Fatalf("messages of %s: %d", contact, code)
		}
		return out.Messages
	}
	byContact := map[string][]string{}
	for k := range want {
		contact, body, _ := strings.Cut(k, "\x00")
		byContact[contact] = append(byContact[contact], body)
	}
	for contact, bodies := range byContact {
		counts := map[string]int{}
		for _, m := range stored(contact) {
			if m.Direction == "out" {
				counts[m.Body]++
			}
		}
		for _, body := range bodies {
			if counts[body] != 1 {
				t.Errorf("%s: %d stored replies %q, want 1", contact, counts[body], body)
			}
		}
	}
	for c := range drips {
		n := 0
		for _, m := range stored(c) {
			if m.Direction == "out" && m.Body == "after the wait" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: the wait fired %d times, want once", c, n)
		}
	}
}

// waitForSends waits until Twilio got every reply in want ("contact\x00body"
// → the SID of the webhook it answers) and the message after the wait of
// each contact in drips (→ the SID of its DRIP webhook). Past its patience
// it fails naming what did not come, and when Twilio got its last message.
func waitForSends(t *testing.T, g *Gateway, tw *fakes.Twilio, want, drips map[string]string) {
	t.Helper()
	var missing []string
	var last time.Time
	cond := func() bool {
		sent := map[string]bool{}
		for _, m := range tw.Sent() {
			sent[m.To+"\x00"+m.Body] = true
			if m.At.After(last) {
				last = m.At
			}
		}
		missing = missing[:0]
		for k, sid := range want {
			if !sent[k] {
				contact, body, _ := strings.Cut(k, "\x00")
				missing = append(missing, fmt.Sprintf("webhook %s from %s: no reply %q", sid, contact, body))
			}
		}
		for c, sid := range drips {
			if !sent[c+"\x00after the wait"] {
				missing = append(missing, fmt.Sprintf("webhook %s (DRIP) from %s: the wait did not fire", sid, c))
			}
		}
		return len(missing) == 0
	}
	const timeout = 3 * time.Minute
	deadline := time.After(timeout)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-deadline:
			if cond() {
				return
			}
			slices.Sort(missing)
			shown := missing
			if len(shown) > 50 {
				shown = shown[:50]
			}
			for i, line := range shown {
				shown[i] = line + storedAs(g, line)
			}
			t.Fatalf("after %v, %d of %d accepted webhooks got nothing (Twilio's last message came at %s):\n%s",
				timeout, len(missing), len(want)+len(drips), last.Format(time.RFC3339Nano), strings.Join(shown, "\n"))
		case <-poll.C:
		}
	}
}

// storedAs says what keyway stored of the reply a waitForSends line says is
// missing (its contact is the word after "from"), so that a failure tells
// a reply lost from one that was held back (suppressed, failed) or is still
// queued.
func storedAs(g *Gateway, line string) string {
	_, rest, _ := strings.Cut(line, " from ")
	contact, _, _ := strings.Cut(rest, ":")
	var out []string
	for _, m := range g.Messages(contact) {
		if m.Direction == "out" {
			s := fmt.Sprintf("%q %s", m.Body, m.Status)
			if m.Error != "" {
				s += " (" + m.Error + ")"
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "; keyway stored no outbound message for it"
	}
	return "; keyway stored for it: " + strings.Join(out, ", ")
}
