package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

const ours = "+15550001234"

// claimedSends stores a queued text to each of to (ids m1, m2, ...) and
// claims them for the owner "me".
func claimedSends(t *testing.T, store engine.Store, purpose engine.Purpose, to ...string) []*engine.Message {
	t.Helper()
	var msgs []*engine.Message
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		msgs = msgs[:0]
		for i, phone := range to {
			m := &engine.Message{ID: fmt.Sprintf("m%d", i+1), Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusQueued,
				Purpose: purpose, Channel: "whatsapp", From: ours, To: []string{phone}, Contact: phone}
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		_, err := tx.ClaimSends(time.Now(), time.Minute, "me", len(to))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// refusalNote is what the test's Refused hook writes in the outbox's
// transaction: a tag on the contact naming the refusal.
func refusalNote(r engine.SendRefusal) string { return fmt.Sprintf("refused-%d", r) }

// noting is a Refused hook that tags the recipient in tx with refusalNote
// and counts the hooks run after commit in *after.
func noting(after *int) func(context.Context, engine.TurnTx, *engine.Message, engine.SendRefusal) (func(), error) {
	return func(_ context.Context, tx engine.TurnTx, m *engine.Message, r engine.SendRefusal) (func(), error) {
		c := &engine.Contact{Phone: m.To[0], Tags: []string{refusalNote(r)}}
		return func() { *after++ }, tx.PutContact(c)
	}
}

// tagsOf returns the tags stored on the contact phone (none if it is not
// stored).
func tagsOf(t *testing.T, store engine.Store, phone string) []string {
	t.Helper()
	var tags []string
	err := store.View(context.Background(), func(tx engine.Tx) error {
		c, err := tx.Contact(phone)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tags = c.Tags
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// What a provider's refusal says of the recipient is acted on in the
// transaction that records the refusal (what the hook writes is stored
// with it, and what it leaves for after the commit runs once), and a
// throttled number slows down; the outbox knows no provider code, only the
// SendError's flags.
func TestOutboxActsOnRefusals(t *testing.T) {
	const contact = "+15550009999"
	tests := []struct {
		name        string
		err         providers.SendError
		want        engine.SendRefusal
		wantMPSHalf bool
	}{
		{name: "opted out", err: providers.SendError{Status: 400, OptedOut: true}, want: engine.RefusalOptedOut},
		{name: "stopped messages that are not answers", err: providers.SendError{Status: 400, MarketingOptOut: true}, want: engine.RefusalMarketingOptOut},
		{name: "outside the window", err: providers.SendError{Status: 400, OutsideWindow: true}, want: engine.RefusalOutsideWindow},
		{name: "throttled slows the number down", err: providers.SendError{Status: 400, Throttled: true, Retryable: true}, wantMPSHalf: true},
		{name: "a plain failure does nothing", err: providers.SendError{Status: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := mem.NewMemStore()
			m := claimedSends(t, store, engine.PurposeReply, contact)[0]
			var after int
			ob := NewOutbox(OutboxOptions{Store: store, Owner: "me", Logger: zerolog.Nop(), MPS: map[string]float64{ours: 80}, Refused: noting(&after)})
			se := tt.err
			se.Err = errors.New("refused")
			ob.record([]outcome{{claimed: claimed{m: m}, kind: attempted, err: &se}})

			tags := tagsOf(t, store, contact)
			switch {
			case tt.want == 0 && (len(tags) != 0 || after != 0):
				t.Errorf("acted on the refusal (tags %v, %d after commit), want nothing", tags, after)
			case tt.want != 0 && (!slices.Equal(tags, []string{refusalNote(tt.want)}) || after != 1):
				t.Errorf("tags %v, %d run after commit; want %s stored with the record, 1", tags, after, refusalNote(tt.want))
			}
			want := 80.0
			if tt.wantMPSHalf {
				want = 40
			}
			if got := float64(ob.limiters[ours].Limit()); got != want {
				t.Errorf("mps after = %g, want %g", got, want)
			}
		})
	}
}

// A refusal whose consequence cannot be stored does not void the other
// results of its batch, and is recorded itself (failed, out of the
// outbox: never sent again) without that consequence, rather than set
// aside or left to be tried again.
func TestOutboxRefusalWhoseConsequenceFailsIsStillRecorded(t *testing.T) {
	store := mem.NewMemStore()
	msgs := claimedSends(t, store, engine.PurposeReply, "+15550000001", "+15550000002", "+15550000003")
	var calls, setAside int
	ob := NewOutbox(OutboxOptions{Store: store, Owner: "me", Logger: zerolog.Nop(),
		OnSetAside: func(*engine.Message, error) { setAside++ },
		Refused: func(_ context.Context, tx engine.TurnTx, m *engine.Message, _ engine.SendRefusal) (func(), error) {
			calls++
			if err := tx.PutContact(&engine.Contact{Phone: m.To[0], Tags: []string{"half-done"}}); err != nil {
				return nil, err
			}
			return nil, errors.New("the step cannot take its window path")
		}})
	window := &providers.SendError{Status: 400, OutsideWindow: true, Err: errors.New("outside the window")}
	plain := &providers.SendError{Status: 400, Err: errors.New("bad number")}
	ob.record([]outcome{
		{claimed: claimed{m: msgs[0]}, kind: attempted, providerID: "SM1"},
		{claimed: claimed{m: msgs[1]}, kind: attempted, err: window},
		{claimed: claimed{m: msgs[2]}, kind: attempted, err: plain},
	})

	want := map[string]engine.MessageStatus{"m1": engine.StatusSent, "m2": engine.StatusFailed, "m3": engine.StatusFailed}
	err := store.View(context.Background(), func(tx engine.Tx) error {
		for id, st := range want {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			if m.Status != st || m.Attempts != 1 {
				t.Errorf("%s = %s after %d attempts (%s), want %s after 1", id, m.Status, m.Attempts, m.Error, st)
			}
		}
		ids, err := tx.Outbox("", 0)
		if len(ids) != 0 {
			t.Errorf("outbox = %v, want empty: nothing is sent again", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tags := tagsOf(t, store, "+15550000002"); len(tags) != 0 {
		t.Errorf("what the failed hook wrote was stored: tags %v", tags)
	}
	if setAside != 0 || calls != 2 {
		t.Errorf("set aside %d, hook run %d times; want 0, 2 (in the batch, then alone)", setAside, calls)
	}
}
