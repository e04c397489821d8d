package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// claimFor claims up to limit due sends for owner, as another process would.
func claimFor(t *testing.T, store engine.Store, now time.Time, owner string, limit int) []string {
	t.Helper()
	var ids []string
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		var err error
		ids, err = tx.ClaimSends(now, time.Minute, owner, limit)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func stored(t *testing.T, store engine.Store, id string) *engine.Message {
	t.Helper()
	return viewed(t, store, func(tx engine.Tx) (*engine.Message, error) { return tx.Message(id) })
}

// viewed returns what read reads in a View of store, failing t on an error.
func viewed[T any](t *testing.T, store engine.Store, read func(tx engine.Tx) (T, error)) T {
	t.Helper()
	var v T
	err := store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		v, err = read(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sentTo(tx *recordingTexter, to string) bool {
	sent, _ := tx.snapshot()
	return slices.ContainsFunc(sent, func(o providers.Outbound) bool { return o.To == to })
}

// A send another process claimed, and then died with, waits for its lease
// to end; then it is sent, once. Other recipients do not wait for it.
func TestOutboxWaitsForAnotherOwnersLease(t *testing.T) {
	store := mem.NewMemStore()
	clock := engine.NewFakeClock(time.Now())
	queue(t, store,
		&engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "leased"},
		&engine.Message{ID: "m2", From: "+15005550006", To: []string{"+15550000002"}, Body: "free"},
	)
	if got := claimFor(t, store, clock.Now(), "dead", 1); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("the other process claimed %v, want [m1]", got)
	}
	tx := &recordingTexter{}
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Clock: clock, Owner: "alive"})
	waitFor(t, "the send nobody holds", func() bool { return sentTo(tx, "+15550000002") })
	if sentTo(tx, "+15550000001") {
		t.Fatal("sent a message while another owner's lease on it held")
	}
	clock.Advance(time.Minute)
	ob.Wake()
	waitFor(t, "the send whose lease ended", func() bool { return sentTo(tx, "+15550000001") })
	waitFor(t, "its outcome recorded", func() bool { return stored(t, store, "m1").Status == engine.StatusSent })
	if m := stored(t, store, "m1"); m.Attempts != 1 {
		t.Errorf("m1 recorded after %d attempts, want 1", m.Attempts)
	}
}

// A process started again under its name takes back at once the sends it
// had claimed when it died: it does not wait for its own leases to end.
func TestOutboxTakesBackItsOwnLeasesAtStart(t *testing.T) {
	store := mem.NewMemStore()
	clock := engine.NewFakeClock(time.Now()) // frozen: no lease ever ends
	queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "was under way"})
	if got := claimFor(t, store, clock.Now(), "me", 1); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("claimed %v, want [m1]", got)
	}
	tx := &recordingTexter{}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Clock: clock, Owner: "me"})
	waitFor(t, "the send claimed before the restart", func() bool { return sentTo(tx, "+15550000001") })
}

// Two outboxes on one store, as two processes would be, send every
// message once, and each recipient's messages in order.
func TestOutboxesSharingAStoreSendOnceInOrder(t *testing.T) {
	store := mem.NewMemStore()
	const recipients, each = 20, 10
	var msgs []*engine.Message
	for k := range each {
		for r := range recipients {
			msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%02d%02d", k, r), From: "+15005550006",
				To: []string{fmt.Sprintf("+1555000%04d", r)}, Body: strconv.Itoa(k)})
		}
	}
	queue(t, store, msgs...)
	tx := &recordingTexter{fail: 15} // some retries, which must keep the order too
	a := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Owner: "a", Workers: 4, Backoff: time.Millisecond})
	b := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Owner: "b", Workers: 4, Backoff: time.Millisecond})
	a.Wake()
	b.Wake()
	waitFor(t, "every message sent", func() bool { s, _ := tx.snapshot(); return len(s) >= recipients*each })
	waitFor(t, "the outbox empty", func() bool {
		var ids []string
		_ = store.View(context.Background(), func(tx engine.Tx) error {
			var err error
			ids, err = tx.Outbox("", 0)
			return err
		})
		return len(ids) == 0
	})
	sent, _ := tx.snapshot()
	if len(sent) != recipients*each {
		t.Fatalf("%d sends for %d messages", len(sent), recipients*each)
	}
	seen := map[string]bool{}
	next := map[string]int{}
	for _, s := range sent {
		if seen[s.ID] {
			t.Fatalf("%s sent twice", s.ID)
		}
		seen[s.ID] = true
		if want := strconv.Itoa(next[s.To]); s.Body != want {
			t.Fatalf("to %s: sent message %s after %d, want %s", s.To, s.Body, next[s.To], want)
		}
		next[s.To]++
	}
	for _, m := range msgs {
		if got := stored(t, store, m.ID); got.Status != engine.StatusSent {
			t.Errorf("%s is %s", m.ID, got.Status)
		}
	}
}

