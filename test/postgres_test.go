package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/test/fakes"
)

// startShared starts n keyway processes on one new PostgreSQL database,
// each with its own folder and config (the same body), all sending through
// one fake Twilio. They are stopped when the test ends.
func startShared(t testing.TB, n int, body string) []*Gateway {
	t.Helper()
	return startSharedMPS(t, n, body, 0)
}

// startSharedMPS is startShared with mps set on the SMS sender number
// when it is more than 0.
func startSharedMPS(t testing.TB, n int, body string, mps int) []*Gateway {
	t.Helper()
	return startProcesses(t, n, body, mps, pgtest.NewDatabase(t))
}

// startProcesses starts n keyway processes on the database dsn, or one on
// a bbolt file when dsn is empty. On a database, process i is named
// "node<i>" (KEYWAY_INSTANCE), as a deployment names its processes: one
// started again under its name takes back the sends its last run left.
func startProcesses(t testing.TB, n int, body string, mps int, dsn string) []*Gateway {
	t.Helper()
	tw := fakes.NewTwilio(t)
	gs := make([]*Gateway, n)
	for i := range gs {
		g := &Gateway{t: t, Dir: t.TempDir(), Twilio: tw, postgres: dsn}
		g.Config = g.Dir + "/keyway.yaml"
		g.cmdArgs = []string{"--log-level", "info"}
		if dsn != "" {
			g.env = []string{fmt.Sprintf("KEYWAY_INSTANCE=node%d", i)}
		}
		// Texts without a SID get fresh ones: distinct across processes.
		g.sids.Store(int64(i+1) * 1_000_000_000)
		g.WriteConfig(body)
		if mps > 0 {
			raw, err := os.ReadFile(g.Config)
			if err != nil {
				t.Fatal(err)
			}
			sms := fmt.Sprintf("{ number: %q, channel: sms }", OurSMS)
			if !strings.Contains(string(raw), sms) {
				t.Fatalf("the harness config has no %s", sms)
			}
			raw = []byte(strings.Replace(string(raw), sms, fmt.Sprintf("{ number: %q, channel: sms, mps: %d }", OurSMS, mps), 1))
			if err := os.WriteFile(g.Config, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		g.Start()
		t.Cleanup(func() {
			g.Stop()
			if t.Failed() {
				t.Logf("keyway %d log:\n%s", i, g.Logs())
			}
		})
		gs[i] = g
	}
	return gs
}

const echoConfig = `
automations:
  - id: echo
    catch_all: true
    steps:
      - { type: reply, text: "got {{ message.body }}" }
`

// postText posts a signed inbound text and returns an error unless it gets
// 200; unlike Text it may be called from any goroutine.
func postText(g *Gateway, in Inbound) error {
	if code, body := g.PostSigned("/webhooks/twilio", g.Form(in)); code != http.StatusOK {
		return fmt.Errorf("webhook to %s answered %d: %s", g.URL, code, body)
	}
	return nil
}

// postAll posts ins, at most conc at a time, the i-th to gs[i % len(gs)],
// and fails the test on any answer but 200.
func postAll(t *testing.T, gs []*Gateway, ins []Inbound, conc int) {
	t.Helper()
	errs := make(chan error, len(ins))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, in := range ins {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs <- postText(gs[i%len(gs)], in)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// contactPhone is the phone of load contact i.
func contactPhone(i int) string { return fmt.Sprintf("+1555300%04d", i) }

// Webhooks from 200 contacts posted round-robin to two and to three
// processes on one database: each gets its reply exactly once.
func TestPostgresSharedLoadRepliesOnce(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d-processes", n), func(t *testing.T) {
			const contacts, each = 200, 5
			gs := startShared(t, n, echoConfig)
			var ins []Inbound
			for k := range each {
				for c := range contacts {
					ins = append(ins, Inbound{SID: fmt.Sprintf("SM%08d%04d", k, c), From: contactPhone(c), Body: fmt.Sprintf("m%d", k)})
				}
			}
			postAll(t, gs, ins, 16)
			gs[0].Twilio.WaitSent(t, contacts*each, 2*patience)
			// Every reply was sent; wait until nothing is queued, so that a
			// second send of any would have been made by now.
			for c := range contacts {
				gs[c%n].Settled(t, contactPhone(c))
			}
			got := map[string]int{}
			for _, m := range gs[0].Twilio.Sent() {
				got[m.To+" "+m.Body]++
			}
			for c := range contacts {
				for k := range each {
					if key := fmt.Sprintf("%s got m%d", contactPhone(c), k); got[key] != 1 {
						t.Errorf("%s: sent %d times, want once", key, got[key])
					}
				}
			}
			if sent := len(gs[0].Twilio.Sent()); sent != contacts*each {
				t.Errorf("sent %d messages, want %d", sent, contacts*each)
			}
		})
	}
}

// The same MessageSid posted to two processes at once is handled once:
// both answer 200, one reply goes out.
func TestPostgresSameMessageTwoProcesses(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, echoConfig)
	const rounds = 20
	for r := range rounds {
		in := Inbound{SID: fmt.Sprintf("SMdup%04d", r), From: contactPhone(r), Body: "once"}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, g := range gs {
			go func() { <-start; errs <- postText(g, in) }()
		}
		close(start)
		for range gs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	gs[0].Twilio.WaitSent(t, rounds, patience)
	for r := range rounds {
		gs[r%2].Settled(t, contactPhone(r))
	}
	// A marker through each process proves both finished their work.
	for i, g := range gs {
		marker := contactPhone(9000 + i)
		if err := postText(g, Inbound{SID: fmt.Sprintf("SMmark%d", i), From: marker, Body: "marker"}); err != nil {
			t.Fatal(err)
		}
		repliesTo(t, g, marker, 1)
	}
	for r := range rounds {
		if got := repliesToNow(gs[0], contactPhone(r)); len(got) != 1 {
			t.Errorf("contact %d: %d replies to one MessageSid posted twice, want 1: %q", r, len(got), got)
		}
	}
}

// Waits set by a process that is then SIGKILLed fire once, on the others.
func TestPostgresWaitsFireOnceAfterKill(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 3, dripWaitConfig)
	const contacts = 20
	for c := range contacts {
		gs[0].Text(Inbound{SID: fmt.Sprintf("SMdrip%04d", c), From: contactPhone(c), Body: "DRIP"})
	}
	// Each wait is stored (with its first reply) before the webhook is
	// answered; the first replies going out prove none of those sends is
	// left leased to the process about to die.
	for c := range contacts {
		repliesTo(t, gs[0], contactPhone(c), 1)
	}
	gs[0].Kill()
	// The waits are 2s: on a busy machine the process may have fired some
	// and claimed their sends before the kill. Those go out from another
	// process once their lease ends, as designed, so the patience here
	// covers a lease, not just the usual 30s.
	Eventually(t, sendLease+patience, "every wait fired on the surviving processes", func() bool {
		for c := range contacts {
			if count(repliesToNow(gs[1], contactPhone(c)), "after the wait") < 1 {
				return false
			}
		}
		return true
	})
	timersPassed(t, gs[1], contactPhone(8000), "DRIP", "after the wait")
	timersPassed(t, gs[2], contactPhone(8001), "DRIP", "after the wait")
	for c := range contacts {
		gs[1].Settled(t, contactPhone(c))
		if got := repliesToNow(gs[1], contactPhone(c)); count(got, "after the wait") != 1 || count(got, "first") != 1 {
			t.Errorf("contact %d got %q, want first and after the wait once each", c, got)
		}
	}
}

