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

// logTexter is a provider with a message log: Send appends to it, and
// FindSent reads it. loseAnswers sends are taken but answered with a network
// error; findFails lookups fail.
type logTexter struct {
	mu          sync.Mutex
	log         []logged
	sends       int
	lookups     int
	loseAnswers int
	findFails   int
}

type logged struct {
	sid, to, from, body string
	at                  time.Time
}

func (l *logTexter) Send(_ context.Context, m providers.Outbound) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sends++
	sid := "SM" + m.ID + "-" + string(rune('0'+l.sends))
	l.log = append(l.log, logged{sid: sid, to: m.To, from: m.From, body: m.Body, at: time.Now()})
	if l.loseAnswers > 0 {
		l.loseAnswers--
		return "", &providers.SendError{Retryable: true, Err: errors.New("connection reset by peer")}
	}
	return sid, nil
}

func (l *logTexter) FindSent(_ context.Context, m providers.Outbound, since time.Time) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lookups++
	if l.findFails > 0 {
		l.findFails--
		return nil, errors.New("list messages: 503")
	}
	var ids []string
	for _, r := range l.log {
		if r.to == m.To && r.from == m.From && r.body == m.Body && !r.at.Before(since) {
			ids = append(ids, r.sid)
		}
	}
	return ids, nil
}

func (l *logTexter) counts() (sends, lookups int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sends, l.lookups
}

// inDoubt stores m as the outbox leaves a send whose attempt began at
// since and whose outcome a crash lost: queued, with Sending set.
func inDoubt(t *testing.T, store engine.Store, m *engine.Message, since time.Time) {
	t.Helper()
	m.Sending = since
	queue(t, store, m)
}

func settled(t *testing.T, store engine.Store, id string) *engine.Message {
	t.Helper()
	waitFor(t, "message "+id+" settled", func() bool { return status(store, id) != engine.StatusQueued })
	return stored(t, store, id)
}

// A send in doubt that the provider's log has is recorded as sent with the
// provider's id, and not sent again.
func TestInDoubtSendFoundInLogIsNotSentAgain(t *testing.T) {
	store := mem.NewMemStore()
	l := &logTexter{}
	since := time.Now().Add(-2 * time.Second)
	l.log = []logged{{sid: "SMtaken", to: "+15551230001", from: "+15005550006", body: "hi", at: since.Add(time.Second)}}
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, since)
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio"})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.ProviderID != "SMtaken" || !m.Sending.IsZero() {
		t.Fatalf("message %+v, want sent as SMtaken, no longer in doubt", m)
	}
	if sends, lookups := l.counts(); sends != 0 || lookups != 1 {
		t.Fatalf("%d sends, %d lookups; want 0 and 1", sends, lookups)
	}
}

// A send in doubt that the provider's log lacks is sent, once; so is one
// whose only match in the log is a message keyway recorded already (an
// earlier, identical reply).
func TestInDoubtSendNotInLogIsSent(t *testing.T) {
	store := mem.NewMemStore()
	l := &logTexter{}
	since := time.Now().Add(-2 * time.Second)
	l.log = []logged{{sid: "SMearlier", to: "+15551230001", from: "+15005550006", body: "hi", at: since.Add(time.Second)}}
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		return tx.PutMessage(&engine.Message{ID: "m0", Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusSent,
			Provider: "twilio", ProviderID: "SMearlier", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"})
	})
	if err != nil {
		t.Fatal(err)
	}
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, since)
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio"})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.ProviderID != "SMm1-1" || !m.Sending.IsZero() {
		t.Fatalf("message %+v, want sent anew, no longer in doubt", m)
	}
	if sends, lookups := l.counts(); sends != 1 || lookups != 1 {
		t.Fatalf("%d sends, %d lookups; want 1 and 1", sends, lookups)
	}
}

