package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// putCountingStore counts the enrollments its transactions store, by id.
type putCountingStore struct {
	engine.Store
	puts map[string]int
}

func (s *putCountingStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.Update(ctx, func(tx engine.Tx) error { return fn(putCountingTx{tx, s}) })
}

type putCountingTx struct {
	engine.Tx
	s *putCountingStore
}

func (t putCountingTx) PutEnrollment(e *engine.Enrollment) error {
	t.s.puts[e.ID]++
	return t.Tx.PutEnrollment(e)
}

// A turn stores each enrollment it moved once, as it left it: a one-step
// automation that starts and ends in one webhook is written once, not
// twice, and so is one that starts and pauses at a question. What is
// stored is what the turn did: ended, or waiting, and the active index
// agrees.
func TestATurnStoresEachEnrollmentOnce(t *testing.T) {
	ctx := context.Background()
	s := &putCountingStore{Store: mem.NewMemStore(), puts: map[string]int{}}
	e := engine.New(s, compileSet(t, `
automations:
  - id: hours
    keywords: [HOURS]
    steps:
      - { type: reply, text: "Open 9-5." }
  - id: quiz
    keywords: [QUIZ]
    overwrite_if_exists: true
    steps:
      - { type: reply, text: "Your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
`), engine.Options{})
	n := 0
	text := func(body string) {
		t.Helper()
		n++
		if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: fmt.Sprintf("SM%d", n), Channel: "sms",
			From: "+15550001111", To: "+15005550006", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(automation string, active bool) []*engine.Enrollment {
		t.Helper()
		var out []*engine.Enrollment
		err := s.View(ctx, func(tx engine.Tx) error {
			var err error
			out, err = tx.Enrollments(automation, "+15550001111", active, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	text("HOURS")
	ens := stored("hours", false)
	if len(ens) != 1 || ens[0].Status != engine.EnrollmentEnded || ens[0].EndReason != engine.ReasonCompleted {
		t.Fatalf("hours: want one completed enrollment, got %+v", ens)
	}
	if got := s.puts[ens[0].ID]; got != 1 {
		t.Errorf("hours: the enrollment was stored %d times in its one turn, want 1", got)
	}
	if act := stored("hours", true); len(act) != 0 {
		t.Errorf("hours: still active: %+v", act)
	}

	text("QUIZ")
	first := stored("quiz", true)
	if len(first) != 1 || first[0].Status != engine.EnrollmentWaitingReply {
		t.Fatalf("quiz: want one enrollment waiting for a reply, got %+v", first)
	}
	if got := s.puts[first[0].ID]; got != 1 {
		t.Errorf("quiz: the enrollment was stored %d times in its one turn, want 1", got)
	}

	// A restart in one turn: the old one is ended and the new one takes
	// its place in the active index, each stored once in that turn.
	text("QUIZ")
	second := stored("quiz", true)
	if len(second) != 1 || second[0].ID == first[0].ID {
		t.Fatalf("quiz restarted: want one new active enrollment, got %+v", second)
	}
	all := stored("quiz", false)
	if len(all) != 2 {
		t.Fatalf("quiz: want 2 enrollments, got %d", len(all))
	}
	for _, en := range all {
		if en.ID == first[0].ID && (en.Status != engine.EnrollmentEnded || en.EndReason != "restarted by a new enrollment") {
			t.Errorf("quiz: the first enrollment is %s (%q), want ended as restarted", en.Status, en.EndReason)
		}
	}
	if s.puts[first[0].ID] != 2 || s.puts[second[0].ID] != 1 {
		t.Errorf("quiz restarted: stored %d and %d times, want 2 (once a turn) and 1", s.puts[first[0].ID], s.puts[second[0].ID])
	}

	// The answer resumes the new one, which ends.
	text("Ann")
	if act := stored("quiz", true); len(act) != 0 {
		t.Errorf("quiz answered: still active: %+v", act)
	}
	if s.puts[second[0].ID] != 2 {
		t.Errorf("quiz answered: stored %d times, want 2 (once a turn)", s.puts[second[0].ID])
	}
}