var tickRan = regexp.MustCompile(`"tick":"([^"]+)"[^\n]*"message":"schedule: tick ran"`)

// A scheduled tick with three processes on one database runs once: no
// tick is logged as run by two of them, and no member gets more deals than
// there were ticks.
func TestPostgresScheduledTickRunsOnce(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 3, broadcastConfig)
	const members = 5
	for c := range members {
		gs[c%3].Text(Inbound{SID: fmt.Sprintf("SMjoin%04d", c), From: contactPhone(c), Body: "JOIN"})
	}
	Eventually(t, 2*patience, "three ticks reached every member", func() bool {
		for c := range members {
			if count(repliesToNow(gs[0], contactPhone(c)), "deal of the moment") < 3 {
				return false
			}
		}
		return true
	})
	for _, g := range gs {
		g.Stop()
	}
	ticks := map[string]int{}
	for i, g := range gs {
		for _, m := range tickRan.FindAllStringSubmatch(g.Logs(), -1) {
			ticks[m[1]]++
			t.Logf("process %d ran tick %s", i, m[1])
		}
	}
	for tick, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s ran %d times", tick, n)
		}
	}
	for c := range members {
		if got := count(repliesToNow(gs[0], contactPhone(c)), "deal of the moment"); got > len(ticks) {
			t.Errorf("member %d got %d deals from %d ticks", c, got, len(ticks))
		}
	}
}

