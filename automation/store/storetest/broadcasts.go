package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

var broadcastCases = []testCase{
	{"broadcasts/round-trip-and-list", testBroadcastRoundTrip},
	{"broadcasts/claim", testBroadcastClaim},
	{"broadcasts/claim-skips", testBroadcastClaimSkips},
	{"broadcasts/claim-ending", testBroadcastClaimEnding},
	{"broadcasts/listed-contacts", testBroadcastContacts},
	{"broadcasts/counts-sends", testBroadcastCountsSends},
	{"broadcasts/counts-replies", testBroadcastCountsReplies},
	{"broadcasts/count-group", testBroadcastCountGroup},
	{"broadcasts/open", testBroadcastsOpen},
	{"broadcasts/pruned-messages", testBroadcastPrunedMessages},
}

// btx is the store's transaction as broadcasts use it: every store keeps
// them.
func btx(t testing.TB, tx engine.Tx) (broadcast.Tx, error) {
	b, ok := tx.(broadcast.Tx)
	if !ok {
		return nil, errors.New("the store's Tx is no broadcast.Tx")
	}
	return b, nil
}

func bupdate(t testing.TB, s engine.Store, fn func(tx broadcast.Tx) error) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error {
		b, err := btx(t, tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

func bread[T any](t testing.TB, s engine.Store, fn func(tx broadcast.Tx) (T, error)) (T, error) {
	t.Helper()
	return tryRead(t, s, func(tx engine.Tx) (T, error) {
		b, err := btx(t, tx)
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(b)
	})
}

func newBroadcast(id string, status broadcast.Status, at time.Time) *broadcast.Broadcast {
	return &broadcast.Broadcast{
		ID: id, Automation: "promo", Group: "newsletter", At: at, Source: broadcast.SourceAPI, Status: status,
		Total: 3, Enrolled: 1, Skipped: map[string]int{engine.SkipOptedOut: 1}, Vars: map[string]any{"code": "X1"},
		Cursor: "+15550001", CreatedAt: t0, UpdatedAt: t0,
	}
}

func getBroadcast(t *testing.T, s engine.Store, id string) *broadcast.Broadcast {
	t.Helper()
	b, err := bread(t, s, func(tx broadcast.Tx) (*broadcast.Broadcast, error) { return tx.Broadcast(id) })
	if err != nil {
		t.Fatalf("Broadcast(%s): %v", id, err)
	}
	return b
}

func testBroadcastRoundTrip(t *testing.T, s engine.Store) {
	if _, err := bread(t, s, func(tx broadcast.Tx) (*broadcast.Broadcast, error) { return tx.Broadcast("b1") }); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Broadcast of an empty store: err = %v, want ErrNotFound", err)
	}
	want := newBroadcast("b1", broadcast.StatusRunning, t0)
	bupdate(t, s, func(tx broadcast.Tx) error {
		for _, id := range []string{"b1", "b2", "b3"} {
			b := newBroadcast(id, broadcast.StatusRunning, t0)
			b.Counts = broadcast.Counts{Sent: 99} // the store's counters win
			if err := tx.PutBroadcast(b); err != nil {
				return err
			}
		}
		return nil
	})
	if got := getBroadcast(t, s, "b1"); !reflect.DeepEqual(got, want) {
		t.Errorf("Broadcast = %+v\nwant %+v", got, want)
	}
	ids := func(before string, limit int) []string {
		bs, err := bread(t, s, func(tx broadcast.Tx) ([]*broadcast.Broadcast, error) { return tx.Broadcasts(before, limit) })
		if err != nil {
			t.Fatalf("Broadcasts: %v", err)
		}
		out := []string{}
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	if got := ids("", 0); !reflect.DeepEqual(got, []string{"b3", "b2", "b1"}) {
		t.Errorf("Broadcasts(all) = %v, want newest first", got)
	}
	if got := ids("b3", 1); !reflect.DeepEqual(got, []string{"b2"}) {
		t.Errorf("Broadcasts(before b3, 1) = %v, want [b2]", got)
	}
	if got := ids("b1", 0); len(got) != 0 {
		t.Errorf("Broadcasts(before b1) = %v, want none", got)
	}
}

// claimBroadcast claims a broadcast for owner at now, passing over those
// skip names; it returns its id, or "" when none was claimable.
func claimBroadcast(t *testing.T, s engine.Store, now time.Time, owner string, skip func(*broadcast.Broadcast) (bool, error)) string {
	t.Helper()
	var id string
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		b, err := btx(t, tx)
		if err != nil {
			return err
		}
		got, err := b.ClaimBroadcast(now, 10*time.Second, owner, skip)
		if errors.Is(err, engine.ErrNotFound) {
			id = ""
			return nil
		}
		if err != nil {
			return err
		}
		id = got.ID
		return nil
	})
	if err != nil {
		t.Fatalf("ClaimBroadcast: %v", err)
	}
	return id
}

