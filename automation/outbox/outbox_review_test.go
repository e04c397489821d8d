package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

type downMailer struct{}

func (downMailer) Mail(context.Context, providers.Email) error {
	return &providers.SendError{Retryable: true, Err: errors.New("smtp down")}
}

// A recipient whose oldest message keeps failing holds back only its own
// later messages, however many: the rest of the queue goes on.
func TestOutboxBacklogToOneRecipientDoesNotBlockOthers(t *testing.T) {
	store := mem.NewMemStore()
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		for i := 0; i < 1000; i++ {
			m := &engine.Message{ID: fmt.Sprintf("a%05d", i), Direction: engine.Outbound, Kind: engine.KindEmail,
				Purpose: engine.PurposeForward, Status: engine.StatusQueued, To: []string{"support@x.example"}, Contact: "+15550001111"}
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
	queue(t, store, &engine.Message{ID: "b00001", Channel: "sms", From: "+15005550006", To: []string{"+15550002222"}, Body: "hi"})
	tx := &recordingTexter{}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Mailer: downMailer{}, Backoff: time.Hour})
	// Each email is retried an hour later at the earliest: an SMS stuck
	// behind them would not go out while the test waits.
	waitFor(t, "the SMS sent past 1000 failing emails", func() bool { s, _ := tx.snapshot(); return len(s) == 1 })
}

type optedOutTexter struct{}

func (optedOutTexter) Send(context.Context, providers.Outbound) (string, error) {
	return "", &providers.SendError{Code: 21610, OptedOut: true, Err: errors.New("21610")}
}

// A staff number that opted out at Twilio refuses a forward; that opts out
// nobody: the customer the forward was about keeps getting replies.
func TestOutboxForwardRefusedByStaffDoesNotOptOutTheCustomer(t *testing.T) {
	store := mem.NewMemStore()
	_ = store.Update(context.Background(), func(tx engine.Tx) error { return tx.PutContact(&engine.Contact{Phone: "+15550001111"}) })
	queue(t, store, &engine.Message{ID: "f1", Channel: "sms", Contact: "+15550001111", From: "+15005550006", To: []string{"+15550100"}, Body: "From customer"})
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: optedOutTexter{}})
	waitFor(t, "recorded", func() bool {
		var st engine.MessageStatus
		_ = store.View(context.Background(), func(tx engine.Tx) error { m, _ := tx.Message("f1"); st = m.Status; return nil })
		return st == engine.StatusFailed
	})
	_ = store.View(context.Background(), func(tx engine.Tx) error {
		if c, _ := tx.Contact("+15550001111"); c.OptedOut {
			t.Errorf("customer opted out because the STAFF number refused a forward")
		}
		return nil
	})
}

// A STOP committed while a reply (or a staff answer) waits for its
// sender's rate stops it; so does a STOP from the staff member a forward
// waits to go to.
func TestOutboxChecksOptOutWhenTheRateAllowsTheSend(t *testing.T) {
	for _, purpose := range []engine.Purpose{engine.PurposeReply, engine.PurposeStaff, engine.PurposeForward} {
		t.Run(string(purpose), func(t *testing.T) { checksOptOutWhenTheRateAllowsTheSend(t, purpose) })
	}
}

func checksOptOutWhenTheRateAllowsTheSend(t *testing.T, purpose engine.Purpose) {
	store := mem.NewMemStore()
	var msgs []*engine.Message
	for i := 0; i < 5; i++ {
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%d", i), Channel: "sms", Contact: fmt.Sprintf("+1555000100%d", i),
			From: "+15005550006", To: []string{fmt.Sprintf("+1555000100%d", i)}, Body: "deal"})
	}
	queue(t, store, msgs...)
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		for i, m := range msgs {
			m.Purpose = purpose
			if purpose == engine.PurposeForward {
				// A forward is about a customer and goes to staff.
				m.Contact = fmt.Sprintf("+1555000200%d", i)
				if err := tx.PutContact(&engine.Contact{Phone: m.Contact}); err != nil {
					return err
				}
			}
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.PutContact(&engine.Contact{Phone: m.To[0]}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// STOP from the last contact, committed while the first message is
	// being sent: the outbox has read all five, and at 2 a second the last
	// may not leave for another 2s.
	var stop sync.Once
	tx := &recordingTexter{onSend: func(providers.Outbound) {
		stop.Do(func() {
			err := store.Update(context.Background(), func(tx engine.Tx) error {
				c, _ := tx.Contact("+15550001004")
				c.OptedOut = true
				return tx.PutContact(c)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, MPS: map[string]float64{"+15005550006": 2}})
	waitFor(t, "4 sends", func() bool { s, _ := tx.snapshot(); return len(s) >= 4 })
	waitFor(t, "the last message done", func() bool { return status(store, "m4") != engine.StatusQueued })
	if st := status(store, "m4"); st != engine.StatusSuppressed {
		t.Errorf("the opted-out contact's message is %q, want %q", st, engine.StatusSuppressed)
	}
	sent, at := tx.snapshot()
	for i, s := range sent {
		if s.To == "+15550001004" {
			t.Errorf("sent to the opted-out contact at %v, after its STOP was committed", at[i].Format("15:04:05.000"))
		}
	}
}