// mps holds for a sender number across processes: 20 replies from one
// number at mps 2, asked of two processes at once, go out in slots half a
// second apart, the first no sooner than the webhooks were posted, so the
// last at least 9.5 s after; two processes pacing alone would be done in
// half that.
func TestPostgresMPSAcrossProcesses(t *testing.T) {
	t.Parallel()
	gs := startSharedMPS(t, 2, echoConfig, 2)
	const sends = 20
	var ins []Inbound
	for c := range sends {
		ins = append(ins, Inbound{SID: fmt.Sprintf("SMmps%04d", c), From: contactPhone(c), Body: "rate"})
	}
	start := time.Now()
	postAll(t, gs, ins, sends)
	sent := gs[0].Twilio.WaitSent(t, sends, 3*patience)
	last := start
	for _, m := range sent {
		if m.At.After(last) {
			last = m.At
		}
	}
	t.Logf("%d sends at mps 2 from two processes: the last %v after the webhooks", sends, last.Sub(start))
	if took := last.Sub(start); took < 9*time.Second {
		t.Errorf("%d sends at mps 2 from two processes: the last went %v after the webhooks, want at least 9s", sends, took)
	}
}

var configHash = regexp.MustCompile(`(?m)^keyway_config_info\{hash="([0-9a-f]+)"\} 1$`)

// configHashes returns the config hash a process shows in /metrics and in
// the admin API.
func configHashes(t *testing.T, g *Gateway) (metrics, api string) {
	t.Helper()
	body := scrape(t, g)
	m := configHash.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("/metrics has %d keyway_config_info lines, want 1:\n%s", len(m), body)
	}
	var out struct {
		ConfigHash string `json:"config_hash"`
	}
	if code := g.Admin("GET", "/api/v1/automations", nil, &out); code != http.StatusOK {
		t.Fatalf("GET /api/v1/automations: %d", code)
	}
	return m[0][1], out.ConfigHash
}

// Processes that share a database show the hash of the config file they
// run, so that one running another file stands out.
func TestPostgresConfigHashShowsAStaleProcess(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, echoConfig)
	raw, err := os.ReadFile(gs[0].Config)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	want := hex.EncodeToString(sum[:])
	for i, g := range gs {
		if m, api := configHashes(t, g); m != want || api != want {
			t.Errorf("process %d shows hash %s in /metrics and %s in the API, want %s", i, m, api, want)
		}
	}
	// The first process gets a new file; the second still runs the old.
	gs[0].WriteConfig(echoConfig + "\n# changed\n")
	raw, err = os.ReadFile(gs[0].Config)
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(raw)
	changed := hex.EncodeToString(sum[:])
	Eventually(t, patience, "the first process shows the new file's hash", func() bool {
		m, api := configHashes(t, gs[0])
		return m == changed && api == changed
	})
	if m, api := configHashes(t, gs[1]); m != want || api != want {
		t.Errorf("the process on the old file shows %s and %s, want the old hash %s", m, api, want)
	}
}