func testBroadcastClaim(t *testing.T, s engine.Store) {
	claim := func(now time.Time, owner string) string {
		t.Helper()
		return claimBroadcast(t, s, now, owner, nil)
	}
	bupdate(t, s, func(tx broadcast.Tx) error {
		later := newBroadcast("b1", broadcast.StatusScheduled, t0.Add(time.Hour))
		done := newBroadcast("b0", broadcast.StatusDone, t0)
		if err := tx.PutBroadcast(done); err != nil {
			return err
		}
		return tx.PutBroadcast(later)
	})
	if id := claim(t0, "p1"); id != "" {
		t.Fatalf("claimed %q: a done broadcast and one scheduled later are not claimable", id)
	}
	if id := claim(t0.Add(time.Hour), "p1"); id != "b1" {
		t.Fatalf("at its time: claimed %q, want b1", id)
	}
	got := getBroadcast(t, s, "b1")
	if got.Status != broadcast.StatusRunning || got.Owner != "p1" || !got.LeaseUntil.Equal(t0.Add(time.Hour+10*time.Second)) {
		t.Errorf("claimed broadcast: status %s owner %q lease %v; want running, p1, the lease's end", got.Status, got.Owner, got.LeaseUntil)
	}
	if id := claim(t0.Add(time.Hour+time.Second), "p2"); id != "" {
		t.Errorf("p2 claimed %q under p1's lease", id)
	}
	if id := claim(t0.Add(time.Hour+time.Second), "p1"); id != "b1" {
		t.Errorf("p1 (restarted) claimed %q, want its own b1 again", id)
	}
	if id := claim(t0.Add(time.Hour+12*time.Second), "p2"); id != "b1" {
		t.Errorf("after the lease expired: p2 claimed %q, want b1", id)
	}
	bupdate(t, s, func(tx broadcast.Tx) error {
		b, err := tx.Broadcast("b1")
		if err != nil {
			return err
		}
		b.Status = broadcast.StatusCanceled
		return tx.PutBroadcast(b)
	})
	if id := claim(t0.Add(2*time.Hour), "p3"); id != "" {
		t.Errorf("claimed %q: a canceled broadcast is not claimable", id)
	}
}

// A broadcast the claim's skip passes over (its automation paused) stays
// as it was and holds up none after it; an error of skip fails the claim.
func testBroadcastClaimSkips(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error {
		for _, id := range []string{"b1", "b2"} {
			b := newBroadcast(id, broadcast.StatusScheduled, t0)
			if id == "b1" {
				b.Automation = "paused"
			}
			if err := tx.PutBroadcast(b); err != nil {
				return err
			}
		}
		return nil
	})
	paused := func(b *broadcast.Broadcast) (bool, error) { return b.Automation == "paused", nil }
	if id := claimBroadcast(t, s, t0, "p1", paused); id != "b2" {
		t.Errorf("claimed %q, want b2: the skipped b1 must not hold it up", id)
	}
	if got := getBroadcast(t, s, "b1"); got.Status != broadcast.StatusScheduled || got.Owner != "" {
		t.Errorf("skipped b1: status %s owner %q; want it scheduled and unleased still", got.Status, got.Owner)
	}
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		b, err := btx(t, tx)
		if err != nil {
			return err
		}
		_, err = b.ClaimBroadcast(t0, 10*time.Second, "p1", func(*broadcast.Broadcast) (bool, error) { return false, boom })
		return err
	})
	if !errors.Is(err, boom) {
		t.Errorf("ClaimBroadcast with a failing skip: %v, want its error", err)
	}
	if id := claimBroadcast(t, s, t0, "p1", nil); id != "b1" {
		t.Errorf("without skip: claimed %q, want b1", id)
	}
}

