package events_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// verify checks a Standard Webhooks signature by hand, apart from the
// library the worker signs with: HMAC-SHA256 of "id.timestamp.body" with
// the base64-decoded secret, base64, after "v1,".
func verify(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return
		}
	}
	t.Errorf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
}

// The library signs the published example of the Standard Webhooks
// specification to its published signature, and the hand verifier
// agrees.
func TestSignatureMatchesThePublishedVector(t *testing.T) {
	const id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hook.Sign(id, time.Unix(ts, 0), []byte(body))
	if err != nil || got != want {
		t.Fatalf("signature %q (%v), want %q", got, err, want)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.Itoa(ts))
	h.Set("webhook-signature", got)
	verify(t, secret, h, []byte(body))
}

// post is one request the receiver got.
type post struct {
	header http.Header
	body   []byte
}

// receiver is a local endpoint that answers each request with the next
// status of its script (200 once the script is used up), and records
// every request.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	// failOnce holds webhook ids answered 500 the first time they come,
	// whatever else arrives before them.
	failOnce map[string]bool
	posts    []post
}

// failFirst has r answer 500 to the first post of the event id.
func (r *receiver) failFirst(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOnce == nil {
		r.failOnce = map[string]bool{}
	}
	r.failOnce[id] = true
}

func newReceiver(t testing.TB, script ...int) *receiver {
	r := &receiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, post{req.Header.Clone(), body})
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		if id := req.Header.Get("webhook-id"); r.failOnce[id] {
			delete(r.failOnce, id)
			status = http.StatusInternalServerError
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// fixture is a worker over a memory store on a fake clock, posting to
// the endpoints of cfg, with the results it told counted.
type fixture struct {
	store   *mem.MemStore
	clock   *engine.FakeClock
	cfg     *config.Config
	worker  *events.Worker
	mu      sync.Mutex
	results []string
}

var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func newFixture(t testing.TB, cfg *config.Config, client *http.Client) *fixture {
	f := &fixture{store: mem.NewMemStore(), clock: engine.NewFakeClock(t0), cfg: cfg}
	f.worker = events.New(events.Options{
		Store: f.store, Config: func() *config.Config { return f.cfg }, Client: client, Clock: f.clock,
		Logger: zerolog.Nop(), Owner: "test", Backoff: 5 * time.Second, MaxBackoff: time.Hour,
		OnResult: func(endpoint, result string) {
			f.mu.Lock()
			f.results = append(f.results, result)
			f.mu.Unlock()
		},
	})
	return f
}

// add stores an event of typ about contact for every endpoint, now.
func (f *fixture) add(t *testing.T, typ engine.EventType, contact string, data map[string]any) []*engine.EventDelivery {
	t.Helper()
	n := 0
	ds, err := engine.NewEventDeliveries(f.cfg, f.clock.Now(), func() string { n++; return fmt.Sprintf("%d%04d", f.clock.Now().UnixNano(), n) }, typ, contact, data)
	if err != nil {
		t.Fatal(err)
	}
	err = f.store.Update(t.Context(), func(tx engine.Tx) error {
		for _, d := range ds {
			if err := tx.AddEvent(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Millisecond) // ids and times apart
	return ds
}

func (f *fixture) pass(t *testing.T) int {
	t.Helper()
	n, err := f.worker.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) stored(t *testing.T, id string) *engine.EventDelivery {
	t.Helper()
	var d *engine.EventDelivery
	err := f.store.View(t.Context(), func(tx engine.Tx) error {
		var err error
		d, err = tx.EventDelivery(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func endpointConfig(urls ...string) *config.Config {
	cfg := &config.Config{}
	for _, u := range urls {
		cfg.Events = append(cfg.Events, config.EventEndpoint{URL: u, Secret: secret})
	}
	return cfg
}

// A receiver answering 500 twice then 200 gets the same event thrice,
// with the same webhook-id and body, each attempt signed for its own
// timestamp; the retries wait a backoff that doubles, with jitter.
func TestRetriesKeepTheWebhookID(t *testing.T) {
	r := newReceiver(t, 500, 500, 200)
	f := newFixture(t, endpointConfig(r.URL+"/hook?key=k"), r.Client())
	d := f.add(t, engine.EventContactOptedOut, "+15550001", map[string]any{"reason": "opted out"})[0]
	var waits []time.Duration
	for f.stored(t, d.ID).Status == engine.EventPending {
		if len(r.got()) > 5 {
			t.Fatalf("%d attempts, want 3", len(r.got()))
		}
		if f.pass(t) != 1 {
			t.Fatalf("claimed nothing at %s; stored %+v", f.clock.Now(), f.stored(t, d.ID))
		}
		if s := f.stored(t, d.ID); s.Status == engine.EventPending {
			waits = append(waits, s.Due.Sub(f.clock.Now()))
			if f.pass(t) != 0 {
				t.Fatal("the event was claimed again before its retry was due")
			}
			f.clock.Set(s.Due)
		}
	}
	posts := r.got()
	if len(posts) != 3 {
		t.Fatalf("%d posts, want 3", len(posts))
	}
	for i, p := range posts {
		if p.header.Get("webhook-id") != d.ID || string(p.body) != string(d.Body) || p.header.Get("Content-Type") != "application/json" {
			t.Errorf("post %d: id %q body %s, want %q and the stored body", i, p.header.Get("webhook-id"), p.body, d.ID)
		}
		verify(t, secret, p.header, p.body)
	}
	if posts[2].header.Get("webhook-timestamp") == posts[0].header.Get("webhook-timestamp") {
		t.Error("the retry carries the first attempt's timestamp; each attempt is signed when made")
	}
	if len(waits) != 2 || waits[0] < 3750*time.Millisecond || waits[0] > 6250*time.Millisecond || waits[1] < 7500*time.Millisecond || waits[1] > 12500*time.Millisecond {
		t.Errorf("waits before the retries %v, want 5s then 10s, each ±25%%", waits)
	}
	if s := f.stored(t, d.ID); s.Status != engine.EventDelivered || s.Attempts != 3 || !s.SettledAt.Equal(f.clock.Now()) {
		t.Errorf("stored %+v, want delivered after 3 attempts", s)
	}
	if want := []string{events.ResultRetrying, events.ResultRetrying, events.ResultDelivered}; !slices.Equal(f.results, want) {
		t.Errorf("results %q, want %q", f.results, want)
	}
}

// An event that no attempt delivers is retried until a day after it was
// made, the last try at the day's end, then marked failed; the next event
// of the contact then goes.
func TestFailedAfterTheRetryPeriod(t *testing.T) {
	r := newReceiver(t, slices.Repeat([]int{503}, 100)...)
	f := newFixture(t, endpointConfig(r.URL), r.Client())
	first := f.add(t, engine.EventMessageReceived, "+15550001", nil)[0]
	second := f.add(t, engine.EventMessageReceived, "+15550001", nil)[0]
	for f.stored(t, first.ID).Status == engine.EventPending {
		if f.pass(t) == 0 {
			t.Fatalf("claimed nothing at %s", f.clock.Now())
		}
		if s := f.stored(t, first.ID); s.Status == engine.EventPending {
			f.clock.Set(s.Due)
		}
	}
	s := f.stored(t, first.ID)
	last := first.CreatedAt.Add(events.DefaultRetryFor)
	if s.Status != engine.EventFailed || !s.SettledAt.Equal(last) || s.LastError != "answered 503" {
		t.Fatalf("stored %+v, want failed at %s after a 503", s, last)
	}
	if s.Attempts < 10 || s.Attempts > 40 {
		t.Errorf("%d attempts in a day; want the backoff to double up to an hour", s.Attempts)
	}
	for _, p := range r.got() {
		if p.header.Get("webhook-id") != first.ID {
			t.Fatalf("posted %s before the first event was settled", p.header.Get("webhook-id"))
		}
	}
	r.mu.Lock()
	r.script = nil
	r.mu.Unlock()
	if f.pass(t) != 1 || f.stored(t, second.ID).Status != engine.EventDelivered {
		t.Fatalf("the second event after the first failed: %+v", f.stored(t, second.ID))
	}
	if f.results[len(f.results)-2] != events.ResultFailed {
		t.Errorf("results end %q, want failed then delivered", f.results[len(f.results)-2:])
	}
}

// Events of one contact to one endpoint go one at a time, in the order
// they were stored, whatever the others do; other contacts and other
// endpoints do not wait for them.
func TestOrderPerContactAndEndpoint(t *testing.T) {
	r := newReceiver(t)
	other := newReceiver(t)
	f := newFixture(t, endpointConfig(r.URL+"/a", other.URL+"/b"), nil)
	f.worker = events.New(events.Options{Store: f.store, Config: func() *config.Config { return f.cfg }, Client: http.DefaultClient,
		Clock: f.clock, Logger: zerolog.Nop(), Owner: "test", Workers: 1})
	var ids []string
	for i := range 3 {
		ds := f.add(t, engine.EventMessageReceived, "+15550001", map[string]any{"n": i})
		ids = append(ids, ds[0].ID)
	}
	otherContact := f.add(t, engine.EventMessageReceived, "+15550002", nil)
	// The contact's first event fails once at /a, whichever of the
	// posts of a pass (they go several at a time) reaches it first.
	r.failFirst(ids[0])
	for f.pass(t) > 0 || f.stored(t, ids[2]).Status == engine.EventPending {
		if s := f.stored(t, ids[0]); s.Status == engine.EventPending && s.Owner == "" && s.Due.After(f.clock.Now()) {
			f.clock.Set(s.Due)
		}
	}
	var toA []string
	for _, p := range r.got() {
		if p.header.Get("webhook-id") != otherContact[0].ID {
			toA = append(toA, p.header.Get("webhook-id"))
		}
	}
	if want := []string{ids[0], ids[0], ids[1], ids[2]}; !slices.Equal(toA, want) {
		t.Fatalf("the contact's events reached /a as %q, want %q (the first retried before the rest)", toA, want)
	}
	if got := other.got(); len(got) != 4 {
		t.Fatalf("/b got %d events, want all 4", len(got))
	}
}

// Event URLs go through the http steps' address guard: a loopback
// receiver is refused (and retried, as a reload may allow it) until
// http.allow_private allows it.
func TestAddressGuardAppliesToEventURLs(t *testing.T) {
	r := newReceiver(t)
	f := newFixture(t, endpointConfig(r.URL), nil)
	d := f.add(t, engine.EventContactOptedIn, "+15550001", nil)[0]
	f.pass(t)
	s := f.stored(t, d.ID)
	if s.Status != engine.EventPending || !strings.Contains(s.LastError, "prohibited") || len(r.got()) != 0 {
		t.Fatalf("stored %+v, receiver got %d; want it refused by the guard and pending", s, len(r.got()))
	}
	f.cfg.HTTP.AllowPrivate = true
	f.clock.Set(s.Due)
	f.pass(t)
	if s := f.stored(t, d.ID); s.Status != engine.EventDelivered || len(r.got()) != 1 {
		t.Fatalf("with allow_private: stored %+v, receiver got %d", s, len(r.got()))
	}
}

// An endpoint removed from the config (a reload) fails its pending events
// at once rather than retrying them for a day.
func TestEndpointRemovedFailsItsEvents(t *testing.T) {
	r := newReceiver(t)
	f := newFixture(t, endpointConfig(r.URL), r.Client())
	d := f.add(t, engine.EventContactOptedIn, "+15550001", nil)[0]
	f.cfg = endpointConfig(r.URL + "/elsewhere")
	f.pass(t)
	if s := f.stored(t, d.ID); s.Status != engine.EventFailed || !strings.Contains(s.LastError, "no longer") {
		t.Fatalf("stored %+v, want it failed: the endpoint is gone", s)
	}
}

// Endpoint names an endpoint without what may hold a key.
func TestEndpointLeavesOutKeys(t *testing.T) {
	if got := events.Endpoint("https://user:pw@crm.example.com:8443/hooks/keyway?key=s3cret#x"); got != "https://crm.example.com:8443/hooks/keyway" {
		t.Fatalf("Endpoint: %q", got)
	}
}

// A worker started again under the owner name of one that died while
// posting takes back that one's events at once, rather than when their
// leases run out, and leaves another process's alone.
func TestRecoverTakesBackOwnEventsAtOnce(t *testing.T) {
	r := newReceiver(t)
	f := newFixture(t, endpointConfig(r.URL), r.Client())
	mine := f.add(t, engine.EventContactOptedOut, "+15550001", nil)[0]
	claim := func(owner string) {
		t.Helper()
		err := f.store.Update(t.Context(), func(tx engine.Tx) error {
			_, err := tx.ClaimEvents(f.clock.Now(), time.Minute, owner, 10)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	claim("test") // the last run under this name, killed mid-post
	theirs := f.add(t, engine.EventContactOptedOut, "+15550002", nil)[0]
	claim("other") // a live process's post under way
	if n := f.pass(t); n != 0 {
		t.Fatalf("claimed %d under the leases", n)
	}
	f.worker.Recover(t.Context())
	if n := f.pass(t); n != 1 {
		t.Fatalf("claimed %d after Recover, want this owner's one event", n)
	}
	posts := r.got()
	if len(posts) != 1 || posts[0].header.Get("webhook-id") != mine.ID {
		t.Fatalf("posted %d, want %s alone", len(posts), mine.ID)
	}
	if s := f.stored(t, mine.ID); s.Status != engine.EventDelivered {
		t.Errorf("stored %+v, want it delivered", s)
	}
	if s := f.stored(t, theirs.ID); s.Status != engine.EventPending || s.Owner != "other" {
		t.Errorf("the other process's event: %+v, want it pending under its lease", s)
	}
}
