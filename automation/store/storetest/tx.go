package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var txCases = []testCase{
	{"tx/update-visible-to-view", testUpdateVisible},
	{"tx/reads-own-writes", testReadsOwnWrites},
	{"tx/rollback", testRollback},
	{"tx/view-refuses-writes", testViewRefusesWrites},
	{"tx/concurrent-updates", testConcurrentUpdates},
	{"tx/views-run-together", testViewsTogether},
	{"tx/view-sees-committed-only", testViewSeesCommitted},
	{"close", testClose},
}

var errBoom = errors.New("boom")

func testUpdateVisible(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error {
		if err := tx.PutContact(contact(phoneA, "g")); err != nil {
			return err
		}
		return tx.PutMeta("k", []byte("v"))
	})
	got := read(t, s, func(tx engine.Tx) (string, error) {
		c, err := tx.Contact(phoneA)
		if err != nil {
			return "", err
		}
		v, err := tx.Meta("k")
		return c.Phone + " " + string(v), err
	})
	if want := phoneA + " v"; got != want {
		t.Errorf("View after Update = %q, want %q", got, want)
	}
	if err := s.View(t.Context(), func(engine.Tx) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("View whose function fails: err = %v, want %v", err, errBoom)
	}
}

// farFuture is after every timer of the suite.
var farFuture = t0.Add(365 * 24 * time.Hour)

// dump describes everything the seeded store lets a reader see, but held
// timers, so that two dumps show whether anything changed.
func dump(tx engine.Tx) (string, error) {
	var b strings.Builder
	missing := func(what string, err error) bool {
		if errors.Is(err, engine.ErrNotFound) {
			fmt.Fprintf(&b, "%s: none\n", what)
			return true
		}
		return false
	}
	for _, p := range []string{phoneA, phoneB, phoneC} {
		c, err := tx.Contact(p)
		if !missing("contact "+p, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "contact %s: %q %v\n", p, c.Name, c.Groups)
		}
		ms, err := tx.Messages(p, 100)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "messages of %s: %v\n", p, messageIDs(ms))
		es, err := tx.ActiveEnrollments(p)
		if err != nil {
			return "", err
		}
		ids := enrollmentIDs(es)
		slices.Sort(ids)
		fmt.Fprintf(&b, "active of %s: %v\n", p, ids)
		for _, a := range []string{"a", "b"} {
			e, err := tx.ActiveEnrollment(p, a)
			if !missing("active of "+p+" in "+a, err) {
				if err != nil {
					return "", err
				}
				fmt.Fprintf(&b, "active of %s in %s: %s\n", p, a, e.ID)
			}
		}
	}
	for _, g := range []string{"g", "h"} {
		cs, err := tx.ContactsInGroup(g, "", 100)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "group %s: %v\n", g, phones(cs))
	}
	for _, id := range []string{"m0001", "m0002"} {
		m, err := tx.Message(id)
		if !missing("message "+id, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "message %s: %s\n", id, m.Status)
		}
	}
	for _, pid := range []string{"SM0001", "SM0002"} {
		m, err := tx.MessageByProviderID("twilio", pid)
		if !missing("provider id "+pid, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "provider id %s: %s\n", pid, m.ID)
		}
	}
	out, err := tx.Outbox("", 100)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "outbox: %v\n", out)
	for _, id := range []string{"m0001", "m0002", "m0003"} {
		q, err := tx.QueuedSend(id)
		if !missing("queued send "+id, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "queued send %s: %s due %s owner %q until %s\n", id, q.Queue,
				q.Due.UTC().Format(time.RFC3339Nano), q.Owner, q.LeaseUntil.UTC().Format(time.RFC3339Nano))
		}
	}
	next, err := tx.NextSendDue()
	if !missing("next send due", err) {
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "next send due: %s\n", next.UTC().Format(time.RFC3339Nano))
	}
	for _, id := range []string{"e0001", "e0002"} {
		e, err := tx.Enrollment(id)
		if !missing("enrollment "+id, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "enrollment %s: %s\n", id, e.Status)
		}
	}
	es, err := tx.Enrollments("", "", false, 100)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "enrollments: %v\n", enrollmentIDs(es))
	n, err := tx.CountActive()
	if err != nil {
		return "", err
	}
	maps.DeleteFunc(n, func(_ string, v int) bool { return v == 0 })
	for _, a := range slices.Sorted(maps.Keys(n)) {
		fmt.Fprintf(&b, "count %s: %d\n", a, n[a])
	}
	ts, err := tx.DueTimers(farFuture, 100)
	if err != nil {
		return "", err
	}
	for _, tm := range ts {
		fmt.Fprintf(&b, "timer %s %s epoch %d\n", tm.Due.UTC().Format(time.RFC3339Nano), tm.Enrollment, tm.Epoch)
	}
	for _, k := range []string{"k", "k2"} {
		v, err := tx.Meta(k)
		if !missing("meta "+k, err) {
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "meta %s: %q\n", k, v)
		}
	}
	return b.String(), nil
}