// blockingTexter holds every send until release is closed.
type blockingTexter struct {
	started chan string
	release chan struct{}
}

func (b *blockingTexter) Send(_ context.Context, m providers.Outbound) (string, error) {
	b.started <- m.ID
	<-b.release
	return "SM" + m.ID, nil
}

// syncBuffer is a log sink that goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Stopping waits for the sends under way and records them.
func TestOutboxStopRecordsSendsUnderWay(t *testing.T) {
	store := mem.NewMemStore()
	queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "in flight"})
	tx := &blockingTexter{started: make(chan string, 1), release: make(chan struct{})}
	logs := &syncBuffer{}
	ob := outbox.NewOutbox(outbox.OutboxOptions{Store: store, Texter: tx, Logger: zerolog.New(logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	select {
	case <-tx.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the send never started")
	}
	cancel()
	waitFor(t, "the outbox stopping", func() bool { return strings.Contains(logs.String(), `"sends":1,"message":"outbox: stopping`) })
	select {
	case <-done:
		t.Fatal("Run returned with a send under way")
	default:
	}
	close(tx.release)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return once the send ended")
	}
	if m := stored(t, store, "m1"); m.Status != engine.StatusSent || m.ProviderID != "SMm1" {
		t.Fatalf("after stopping, m1 = %s (%q), want sent", m.Status, m.ProviderID)
	}
}

// A text waiting for its sender's rate takes no worker: with one worker,
// another number's send goes while it waits.
func TestOutboxRateWaitTakesNoWorker(t *testing.T) {
	store := mem.NewMemStore()
	queue(t, store,
		&engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "slow 1"},
		&engine.Message{ID: "m2", From: "+15005550006", To: []string{"+15550000002"}, Body: "slow 2"},
		&engine.Message{ID: "m3", From: "+15005550006", To: []string{"+15550000003"}, Body: "slow 3"},
		&engine.Message{ID: "m4", From: "+15005550007", To: []string{"+15550000004"}, Body: "fast"},
	)
	tx := &recordingTexter{}
	start := time.Now()
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Workers: 1, MPS: map[string]float64{"+15005550006": 1}})
	waitFor(t, "4 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 4 })
	sent, at := tx.snapshot()
	if sent[1].Body != "fast" {
		t.Errorf("sends went %v: the other number's send waited behind the rate-limited ones", sentBodies(sent))
	}
	// The 3 from the limited number keep to 1 per second: the first token
	// is taken no sooner than the start and the third 2s after it, so the
	// third send comes at least 2s after the start however slow the
	// machine (measured from the first send, a slow first send shortened
	// the span).
	var last time.Time
	for i, s := range sent {
		if s.From == "+15005550006" {
			last = at[i]
		}
	}
	if took := last.Sub(start); took < 2*time.Second {
		t.Errorf("3 sends at mps 1 took %v from the start, want at least 2s", took)
	}
}

func sentBodies(sent []providers.Outbound) []string {
	var out []string
	for _, s := range sent {
		out = append(out, s.Body)
	}
	return out
}
