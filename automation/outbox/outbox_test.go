package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// recordingTexter records sends and fails the first `fail` of them. When
// set, onSend is called at the start of each send.
type recordingTexter struct {
	mu     sync.Mutex
	sent   []providers.Outbound
	at     []time.Time
	fail   int
	onSend func(providers.Outbound)
}

func (r *recordingTexter) Send(_ context.Context, m providers.Outbound) (string, error) {
	if r.onSend != nil {
		r.onSend(m)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return "", &providers.SendError{Status: 503, Retryable: true, Err: errors.New("down")}
	}
	r.sent = append(r.sent, m)
	r.at = append(r.at, time.Now())
	return "SM" + m.ID, nil
}

func (r *recordingTexter) snapshot() ([]providers.Outbound, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]providers.Outbound(nil), r.sent...), append([]time.Time(nil), r.at...)
}

// queue stores and enqueues outbound texts as the engine would.
func queue(t *testing.T, store engine.Store, msgs ...*engine.Message) {
	t.Helper()
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		for _, m := range msgs {
			m.Direction, m.Kind, m.Status, m.Purpose = engine.Outbound, engine.KindText, engine.StatusQueued, engine.PurposeForward
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runOutbox(t *testing.T, o outbox.OutboxOptions) *outbox.Outbox {
	t.Helper()
	o.Logger = zerolog.Nop()
	ob := outbox.NewOutbox(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ob
}

// waitFor polls cond every 10ms; it fails the test if cond does not hold
// within 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-deadline:
			if cond() {
				return
			}
			t.Fatalf("gave up waiting for %s", what)
		case <-poll.C:
		}
	}
}

// status returns the stored status of message id ("" if it cannot be read).
func status(store engine.Store, id string) engine.MessageStatus {
	var st engine.MessageStatus
	_ = store.View(context.Background(), func(tx engine.Tx) error {
		if m, err := tx.Message(id); err == nil {
			st = m.Status
		}
		return nil
	})
	return st
}

// Sends from one number keep to its mps. The bound is measured from before
// the outbox starts, not from the first send: the first token is taken no
// sooner than that, and each later one 1/mps after the one before, so the
// last send cannot come sooner however slow the machine. (From the first
// send, a first send slow to reach the texter shortened the span: 939 ms.)
func TestOutboxKeepsToMPS(t *testing.T) {
	store := mem.NewMemStore()
	tx := &recordingTexter{}
	var msgs []*engine.Message
	for i, to := range []string{"+15550000001", "+15550000002", "+15550000003", "+15550000004", "+15550000005"} {
		msgs = append(msgs, &engine.Message{ID: "m" + string(rune('a'+i)), From: "+15005550006", To: []string{to}, Contact: to, Body: "hi"})
	}
	queue(t, store, msgs...)
	start := time.Now()
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, MPS: map[string]float64{"+15005550006": 4}})
	ob.Wake()
	waitFor(t, "5 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 5 })
	_, at := tx.snapshot()
	// 5 sends at 4 per second, burst 1: the fifth token is 4 gaps of 250ms
	// after the first.
	if took := at[4].Sub(start); took < time.Second {
		t.Fatalf("5 sends at mps 4 took %v from the start, want at least 1s", took)
	}
}

// Sends to one recipient go in order, even when the first needs retries.
func TestOutboxKeepsOrderPerRecipientThroughRetries(t *testing.T) {
	store := mem.NewMemStore()
	tx := &recordingTexter{fail: 2}
	queue(t, store,
		&engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "first"},
		&engine.Message{ID: "m2", From: "+15005550006", To: []string{"+15550000001"}, Body: "second"},
		&engine.Message{ID: "m3", From: "+15005550006", To: []string{"+15550000001"}, Body: "third"},
	)
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Backoff: 20 * time.Millisecond})
	ob.Wake()
	waitFor(t, "3 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 3 })
	// The last send's result is recorded after the provider took it.
	waitFor(t, "the outbox empty", func() bool {
		return len(viewed(t, store, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", 10) })) == 0
	})
	sent, _ := tx.snapshot()
	for i, want := range []string{"first", "second", "third"} {
		if sent[i].Body != want {
			t.Fatalf("send %d = %q, want %q", i, sent[i].Body, want)
		}
	}
	err := store.View(context.Background(), func(tx engine.Tx) error {
		m, err := tx.Message("m1")
		if err != nil {
			return err
		}
		if m.Status != engine.StatusSent || m.Attempts != 3 || m.ProviderID != "SMm1" {
			t.Errorf("m1 = %s after %d attempts (%s)", m.Status, m.Attempts, m.ProviderID)
		}
		ids, err := tx.Outbox("", 10)
		if len(ids) != 0 {
			t.Errorf("outbox still holds %v", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A permanent error is recorded and not retried; the next message goes on.
func TestOutboxRecordsPermanentErrors(t *testing.T) {
	store := mem.NewMemStore()
	perm := &permanentTexter{}
	// m2 goes to the same recipient: the outbox sends it only once m1 is
	// neither queued nor under way, so once m2 is done a retry of m1 would
	// have shown.
	queue(t, store,
		&engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "x"},
		&engine.Message{ID: "m2", From: "+15005550006", To: []string{"+15550000001"}, Body: "y"},
	)
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: perm})
	ob.Wake()
	waitFor(t, "the failure recorded", func() bool {
		failed := false
		_ = store.View(context.Background(), func(tx engine.Tx) error {
			m, err := tx.Message("m1")
			failed = err == nil && m.Status == engine.StatusFailed && m.ErrorCode == 21211
			return nil
		})
		return failed
	})
	waitFor(t, "the next message to the recipient done", func() bool { return status(store, "m2") == engine.StatusFailed })
	if n := perm.calls(); n != 2 {
		t.Fatalf("%d sends for 2 messages: a permanent error was retried", n)
	}
}

type permanentTexter struct {
	mu sync.Mutex
	n  int
}

func (p *permanentTexter) Send(context.Context, providers.Outbound) (string, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return "", &providers.SendError{Status: 400, Code: 21211, Err: errors.New("invalid To")}
}

func (p *permanentTexter) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// A queued id whose message cannot be read is taken out of the queue and
// does not hold up the messages after it, to the same recipient.
func TestOutboxTakesOutUnreadableMessages(t *testing.T) {
	store := mem.NewMemStore()
	ghost := &engine.Message{ID: "m0", Kind: engine.KindText, To: []string{"+15550000001"}} // never stored
	if err := store.Update(context.Background(), func(tx engine.Tx) error { return tx.Enqueue(ghost) }); err != nil {
		t.Fatal(err)
	}
	queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15550000001"}, Body: "after the ghost"})
	tx := &recordingTexter{}
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx})
	ob.Wake()
	waitFor(t, "the readable message sent", func() bool { s, _ := tx.snapshot(); return len(s) == 1 })
	waitFor(t, "the unreadable id taken out", func() bool {
		var ids []string
		_ = store.View(context.Background(), func(tx engine.Tx) error {
			var err error
			ids, err = tx.Outbox("", 10)
			return err
		})
		return len(ids) == 0
	})
}
