package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

var rt0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func rtOutbound(id, phone string) *engine.Message {
	return &engine.Message{ID: id, Direction: engine.Outbound, Kind: engine.KindText, Channel: "sms", Contact: phone,
		From: "+15005550006", To: []string{phone}, Body: "reply " + id, Status: engine.StatusQueued, CreatedAt: rt0, UpdatedAt: rt0}
}

// A webhook's turn on PostgreSQL costs round trips for what it must wait
// for, not for each statement: the duplicate check of the inbound message,
// the contact's lock, the contact and its active enrollments go in one
// (engine.TurnReader); every write (the inbound text, its reply and its
// queue entry, the enrollment, the contact) goes with the COMMIT. It made a
// dozen before writes and locks were deferred (pipe.go), and three before
// the turn was read with the duplicate check. PostgreSQL's CPU goes by the
// statement as much as by what each does, so they are counted too.
func TestTurnRoundTrips(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	const phone = "+15551230001"
	turn := func(n int) func(tx engine.Tx) error {
		return func(tx engine.Tx) error {
			tx.(engine.TurnReader).ReadTurnAhead(phone)
			if _, err := tx.MessageByProviderID("twilio", fmt.Sprintf("SM%d", n)); !errors.Is(err, engine.ErrNotFound) {
				return fmt.Errorf("turn %d: duplicate check: %v, want not found", n, err)
			}
			c, err := tx.Contact(phone)
			if errors.Is(err, engine.ErrNotFound) {
				c, err = &engine.Contact{Phone: phone, CreatedAt: rt0}, nil
			}
			if err != nil {
				return err
			}
			ens, err := tx.ActiveEnrollments(phone)
			if err != nil {
				return err
			}
			if len(ens) != 0 {
				return fmt.Errorf("turn %d: %d active enrollments, want none", n, len(ens))
			}
			if _, err := tx.ActiveEnrollment(phone, "desk"); !errors.Is(err, engine.ErrNotFound) {
				return fmt.Errorf("turn %d: active enrollment in desk: %v, want not found", n, err)
			}
			in := &engine.Message{ID: fmt.Sprintf("in%d", n), Direction: engine.Inbound, Kind: engine.KindText, Channel: "sms",
				Contact: phone, From: phone, To: []string{"+15005550006"}, Body: "hi", Status: engine.StatusReceived,
				Provider: "twilio", ProviderID: fmt.Sprintf("SM%d", n), CreatedAt: rt0, UpdatedAt: rt0}
			out := rtOutbound(fmt.Sprintf("out%d", n), phone)
			en := &engine.Enrollment{ID: fmt.Sprintf("en%d", n), Automation: "desk", Contact: phone, Channel: "sms",
				Status: engine.EnrollmentEnded, Step: "#1", StepType: "reply", Epoch: 1, StartedAt: rt0, UpdatedAt: rt0,
				EndedAt: &rt0, EndReason: "completed"}
			for _, err := range []error{tx.PutMessage(in), tx.PutMessage(out), tx.Enqueue(out), tx.PutEnrollment(en)} {
				if err != nil {
					return err
				}
			}
			c.UpdatedAt = rt0
			return tx.PutContact(c)
		}
	}
	for n := range 3 {
		before, stmts := s.RoundTrips(), s.Statements()
		if err := s.Update(t.Context(), turn(n)); err != nil {
			t.Fatal(err)
		}
		if got := s.RoundTrips() - before; got > 2 {
			t.Errorf("turn %d made %d round trips, want 2: the duplicate check with the contact and its enrollments, then the writes with COMMIT", n, got)
		}
		if got := s.Statements() - stmts; got > 10 {
			t.Errorf("turn %d sent %d statements, want 10: BEGIN, the contact's lock, one read of the duplicate check, the contact and its enrollments, "+
				"the inbound text with its broadcast reply count, the reply, the queue's lock, the queue entry, the enrollment, the contact, COMMIT", n, got)
		}
	}
	// What the turns deferred is all there.
	err := s.View(t.Context(), func(tx engine.Tx) error {
		if _, err := tx.Contact(phone); err != nil {
			return err
		}
		ids, err := tx.Outbox("", 0)
		if err != nil {
			return err
		}
		if len(ids) != 3 {
			return fmt.Errorf("outbox %v, want the 3 replies", ids)
		}
		if _, err := tx.MessageByProviderID("twilio", "SM2"); err != nil {
			return err
		}
		en, err := tx.Enrollment("en2")
		if err != nil {
			return err
		}
		if en.Active() {
			return fmt.Errorf("enrollment en2 is %s, want ended", en.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The outbox records a batch of sends in two round trips, whatever its
// size: their messages, queue entries and what each counts toward for its
// broadcast, locked, in one (PrefetchSends), and every write with the
// COMMIT, the broadcast's counters last. Each send settled leaves the next
// of its queue at the head, as Dequeue does without the prefetch.
func TestPrefetchedSendsRecordInTwoRoundTrips(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	const sends = 8
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		if err := tx.(broadcast.Tx).PutBroadcast(&broadcast.Broadcast{ID: "bc1", Automation: "promo", Status: broadcast.StatusDone}); err != nil {
			return err
		}
		for i := range sends {
			phone := fmt.Sprintf("+1555123%04d", i%4) // two sends in each of four queues
			m := rtOutbound(fmt.Sprintf("m%02d", i), phone)
			m.Broadcast = "bc1"
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
	var claimed []string
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		var err error
		claimed, err = tx.ClaimSends(rt0.Add(time.Hour), time.Minute, "p1", 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 4 {
		t.Fatalf("claimed %v, want the 4 heads", claimed)
	}
	before := s.RoundTrips()
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		p, ok := tx.(interface{ PrefetchSends(ids []string) error })
		if !ok {
			return fmt.Errorf("%T has no PrefetchSends", tx)
		}
		if err := p.PrefetchSends(append(claimed, "missing")); err != nil {
			return err
		}
		if _, err := tx.Message("missing"); !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("message missing: %v, want not found", err)
		}
		for _, id := range claimed {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			q, err := tx.QueuedSend(id)
			if err != nil {
				return err
			}
			if q.Owner != "p1" || q.Queue != m.QueueKey() {
				return fmt.Errorf("queued send %s: owner %q queue %q, want p1 and %q", id, q.Owner, q.Queue, m.QueueKey())
			}
			m.Status, m.ProviderID = engine.StatusSent, "SM"+id
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.RoundTrips() - before; got > 2 {
		t.Errorf("recording %d sends made %d round trips, want 2", len(claimed), got)
	}
	var next []string
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		var err error
		next, err = tx.ClaimSends(rt0.Add(time.Hour), time.Minute, "p1", 10)
		if err != nil {
			return err
		}
		for _, id := range claimed {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			if m.Status != engine.StatusSent {
				return fmt.Errorf("message %s is %s, want sent", id, m.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 4 {
		t.Errorf("after the heads were settled, claimed %v, want the 4 sends behind them", next)
	}
	err = s.View(t.Context(), func(tx engine.Tx) error {
		b, err := tx.(broadcast.Tx).Broadcast("bc1")
		if err != nil {
			return err
		}
		if b.Counts.Sent != 4 {
			return fmt.Errorf("the broadcast counts %d sent, want the 4 recorded", b.Counts.Sent)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A write the database refuses fails the transaction with an error that
// names the write, though it went out later, with the next read or with
// the COMMIT (pipe.go), and not as the read or the commit that carried it.
func TestDeferredWriteRefusalSaysWhichWrite(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	bad := &engine.Contact{Phone: "+1555123\x00", CreatedAt: rt0} // text takes no NUL
	for _, then := range []string{"commit", "read"} {
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			if err := tx.PutContact(bad); err != nil {
				return err
			}
			if then == "read" {
				_, err := tx.Contact("+15551230002")
				return err
			}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "insert into contacts (deferred)") {
			t.Errorf("a refused contact write, sent with the %s: error %v, want one naming the insert into contacts", then, err)
		}
	}
}

// The outbox's checks before sending read a batch's messages and
// contacts in one round trip of a View (ReadAhead), and what is not
// stored is not found, as without it: two round trips with the COMMIT,
// where a check of its own made three per send.
func TestReadAheadChecksSendsInOneRoundTrip(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for i, phone := range []string{"+15551230001", "+15551230002"} {
			if err := tx.PutContact(&engine.Contact{Phone: phone, OptedOut: i == 1, CreatedAt: rt0}); err != nil {
				return err
			}
			if err := tx.PutMessage(rtOutbound(fmt.Sprintf("m%d", i), phone)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := s.RoundTrips()
	err = s.View(t.Context(), func(tx engine.Tx) error {
		ra, ok := tx.(interface {
			ReadAhead(ids, phones []string) error
		})
		if !ok {
			return fmt.Errorf("%T has no ReadAhead", tx)
		}
		if err := ra.ReadAhead([]string{"m0", "m1", "gone"}, []string{"+15551230001", "+15551230002", "+15551239999"}); err != nil {
			return err
		}
		for _, id := range []string{"m0", "m1"} {
			if m, err := tx.Message(id); err != nil || m.Status != engine.StatusQueued {
				return fmt.Errorf("message %s: %v, %v; want it queued", id, m, err)
			}
		}
		if _, err := tx.Message("gone"); !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("message gone: %v, want not found", err)
		}
		for i, phone := range []string{"+15551230001", "+15551230002"} {
			if c, err := tx.Contact(phone); err != nil || c.OptedOut != (i == 1) {
				return fmt.Errorf("contact %d: %v, %v; want opted out %v", i, c, err, i == 1)
			}
		}
		if _, err := tx.Contact("+15551239999"); !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("a contact not stored: %v, want not found", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.RoundTrips() - before; got > 2 {
		t.Errorf("checking 3 sends made %d round trips, want 2", got)
	}
}

// What ReadTurnAhead read is for the turn that follows the read it went
// with: a duplicate found still answers, and after a write the contact is
// read again rather than taken from before the write.
func TestTurnReadAheadGivesWayToWrites(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	const phone = "+15551230002"
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		in := &engine.Message{ID: "in1", Direction: engine.Inbound, Kind: engine.KindText, Channel: "sms", Contact: phone,
			From: phone, To: []string{"+15005550006"}, Body: "hi", Status: engine.StatusReceived,
			Provider: "twilio", ProviderID: "SMdup", CreatedAt: rt0, UpdatedAt: rt0}
		if err := tx.PutMessage(in); err != nil {
			return err
		}
		return tx.PutContact(&engine.Contact{Phone: phone, Name: "Ann", CreatedAt: rt0})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		tx.(engine.TurnReader).ReadTurnAhead(phone)
		if m, err := tx.MessageByProviderID("twilio", "SMdup"); err != nil || m.ID != "in1" {
			return fmt.Errorf("duplicate check: %v, %v; want in1", m, err)
		}
		if err := tx.PutContact(&engine.Contact{Phone: phone, Name: "Bea", CreatedAt: rt0}); err != nil {
			return err
		}
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		if c.Name != "Bea" {
			return fmt.Errorf("contact after a write: %q, want the written Bea, not what was read ahead", c.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