func testBroadcastContacts(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error {
		if err := tx.PutBroadcastContacts("b1", 0, []string{phoneA, phoneB}); err != nil {
			return err
		}
		if err := tx.PutBroadcastContacts("b1", 2, []string{"whatsapp:" + phoneC}); err != nil {
			return err
		}
		return tx.PutBroadcastContacts("b10", 0, []string{"+19990000"})
	})
	list := func(from, limit int) []string {
		got, err := bread(t, s, func(tx broadcast.Tx) ([]string, error) { return tx.BroadcastContacts("b1", from, limit) })
		if err != nil {
			t.Fatalf("BroadcastContacts: %v", err)
		}
		if got == nil {
			got = []string{}
		}
		return got
	}
	if got := list(0, 0); !reflect.DeepEqual(got, []string{phoneA, phoneB, "whatsapp:" + phoneC}) {
		t.Errorf("BroadcastContacts(0) = %v", got)
	}
	if got := list(1, 1); !reflect.DeepEqual(got, []string{phoneB}) {
		t.Errorf("BroadcastContacts(1, 1) = %v, want [%s]", got, phoneB)
	}
	if got := list(3, 10); len(got) != 0 {
		t.Errorf("BroadcastContacts past the end = %v, want none (not another broadcast's)", got)
	}
}

func bOutbound(id, contact, bcast string, status engine.MessageStatus, at time.Time) *engine.Message {
	m := message(id, contact)
	m.Direction, m.Purpose, m.From, m.To = engine.Outbound, engine.PurposeReply, "+15005550006", []string{contact}
	m.Broadcast, m.Status, m.CreatedAt, m.UpdatedAt = bcast, status, at, at
	return m
}

func testBroadcastCountsSends(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error { return tx.PutBroadcast(newBroadcast("b1", broadcast.StatusRunning, t0)) })
	steps := []struct {
		m    *engine.Message
		want broadcast.Counts
	}{
		{bOutbound("m1", phoneA, "b1", engine.StatusQueued, t0), broadcast.Counts{}},
		{bOutbound("m1", phoneA, "b1", engine.StatusSent, t0), broadcast.Counts{Sent: 1}},
		{bOutbound("m1", phoneA, "b1", engine.StatusSent, t0), broadcast.Counts{Sent: 1}},
		{bOutbound("m1", phoneA, "b1", "delivered", t0), broadcast.Counts{Sent: 1, Delivered: 1}},
		{bOutbound("m1", phoneA, "b1", "sent", t0), broadcast.Counts{Sent: 1, Delivered: 1}}, // a late callback
		{bOutbound("m2", phoneB, "b1", engine.StatusFailed, t0), broadcast.Counts{Sent: 1, Delivered: 1, Failed: 1}},
		{bOutbound("m3", phoneC, "b1", engine.StatusSuppressed, t0), broadcast.Counts{Sent: 1, Delivered: 1, Failed: 1}},
		{bOutbound("m4", phoneC, "", engine.StatusSent, t0), broadcast.Counts{Sent: 1, Delivered: 1, Failed: 1}},
		{bOutbound("m5", phoneC, "b1", "undelivered", t0), broadcast.Counts{Sent: 1, Delivered: 1, Failed: 2}},
	}
	for i, st := range steps {
		update(t, s, putMessages(st.m))
		if got := getBroadcast(t, s, "b1").Counts; got != st.want {
			t.Fatalf("step %d (%s %s): counts %+v, want %+v", i, st.m.ID, st.m.Status, got, st.want)
		}
	}
	// Writing the broadcast keeps the store's counts.
	bupdate(t, s, func(tx broadcast.Tx) error {
		b, err := tx.Broadcast("b1")
		if err != nil {
			return err
		}
		b.Enrolled = 3
		b.Counts = broadcast.Counts{}
		return tx.PutBroadcast(b)
	})
	if got := getBroadcast(t, s, "b1"); got.Enrolled != 3 || got.Sent != 1 || got.Failed != 2 {
		t.Errorf("after PutBroadcast: enrolled %d, counts %+v; want 3 and the counts kept", got.Enrolled, got.Counts)
	}
	// Within one transaction the counts read include what it wrote, and
	// a message written twice counts once.
	bupdate(t, s, func(tx broadcast.Tx) error {
		for _, m := range []*engine.Message{bOutbound("m6", phoneA, "b1", engine.StatusSent, t0), bOutbound("m6", phoneA, "b1", engine.StatusSent, t0)} {
			if err := tx.(engine.Tx).PutMessage(m); err != nil {
				return err
			}
		}
		b, err := tx.Broadcast("b1")
		if err != nil {
			return err
		}
		if b.Sent != 2 {
			t.Errorf("in the transaction that recorded m6 as sent: %d sent, want 2", b.Sent)
		}
		return nil
	})
	if got := getBroadcast(t, s, "b1"); got.Sent != 2 {
		t.Errorf("after m6 was recorded as sent twice in one transaction: %d sent, want 2", got.Sent)
	}
}