// An answer lost on the wire leaves the send in doubt: the retry finds the
// message in the log and sends nothing more.
func TestLostAnswerIsLookedUpBeforeTheRetry(t *testing.T) {
	store := mem.NewMemStore()
	l := &logTexter{loseAnswers: 1}
	queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"})
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio", Backoff: 10 * time.Millisecond})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.ProviderID != "SMm1-1" || m.Attempts != 2 {
		t.Fatalf("message %+v, want sent as the first attempt's SMm1-1 after 2 attempts", m)
	}
	if sends, lookups := l.counts(); sends != 1 || lookups != 1 {
		t.Fatalf("%d sends, %d lookups; want 1 and 1", sends, lookups)
	}
}

// A log that cannot be read is a retryable failure: nothing is sent blindly,
// and the next attempt looks again, from the first attempt in doubt.
func TestUnreadableLogIsRetriedNotSentBlindly(t *testing.T) {
	store := mem.NewMemStore()
	l := &logTexter{findFails: 2}
	since := time.Now().Add(-2 * time.Second)
	l.log = []logged{{sid: "SMtaken", to: "+15551230001", from: "+15005550006", body: "hi", at: since}}
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, since)
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio", Backoff: 10 * time.Millisecond,
		DoubtSkew: time.Nanosecond})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.ProviderID != "SMtaken" {
		t.Fatalf("message %+v, want sent as SMtaken", m)
	}
	if sends, lookups := l.counts(); sends != 0 || lookups != 3 {
		t.Fatalf("%d sends, %d lookups; want 0 and 3", sends, lookups)
	}
}

// A provider that answered with an error did not take the message: the
// retry sends without looking in the log.
func TestAnsweredErrorIsNotInDoubt(t *testing.T) {
	store := mem.NewMemStore()
	tx := &recordingTexter{fail: 1}
	l := &findCounter{recordingTexter: tx}
	queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"})
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Backoff: 10 * time.Millisecond})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || !m.Sending.IsZero() {
		t.Fatalf("message %+v, want sent", m)
	}
	if n := l.finds(); n != 0 {
		t.Fatalf("%d lookups after an answered error, want 0", n)
	}
}

// A send released to wait for its sender's rate was never tried: claimed
// again, it is not looked up.
func TestPacedSendIsNotInDoubt(t *testing.T) {
	store := mem.NewMemStore()
	l := &findCounter{recordingTexter: &recordingTexter{}}
	var msgs []*engine.Message
	for i := range 3 {
		msgs = append(msgs, &engine.Message{ID: "m" + string(rune('1'+i)), From: "+15005550006",
			To: []string{"+1555123000" + string(rune('1'+i))}, Body: "hi"})
	}
	queue(t, store, msgs...)
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, MPS: map[string]float64{"+15005550006": 20}})
	for _, m := range msgs {
		if got := settled(t, store, m.ID); got.Status != engine.StatusSent || !got.Sending.IsZero() {
			t.Fatalf("message %+v, want sent", got)
		}
	}
	if n := l.finds(); n != 0 {
		t.Fatalf("%d lookups of paced sends, want 0", n)
	}
}

// A provider that keeps no log gets the send again: at least once.
func TestInDoubtSendWithoutLogIsSentAgain(t *testing.T) {
	store := mem.NewMemStore()
	tx := &recordingTexter{}
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, time.Now())
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx})
	if m := settled(t, store, "m1"); m.Status != engine.StatusSent {
		t.Fatalf("message %+v, want sent", m)
	}
	if sent, _ := tx.snapshot(); len(sent) != 1 {
		t.Fatalf("%d sends, want 1", len(sent))
	}
}

// findCounter is a recordingTexter with a log that never has the message.
type findCounter struct {
	*recordingTexter
	mu sync.Mutex
	n  int
}

func (f *findCounter) FindSent(context.Context, providers.Outbound, time.Time) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return nil, nil
}

func (f *findCounter) finds() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// A log that stays unreadable does not hold the send forever: after three
// failed looks, the fourth attempt sends it.
func TestLogUnreadableForGoodSendsAtLast(t *testing.T) {
	store := mem.NewMemStore()
	l := &logTexter{findFails: 1000}
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, time.Now())
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio", Backoff: 5 * time.Millisecond})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.Attempts != 4 {
		t.Fatalf("message %+v, want sent at the 4th attempt", m)
	}
	if sends, lookups := l.counts(); sends != 1 || lookups != 4 {
		t.Fatalf("%d sends, %d lookups; want 1 and 4", sends, lookups)
	}
}