// claim claims every due send for owner, leased for a minute from t0.
func claim(tx engine.Tx, owner string) error {
	_, err := tx.ClaimSends(t0, time.Minute, owner, 10)
	return err
}

func recoverSends(tx engine.Tx, owner string) error {
	_, err := tx.RecoverSends(owner)
	return err
}

// seed stores one of everything: a contact in group g, an inbound message
// with a provider id, queued, and a send queued to phoneC, both claimed by
// p; an active enrollment with its timer; a held
// timer of paused automation p; a meta value.
func seed(t *testing.T, s engine.Store) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error {
		c := contact(phoneA, "g")
		c.Name = "before"
		m := message("m0001", phoneA)
		m.Provider, m.ProviderID = "twilio", "SM0001"
		held := timer(t0.Add(-2*time.Hour), "e0009", "p")
		for _, err := range []error{
			tx.PutContact(c),
			tx.PutMessage(m),
			tx.Enqueue(m),
			tx.Enqueue(outbound("m0003", phoneC)),
			claim(tx, "p"),
			tx.PutEnrollment(enrollment("e0001", phoneA, "a", engine.EnrollmentWaiting)),
			tx.PutTimer(timer(t0.Add(-time.Hour), "e0001", "a")),
			tx.PutTimer(held),
			tx.HoldTimer(held),
			tx.PutMeta("k", []byte("before")),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// writeEverything changes everything seed stored, through every setter.
func writeEverything(tx engine.Tx) []error {
	c := contact(phoneA, "h")
	c.Name = "after"
	m1 := message("m0001", phoneA)
	m1.Provider, m1.ProviderID, m1.Status = "twilio", "SM0001", engine.StatusFailed
	m2 := message("m0002", phoneB)
	m2.Provider, m2.ProviderID = "twilio", "SM0002"
	_, released := tx.ReleaseTimers("p")
	return []error{
		tx.PutContact(c),
		tx.PutContact(contact(phoneB, "g")),
		tx.PutMessage(m1),
		tx.PutMessage(m2),
		tx.Enqueue(m2),
		tx.Dequeue("m0001"),
		tx.ReleaseSend("m0003", "p", t0.Add(time.Hour)),
		claim(tx, "w"),
		recoverSends(tx, "p"),
		tx.PutEnrollment(enrollment("e0001", phoneA, "a", engine.EnrollmentEnded)),
		tx.PutEnrollment(enrollment("e0002", phoneB, "b", engine.EnrollmentWaiting)),
		tx.PutTimer(timer(t0.Add(-3*time.Hour), "e0002", "b")),
		tx.DeleteTimer(timer(t0.Add(-time.Hour), "e0001", "a")),
		released,
		tx.HoldTimer(timer(t0.Add(-2*time.Hour), "e0009", "p")),
		tx.PutMeta("k", []byte("after")),
		tx.PutMeta("k2", []byte("new")),
	}
}

var setterNames = []string{"PutContact", "PutContact (new)", "PutMessage", "PutMessage (new)", "Enqueue", "Dequeue",
	"ReleaseSend", "ClaimSends", "RecoverSends",
	"PutEnrollment (end)", "PutEnrollment (new)", "PutTimer", "DeleteTimer", "ReleaseTimers", "HoldTimer", "PutMeta", "PutMeta (new)"}

// releaseHeld releases the held timers of automation p, in an Update that
// is rolled back, and returns how many there were.
func releaseHeld(t *testing.T, s engine.Store) int {
	t.Helper()
	var n int
	rolledBack(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.ReleaseTimers("p")
		return err
	})
	return n
}

func testRollback(t *testing.T, s engine.Store) {
	seed(t, s)
	before := read(t, s, dump)
	var during string
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		during = ""
		for i, err := range writeEverything(tx) {
			if err != nil {
				return fmt.Errorf("%s: %w", setterNames[i], err)
			}
		}
		var err error
		if during, err = dump(tx); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update whose function fails: err = %v, want %v", err, errBoom)
	}
	if during == before {
		t.Fatalf("the failing Update did not see its own writes:\n%s", during)
	}
	if after := read(t, s, dump); after != before {
		t.Errorf("a failed Update left writes behind.\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := releaseHeld(t, s); n != 1 {
		t.Errorf("after the failed Update released p's held timer: ReleaseTimers(p) = %d, want 1", n)
	}
}

func testViewRefusesWrites(t *testing.T, s engine.Store) {
	seed(t, s)
	before := read(t, s, dump)
	var accepted []string
	err := s.View(t.Context(), func(tx engine.Tx) error {
		accepted = nil
		for i, err := range writeEverything(tx) {
			if err == nil {
				accepted = append(accepted, setterNames[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("View: %v", err)
	}
	if len(accepted) > 0 {
		t.Errorf("in a View, these setters returned no error: %v", accepted)
	}
	if after := read(t, s, dump); after != before {
		t.Errorf("writes in a View were kept.\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := releaseHeld(t, s); n != 1 {
		t.Errorf("after a View released p's held timer: ReleaseTimers(p) = %d, want 1", n)
	}
}

func testReadsOwnWrites(t *testing.T, s engine.Store) {
	seed(t, s)
	// Every check runs inside one Update, after the write it reads.
	var checks []struct {
		name string
		read func(tx engine.Tx) (string, error)
		want string
	}
	check := func(name, want string, read func(tx engine.Tx) (string, error)) {
		checks = append(checks, struct {
			name string
			read func(tx engine.Tx) (string, error)
			want string
		}{name, read, want})
	}
	check("Contact", `"after"`, func(tx engine.Tx) (string, error) {
		c, err := tx.Contact(phoneA)
		if err != nil {
			return "", err
		}
		return strconv.Quote(c.Name), nil
	})
	check("ContactsInGroup(g)", fmt.Sprint([]string{phoneB}), func(tx engine.Tx) (string, error) {
		cs, err := tx.ContactsInGroup("g", "", 100)
		return fmt.Sprint(phones(cs)), err
	})
	check("ContactsInGroup(h)", fmt.Sprint([]string{phoneA}), func(tx engine.Tx) (string, error) {
		cs, err := tx.ContactsInGroup("h", "", 100)
		return fmt.Sprint(phones(cs)), err
	})
	check("Message", string(engine.StatusFailed), func(tx engine.Tx) (string, error) {
		m, err := tx.Message("m0001")
		if err != nil {
			return "", err
		}
		return string(m.Status), nil
	})
	check("MessageByProviderID", "m0002", func(tx engine.Tx) (string, error) {
		m, err := tx.MessageByProviderID("twilio", "SM0002")
		if err != nil {
			return "", err
		}
		return m.ID, nil
	})
	check("Messages", "[m0002]", func(tx engine.Tx) (string, error) {
		ms, err := tx.Messages(phoneB, 10)
		return fmt.Sprint(messageIDs(ms)), err
	})
	check("Outbox", "[m0002 m0003]", func(tx engine.Tx) (string, error) {
		ids, err := tx.Outbox("", 10)
		return fmt.Sprint(ids), err
	})
	// m0001 went; m0002 behind it became the head of their queue and w
	// claimed it; p released m0003 until an hour later.
	check("QueuedSend", "w "+t0.Add(time.Minute).Format(time.RFC3339), func(tx engine.Tx) (string, error) {
		q, err := tx.QueuedSend("m0002")
		if err != nil {
			return "", err
		}
		return q.Owner + " " + q.LeaseUntil.UTC().Format(time.RFC3339), nil
	})
	check("NextSendDue", t0.Add(time.Minute).Format(time.RFC3339), func(tx engine.Tx) (string, error) {
		due, err := tx.NextSendDue()
		return due.UTC().Format(time.RFC3339), err
	})
	check("Enrollment", string(engine.EnrollmentEnded), func(tx engine.Tx) (string, error) {
		e, err := tx.Enrollment("e0001")
		if err != nil {
			return "", err
		}
		return string(e.Status), nil
	})
	check("ActiveEnrollment", "e0002", func(tx engine.Tx) (string, error) {
		e, err := tx.ActiveEnrollment(phoneB, "b")
		if err != nil {
			return "", err
		}
		return e.ID, nil
	})
	check("ActiveEnrollments", "[]", func(tx engine.Tx) (string, error) {
		es, err := tx.ActiveEnrollments(phoneA)
		return fmt.Sprint(enrollmentIDs(es)), err
	})
	check("Enrollments", "[e0002]", func(tx engine.Tx) (string, error) {
		es, err := tx.Enrollments("", "", true, 10)
		return fmt.Sprint(enrollmentIDs(es)), err
	})
	check("CountActive", "map[b:1]", func(tx engine.Tx) (string, error) {
		n, err := tx.CountActive()
		maps.DeleteFunc(n, func(_ string, v int) bool { return v == 0 })
		return fmt.Sprint(n), err
	})
	// Released e0009 is held again by writeEverything; e0001's timer is
	// deleted; e0002's is new.
	check("DueTimers", "[e0002]", func(tx engine.Tx) (string, error) {
		ts, err := tx.DueTimers(farFuture, 100)
		return fmt.Sprint(timerIDs(ts)), err
	})
	check("Meta", "new", func(tx engine.Tx) (string, error) {
		v, err := tx.Meta("k2")
		return string(v), err
	})
	check("ReleaseTimers then DueTimers", "[e0002 e0009]", func(tx engine.Tx) (string, error) {
		if _, err := tx.ReleaseTimers("p"); err != nil {
			return "", err
		}
		ts, err := tx.DueTimers(t0, 100)
		return fmt.Sprint(timerIDs(ts)), err
	})

	var wrong []string
	update(t, s, func(tx engine.Tx) error {
		wrong = nil
		for i, err := range writeEverything(tx) {
			if err != nil {
				return fmt.Errorf("%s: %w", setterNames[i], err)
			}
		}
		for _, c := range checks {
			got, err := c.read(tx)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if got != c.want {
				wrong = append(wrong, fmt.Sprintf("%s = %s, want %s", c.name, got, c.want))
			}
		}
		return nil
	})
	for _, w := range wrong {
		t.Errorf("in the Update that wrote: %s", w)
	}
}

func testConcurrentUpdates(t *testing.T, s engine.Store) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- s.Update(t.Context(), func(tx engine.Tx) error {
					n := 0
					v, err := tx.Meta("counter")
					switch {
					case errors.Is(err, engine.ErrNotFound):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.PutMeta("counter", []byte(strconv.Itoa(n+1)))
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	got := read(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("counter") })
	if want := strconv.Itoa(workers * each); string(got) != want {
		t.Errorf("after %d concurrent increments the counter is %s", workers*each, got)
	}
}

func testViewsTogether(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("k", []byte("v")) })
	in := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			errs <- s.View(t.Context(), func(tx engine.Tx) error {
				if _, err := tx.Meta("k"); err != nil {
					return err
				}
				once[i].Do(func() { close(in[i]) })
				select {
				case <-in[1-i]:
					return nil
				case <-time.After(5 * time.Second):
					return errors.New("the other View did not run while this one was open")
				}
			})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func testViewSeesCommitted(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("k", []byte("committed")) })
	var inFn atomic.Bool
	written := make(chan struct{}, 1)
	viewed := make(chan string, 1)
	var seen string

	go func() {
		<-written
		var saw string
		err := s.View(t.Context(), func(tx engine.Tx) error {
			v, err := tx.Meta("k")
			saw = string(v)
			// A View that waited for the Update may see its write; one
			// that ran beside it may not.
			if saw == "uncommitted" && inFn.Load() {
				saw = "uncommitted, while the Update was running"
			}
			return err
		})
		if err != nil {
			saw = err.Error()
		}
		viewed <- saw
	}()

	update(t, s, func(tx engine.Tx) error {
		inFn.Store(true)
		defer inFn.Store(false)
		if err := tx.PutMeta("k", []byte("uncommitted")); err != nil {
			return err
		}
		select {
		case written <- struct{}{}:
		default:
		}
		select {
		case seen = <-viewed: // the View ran beside this Update
		case <-time.After(time.Second): // the store makes Views wait for Updates
		}
		return nil
	})
	if seen == "" {
		seen = <-viewed
	}
	if seen != "committed" && seen != "uncommitted" {
		t.Errorf("a View beside an Update read %q, want \"committed\"", seen)
	}
	if got := read(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("k") }); string(got) != "uncommitted" {
		t.Errorf("after the Update: Meta = %q", got)
	}
}

func testClose(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("k", []byte("v")) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ran := false
	if err := s.Update(t.Context(), func(engine.Tx) error { ran = true; return nil }); err == nil {
		t.Error("Update after Close: no error")
	}
	if err := s.View(t.Context(), func(engine.Tx) error { ran = true; return nil }); err == nil {
		t.Error("View after Close: no error")
	}
	if ran {
		t.Error("a transaction ran after Close")
	}
}