func testBroadcastCountsReplies(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error {
		if err := tx.PutBroadcast(newBroadcast("b1", broadcast.StatusRunning, t0)); err != nil {
			return err
		}
		return tx.PutBroadcast(newBroadcast("b2", broadcast.StatusRunning, t0))
	})
	inbound := func(id, contact string, at time.Time) *engine.Message {
		m := message(id, contact)
		m.CreatedAt, m.UpdatedAt = at, at
		return m
	}
	// A wrote before the broadcast: no reply. A and B get b1's message;
	// only A gets b2's, later.
	update(t, s, putMessages(inbound("i0", phoneA, t0.Add(-time.Minute))))
	update(t, s, putMessages(bOutbound("m1", phoneA, "b1", engine.StatusSent, t0), bOutbound("m2", phoneB, "b1", engine.StatusSent, t0)))
	update(t, s, putMessages(bOutbound("m3", phoneA, "b1", engine.StatusSent, t0.Add(time.Hour)))) // a second message of b1
	update(t, s, putMessages(bOutbound("m4", phoneA, "b2", engine.StatusSent, t0.Add(80*time.Hour))))
	counts := func() (int, int) { return getBroadcast(t, s, "b1").Replied, getBroadcast(t, s, "b2").Replied }
	if r1, r2 := counts(); r1 != 0 || r2 != 0 {
		t.Fatalf("replied before any reply: %d, %d", r1, r2)
	}
	update(t, s, putMessages(inbound("i1", phoneB, t0.Add(71*time.Hour))))
	update(t, s, putMessages(inbound("i2", phoneB, t0.Add(71*time.Hour+time.Minute)))) // the same contact again
	if r1, r2 := counts(); r1 != 1 || r2 != 0 {
		t.Fatalf("after B's two replies within 72 h: replied %d, %d; want 1, 0", r1, r2)
	}
	// A writes 81 hours after b1's first message to it: too late for b1,
	// in time for b2.
	update(t, s, putMessages(inbound("i3", phoneA, t0.Add(81*time.Hour))))
	if r1, r2 := counts(); r1 != 1 || r2 != 1 {
		t.Errorf("after A's reply: replied %d, %d; want 1, 1", r1, r2)
	}
	update(t, s, putMessages(inbound("i3", phoneA, t0.Add(81*time.Hour)))) // stored again
	if r1, r2 := counts(); r1 != 1 || r2 != 1 {
		t.Errorf("after a message is stored again: replied %d, %d; want 1, 1", r1, r2)
	}
}

func testBroadcastCountGroup(t *testing.T, s engine.Store) {
	update(t, s, putContacts(contact(phoneA, "news"), contact(phoneB, "news", "vip"), contact(phoneC, "newsletter")))
	for group, want := range map[string]int{"news": 2, "vip": 1, "newsletter": 1, "none": 0} {
		got, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return tx.CountGroup(group) })
		if err != nil || got != want {
			t.Errorf("CountGroup(%s) = %d, %v; want %d", group, got, err, want)
		}
	}
}

// Retention prunes a broadcast's messages with what the store kept to
// count them: the counts stay as they were, and a reply counts toward the
// broadcast only while the text it answers is still stored.
func testBroadcastPrunedMessages(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error { return tx.PutBroadcast(newBroadcast("b1", broadcast.StatusRunning, t0)) })
	update(t, s, putMessages(bOutbound("m1", phoneA, "b1", engine.StatusSent, t0.Add(-100*time.Hour)), bOutbound("m2", phoneB, "b1", "delivered", t0.Add(-time.Hour))))
	if n := prune(t, s, t0.Add(-50*time.Hour), 10); n != 1 {
		t.Fatalf("PruneMessages removed %d, want 1 (m1)", n)
	}
	want := broadcast.Counts{Sent: 2, Delivered: 1}
	if got := getBroadcast(t, s, "b1").Counts; got != want {
		t.Fatalf("after pruning m1: counts %+v, want %+v", got, want)
	}
	reply := func(id, contact string, at time.Time) *engine.Message {
		m := message(id, contact)
		m.CreatedAt, m.UpdatedAt = at, at
		return m
	}
	// A answers within 72 h of m1, but m1 is gone; B answers m2.
	update(t, s, putMessages(reply("i1", phoneA, t0.Add(-99*time.Hour)), reply("i2", phoneB, t0)))
	want.Replied = 1
	if got := getBroadcast(t, s, "b1").Counts; got != want {
		t.Errorf("after A's reply to a pruned text and B's to a kept one: counts %+v, want %+v", got, want)
	}
}
