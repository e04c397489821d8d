package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// errDiskFull is the fault faultyStore injects.
var errDiskFull = errors.New("write keyway.db: no space left on device")

// faultyStore is a store whose commits fail while failing is set, as they
// do on a full disk, and which tracks its health as a real store does.
type faultyStore struct {
	engine.Store
	failing atomic.Bool
	probes  atomic.Int64
	health  engine.CommitHealth
}

func newFaultyStore(clock engine.Clock) *faultyStore {
	s := &faultyStore{Store: mem.NewMemStore()}
	s.health = engine.CommitHealth{Clock: clock, Probe: func(ctx context.Context) error {
		s.probes.Add(1)
		return s.Update(ctx, func(tx engine.Tx) error { return tx.PutMeta("health_probe", []byte("1")) })
	}}
	return s
}

func (s *faultyStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if s.failing.Load() {
		s.health.Failed(errDiskFull)
		return fmt.Errorf("store: commit: %w", errDiskFull)
	}
	return s.Store.Update(ctx, fn)
}

func (s *faultyStore) Healthy(ctx context.Context) error {
	if err := s.Store.Healthy(ctx); err != nil {
		return err
	}
	return s.health.Check(ctx)
}

// A node whose commits fail says so on /readyz (503 with the reason) while
// webhooks get 500, probes at most once a second, and is ready again by
// itself once commits succeed.
func TestReadyzFollowsStorageCommits(t *testing.T) {
	clock := engine.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := newFaultyStore(clock)
	g := readyGateway(t, st)

	ready := func(t *testing.T) (int, map[string]any) {
		t.Helper()
		res, err := g.app.Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatalf("readyz body: %v", err)
		}
		return res.StatusCode, body
	}
	webhook := func(t *testing.T, sid string) int {
		t.Helper()
		form := url.Values{"MessageSid": {sid}, "AccountSid": {"AC1"}, "From": {"+15551230001"}, "To": {"+15005550006"}, "Body": {"hello"}}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/twilio", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := g.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	if code, body := ready(t); code != http.StatusOK || body["ready"] != true {
		t.Fatalf("healthy: readyz %d %v, want 200 ready", code, body)
	}
	if code := webhook(t, "SM0001"); code != http.StatusOK {
		t.Fatalf("healthy: webhook %d, want 200", code)
	}

	st.failing.Store(true)
	if code := webhook(t, "SM0002"); code != http.StatusInternalServerError {
		t.Fatalf("disk full: webhook %d, want 500", code)
	}
	code, body := ready(t)
	if code != http.StatusServiceUnavailable || body["ready"] != false || !strings.Contains(fmt.Sprint(body["storage"]), "no space left on device") {
		t.Fatalf("disk full: readyz %d %v, want 503 naming the storage fault", code, body)
	}

	// The disk has room again, but less than a second passed since the
	// last probe: readyz answers from it without probing again.
	st.failing.Store(false)
	probes := st.probes.Load()
	for range 10 {
		if code, body := ready(t); code != http.StatusServiceUnavailable {
			t.Fatalf("within a second of a failed probe: readyz %d %v, want 503", code, body)
		}
	}
	if n := st.probes.Load() - probes; n != 0 {
		t.Errorf("%d probes within a second of the last, want 0", n)
	}

	clock.Advance(engine.DefaultProbeEvery)
	if code, body := ready(t); code != http.StatusOK || body["ready"] != true || body["storage"] != nil {
		t.Fatalf("recovered: readyz %d %v, want 200 ready", code, body)
	}
	if code := webhook(t, "SM0002"); code != http.StatusOK {
		t.Errorf("recovered: the retried webhook got %d, want 200", code)
	}
}

// readyGateway builds a gateway in dev mode over st, serving as Run would
// but without listening: requests go through g.app.Test.
func readyGateway(t *testing.T, st engine.Store) *Gateway {
	t.Helper()
	g := devGateway(t, st, "")
	t.Cleanup(func() { st.Close() })
	g.ready.Store(true)
	return g
}

// helloConfig is a dev-mode config with one keyword automation, HELLO.
const helloConfig = `
providers:
  twilio:
    numbers: [{ number: "+15005550006" }]
automations:
  - id: hello
    keywords: [HELLO]
    steps:
      - { type: reply, text: "hi" }
`

// devGateway builds, over st, a gateway in dev mode on helloConfig, with
// the server section given (e.g. its listen address) when not empty.
func devGateway(t *testing.T, st engine.Store, server string) *Gateway {
	t.Helper()
	cfg, set := compiled(t, server+helloConfig)
	log := zerolog.Nop()
	provider, err := twilio.New(cfg.Providers.Twilio, cfg.Defaults.Region, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Path: "keyway.yaml", Config: cfg, Set: set, Store: st, Providers: []providers.Provider{provider}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