// hangingFinder is a provider whose log lookups never come back (until the
// test ends): the process that asked dies before it records anything.
type hangingFinder struct {
	logTexter
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *hangingFinder) FindSent(context.Context, providers.Outbound, time.Time) ([]string, error) {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return nil, errors.New("gone")
}

// A send in doubt claimed again by a process that dies before recording
// anything stays in doubt from its first attempt: the next process looks
// in the provider's log from there, finds what that attempt sent, and does
// not send it again. (The second claim used to move the attempt's time on
// to its own, so that the lookup after it missed the first send.)
func TestInDoubtSendKeepsItsFirstAttemptAcrossClaims(t *testing.T) {
	store := mem.NewMemStore()
	first := time.Now().Add(-10 * time.Minute).UTC().Round(0)
	inDoubt(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi"}, first)

	// Process b claims the send and hangs looking it up; then it stops
	// with its outcome unrecorded, as a killed process would.
	b := &hangingFinder{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(b.release)
	ctx, cancel := context.WithCancel(context.Background())
	obB := outbox.NewOutbox(outbox.OutboxOptions{Store: store, Texter: b, Provider: "twilio", Owner: "b",
		Lease: 100 * time.Millisecond, Drain: time.Millisecond, DoubtSkew: time.Millisecond, Logger: zerolog.Nop()})
	done := make(chan struct{})
	go func() { obB.Run(ctx); close(done) }()
	<-b.entered
	if m := stored(t, store, "m1"); !m.Sending.Equal(first) {
		t.Errorf("claimed again, the send is in doubt from %v; want its first attempt, %v", m.Sending, first)
	}
	cancel()
	<-done

	l := &logTexter{}
	l.log = []logged{{sid: "SMfirst", to: "+15551230001", from: "+15005550006", body: "hi", at: first.Add(time.Second)}}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: l, Provider: "twilio", Owner: "c",
		Lease: 100 * time.Millisecond, DoubtSkew: time.Millisecond})
	m := settled(t, store, "m1")
	if m.Status != engine.StatusSent || m.ProviderID != "SMfirst" {
		t.Errorf("message %+v, want sent as SMfirst (the first attempt's)", m)
	}
	if sends, _ := l.counts(); sends != 0 {
		t.Errorf("sent %d times more, want 0: the first attempt had reached the provider", sends)
	}
}

// unreachedTexter cannot connect to its provider: every send fails before
// the request leaves.
type unreachedTexter struct{}

func (unreachedTexter) Send(context.Context, providers.Outbound) (string, error) {
	return "", &providers.SendError{Retryable: true, Unreached: true, Err: errors.New("dial tcp 127.0.0.1:9: connection refused")}
}

// A send that could not connect never reached the provider: it waits for
// its retry not in doubt (so a staff member's plain answer is not taken as
// meant for it, and the retry looks nothing up), unless an earlier attempt
// was.
func TestUnreachedSendIsNotInDoubt(t *testing.T) {
	earlier := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		sending time.Time // before the claim
	}{{"first attempt", time.Time{}}, {"after an attempt in doubt", earlier}} {
		t.Run(tt.name, func(t *testing.T) {
			store := mem.NewMemStore()
			queue(t, store, &engine.Message{ID: "m1", From: "+15005550006", To: []string{"+15551230001"}, Body: "hi", Sending: tt.sending})
			runOutbox(t, outbox.OutboxOptions{Store: store, Texter: unreachedTexter{}, Backoff: time.Hour})
			waitFor(t, "the failed attempt recorded", func() bool { return stored(t, store, "m1").Attempts == 1 })
			m := stored(t, store, "m1")
			if m.Status != engine.StatusQueued || !m.Sending.Equal(tt.sending) {
				t.Fatalf("message %s, in doubt since %v; want queued, in doubt since %v", m.Status, m.Sending, tt.sending)
			}
		})
	}
}
