package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// countingStore counts the Updates made through it.
type countingStore struct {
	engine.Store
	updates atomic.Int32
}

func (c *countingStore) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// The recorder records every outcome waiting in one commit; an outcome of
// a send whose lease another owner took is left to that owner, unless the
// send went out.
func TestOutboxRecordsWaitingOutcomesInOneCommit(t *testing.T) {
	mem := mem.NewMemStore()
	now := time.Now()
	var msgs []*engine.Message
	err := mem.Update(context.Background(), func(tx engine.Tx) error {
		for i := range 22 {
			m := &engine.Message{ID: fmt.Sprintf("m%02d", i), Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusQueued,
				From: "+15005550006", To: []string{fmt.Sprintf("+1555000%04d", i)}}
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if _, err := tx.ClaimSends(now, time.Minute, "me", 20); err != nil {
			return err
		}
		_, err := tx.ClaimSends(now, time.Minute, "other", 2) // m20, m21
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: mem}
	ob := NewOutbox(OutboxOptions{Store: store, Owner: "me", Logger: zerolog.Nop(), Workers: 16})
	for _, m := range msgs[:20] {
		ob.results <- outcome{claimed: claimed{m: m}, kind: attempted, providerID: "SM" + m.ID}
	}
	retry := &providers.SendError{Status: 503, Retryable: true, Err: errors.New("down")}
	ob.results <- outcome{claimed: claimed{m: msgs[20]}, kind: attempted, err: retry}        // not ours: left alone
	ob.results <- outcome{claimed: claimed{m: msgs[21]}, kind: attempted, providerID: "SMx"} // not ours, but sent
	close(ob.results)
	ob.recordLoop()

	if n := store.updates.Load(); n != 1 {
		t.Errorf("22 waiting outcomes took %d commits, want 1", n)
	}
	err = mem.View(context.Background(), func(tx engine.Tx) error {
		for _, m := range msgs[:20] {
			got, err := tx.Message(m.ID)
			if err != nil {
				return err
			}
			if got.Status != engine.StatusSent || got.ProviderID != "SM"+m.ID {
				t.Errorf("%s = %s (%s), want sent", m.ID, got.Status, got.ProviderID)
			}
		}
		if got, _ := tx.Message("m20"); got.Status != engine.StatusQueued || got.Attempts != 0 {
			t.Errorf("m20, another owner's, = %s after %d attempts; want it left queued", got.Status, got.Attempts)
		}
		if q, err := tx.QueuedSend("m20"); err != nil || q.Owner != "other" {
			t.Errorf("m20's lease = %+v, %v; want other's", q, err)
		}
		if got, _ := tx.Message("m21"); got.Status != engine.StatusSent {
			t.Errorf("m21, sent on a lease another owner took, = %s, want sent", got.Status)
		}
		ids, err := tx.Outbox("", 0)
		if len(ids) != 1 || ids[0] != "m20" {
			t.Errorf("outbox = %v, want [m20]", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A delivery report that lands before the send's own record (its callback
// URL names keyway's id) is not moved back to "sent" by that record.
func TestOutboxRecordKeepsAStatusReportThatCameFirst(t *testing.T) {
	store := mem.NewMemStore()
	m := &engine.Message{ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusQueued, From: "+15005550006", To: []string{"+15550000001"}}
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		if err := tx.Enqueue(m); err != nil {
			return err
		}
		if _, err := tx.ClaimSends(time.Now(), time.Minute, "me", 1); err != nil {
			return err
		}
		report := *m
		report.Status = "delivered"
		return tx.PutMessage(&report)
	})
	if err != nil {
		t.Fatal(err)
	}
	ob := NewOutbox(OutboxOptions{Store: store, Owner: "me", Logger: zerolog.Nop(), Provider: "twilio"})
	ob.results <- outcome{claimed: claimed{m: m}, kind: attempted, providerID: "SM1"}
	close(ob.results)
	ob.recordLoop()
	err = store.View(context.Background(), func(tx engine.Tx) error {
		got, err := tx.Message("m1")
		if err != nil {
			return err
		}
		if got.Status != "delivered" || got.ProviderID != "SM1" || got.Attempts != 1 {
			t.Errorf("m1 = %s, %q after %d attempts; want delivered, SM1, 1", got.Status, got.ProviderID, got.Attempts)
		}
		ids, err := tx.Outbox("", 0)
		if len(ids) != 0 {
			t.Errorf("outbox = %v, want empty", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
