package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// A status report that the provider dropped a message it had taken, for
// its rate limits, queues the message again at the time RetryDropped
// gives; a later report on the dropped attempt changes nothing; once
// RetryDropped says no, or without it, the message fails as before. A
// report that overtakes the record of the send it is about leaves the
// message queued with the attempt's id in Dropped, for the outbox.
func TestThrottledStatusSendsAgain(t *testing.T) {
	const phone = "+15550007101"
	at := time.Date(2026, 12, 7, 12, 0, 5, 0, time.UTC)
	throttled := providers.Status{ProviderID: "X1", Status: "failed", ErrorCode: 130429, ErrorMessage: "Rate limit hit", Throttled: true}
	tests := []struct {
		name   string
		status engine.MessageStatus // the message's before the report
		retry  func(*engine.Message) (time.Time, bool)
		again  bool
		// overtook: the message stays queued, the attempt marked dropped.
		overtook bool
	}{
		{"sent, retried", engine.StatusSent, func(*engine.Message) (time.Time, bool) { return at, true }, true, false},
		{"delivered, retried", "delivered", func(*engine.Message) (time.Time, bool) { return at, true }, true, false},
		{"attempts spent", engine.StatusSent, func(*engine.Message) (time.Time, bool) { return time.Time{}, false }, false, false},
		{"no RetryDropped", engine.StatusSent, nil, false, false},
		{"the report overtook the send's record", engine.StatusQueued, func(*engine.Message) (time.Time, bool) { return at, true }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := mem.NewMemStore()
			woke := 0
			e := engine.New(store, compileSet(t, "automations: []\n"), engine.Options{Logger: zerolog.Nop(), RetryDropped: tt.retry, OnQueue: func() { woke++ }})
			err := store.Update(ctx, func(tx engine.Tx) error {
				if err := tx.PutContact(&engine.Contact{Phone: phone}); err != nil {
					return err
				}
				return tx.PutMessage(&engine.Message{
					ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Purpose: engine.PurposeReply,
					Channel: config.ChannelWhatsApp, Contact: phone, From: "whatsapp:+15005550006", To: []string{phone},
					Status: tt.status, Provider: "engtest", ProviderID: "X1", Attempts: 1,
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second report is the same one again
				if found, err := e.UpdateStatus(ctx, "engtest", throttled, "m1"); err != nil || !found {
					t.Fatalf("UpdateStatus = %v, %v", found, err)
				}
			}
			_ = store.View(ctx, func(tx engine.Tx) error {
				m, err := tx.Message("m1")
				if err != nil {
					t.Fatal(err)
				}
				q, qerr := tx.QueuedSend("m1")
				if tt.overtook {
					if m.Status != engine.StatusQueued || !m.NextAttempt.IsZero() || m.ProviderID != "" || !slices.Equal(m.Dropped, []string{"X1"}) || m.ErrorCode != 130429 {
						t.Errorf("message %s next %v provider id %q dropped %q code %d, want still queued, X1 dropped, 130429", m.Status, m.NextAttempt, m.ProviderID, m.Dropped, m.ErrorCode)
					}
					return nil
				}
				if !tt.again {
					if m.Status != engine.StatusFailed || m.ErrorCode != 130429 {
						t.Errorf("message %s %d, want failed 130429", m.Status, m.ErrorCode)
					}
					if qerr == nil {
						t.Errorf("the failed message is in the outbox: %+v", q)
					}
					return nil
				}
				if m.Status != engine.StatusQueued || !m.NextAttempt.Equal(at) || m.ProviderID != "" || !slices.Equal(m.Dropped, []string{"X1"}) {
					t.Errorf("message %s next %v provider id %q dropped %q, want queued at %v, no provider id, X1 dropped", m.Status, m.NextAttempt, m.ProviderID, m.Dropped, at)
				}
				if qerr != nil {
					t.Errorf("not in the outbox: %v", qerr)
				}
				if m.Error == "" || m.ErrorCode != 130429 {
					t.Errorf("error %q %d, want the report's", m.Error, m.ErrorCode)
				}
				return nil
			})
			if tt.again && woke == 0 {
				t.Error("the outbox was not woken")
			}
		})
	}
}
