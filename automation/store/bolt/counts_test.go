package bolt_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// counted is what the store's counters say and what a full scan finds.
type counted struct {
	timers, handoffs int
	active           map[string]int
}

func countersOf(t *testing.T, s *bolt.Bolt) (kept, scanned counted) {
	t.Helper()
	err := s.View(context.Background(), func(tx engine.Tx) error {
		c := tx.(interface {
			PendingTimers() (int, error)
			OpenHandoffCount() (int, error)
		})
		var err error
		if kept.timers, err = c.PendingTimers(); err != nil {
			return err
		}
		if kept.handoffs, err = c.OpenHandoffCount(); err != nil {
			return err
		}
		if kept.active, err = tx.CountActive(); err != nil {
			return err
		}
		due, err := tx.DueTimers(time.Unix(1<<40, 0), 1<<30)
		if err != nil {
			return err
		}
		scanned.timers = len(due)
		open, err := engine.OpenHandoffs(tx)
		scanned.handoffs = len(open)
		scanned.active = map[string]int{}
		all, err := tx.Enrollments("", "", true, 0)
		for _, e := range all {
			scanned.active[e.Automation]++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return kept, scanned
}

func sameCounts(a, b counted) bool {
	return a.timers == b.timers && a.handoffs == b.handoffs && maps.Equal(a.active, b.active)
}

// fillStore makes timers and enrollments come and go: timers put twice,
// deleted, held and released; enrollments started, replaced, ended, and at
// a handoff and off it again.
func fillStore(t *testing.T, s *bolt.Bolt) {
	t.Helper()
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	en := func(id, phone, auto string, st engine.EnrollmentStatus) *engine.Enrollment {
		e := &engine.Enrollment{ID: id, Automation: auto, Contact: phone, Status: st, Step: "#1", StartedAt: due}
		if st == engine.EnrollmentHandoff {
			e.Handoff = &engine.Handoff{Ref: "r" + id, Staff: []string{"+15559999999"}, Since: due}
		}
		return e
	}
	steps := []func(tx engine.Tx) error{
		func(tx engine.Tx) error {
			for i := range 10 {
				phone := fmt.Sprintf("+1555000%04d", i)
				if err := tx.PutEnrollment(en(fmt.Sprintf("a%02d", i), phone, "join", engine.EnrollmentWaiting)); err != nil {
					return err
				}
				tm := engine.Timer{Due: due.Add(time.Duration(i) * time.Minute), Enrollment: fmt.Sprintf("a%02d", i), Automation: "join"}
				if err := tx.PutTimer(tm); err != nil {
					return err
				}
				if err := tx.PutTimer(tm); err != nil { // the same timer again
					return err
				}
			}
			return tx.PutEnrollment(en("b00", "+15550000000", "other", engine.EnrollmentHandoff))
		},
		func(tx engine.Tx) error {
			if err := tx.DeleteTimer(engine.Timer{Due: due, Enrollment: "a00"}); err != nil {
				return err
			}
			if err := tx.DeleteTimer(engine.Timer{Due: due, Enrollment: "a00"}); err != nil { // gone already
				return err
			}
			if err := tx.HoldTimer(engine.Timer{Due: due.Add(time.Minute), Enrollment: "a01", Automation: "join"}); err != nil {
				return err
			}
			if err := tx.PutEnrollment(en("a02", "+15550000002", "join", engine.EnrollmentEnded)); err != nil {
				return err
			}
			if err := tx.PutEnrollment(en("a03", "+15550000003", "join", engine.EnrollmentEnded)); err != nil {
				return err
			}
			if err := tx.PutEnrollment(en("a03", "+15550000003", "join", engine.EnrollmentEnded)); err != nil { // ended twice
				return err
			}
			// A new enrollment takes the place of a04 as the active one.
			if err := tx.PutEnrollment(en("a04b", "+15550000004", "join", engine.EnrollmentHandoff)); err != nil {
				return err
			}
			return tx.PutEnrollment(en("a05", "+15550000005", "join", engine.EnrollmentHandoff))
		},
		func(tx engine.Tx) error {
			if err := tx.PutEnrollment(en("a05", "+15550000005", "join", engine.EnrollmentWaiting)); err != nil {
				return err
			}
			_, err := tx.ReleaseTimers("join")
			return err
		},
	}
	for _, fn := range steps {
		if err := s.Update(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
}

// The counters the store keeps for /metrics agree with full scans of the
// timers and the active enrollments, whatever came and went.
func TestCountersAgreeWithScans(t *testing.T) {
	s := open(t)
	fillStore(t, s)
	kept, scanned := countersOf(t, s)
	if !sameCounts(kept, scanned) {
		t.Errorf("counters %+v, scans %+v", kept, scanned)
	}
	if kept.timers != 9 || kept.handoffs != 2 || kept.active["join"] != 8 || kept.active["other"] != 1 {
		t.Errorf("counters %+v, want 9 timers, 2 handoffs, 8 active in join and 1 in other", kept)
	}
}

// A data file from before the counters gets them at Open, from its timers
// and active enrollments.
func TestOpenCountsAnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fillStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Take the counters out, as a keyway from before them wrote the file.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range []string{"counts", "handoffs"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	kept, scanned := countersOf(t, s)
	if !sameCounts(kept, scanned) || kept.timers != 9 || kept.handoffs != 2 {
		t.Errorf("after Open: counters %+v, scans %+v", kept, scanned)
	}
}
