package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var enrollmentCases = []testCase{
	{"enrollment/round-trip", testEnrollmentRoundTrip},
	{"enrollment/copies", testEnrollmentCopies},
	{"enrollment/active-index", testActiveIndex},
	{"enrollment/active-replaced", testActiveReplaced},
	{"enrollment/list", testEnrollmentList},
}

func testEnrollmentRoundTrip(t *testing.T, s engine.Store) {
	wait := t0.Add(24 * time.Hour)
	want := &engine.Enrollment{
		ID:         "e0001",
		Automation: "join",
		Contact:    phoneA,
		Channel:    "whatsapp",
		Status:     engine.EnrollmentWaitingReply,
		Step:       "ask",
		StepType:   "wait_for_reply",
		Epoch:      4,
		// JSON's own types, so that a store encoding to JSON returns
		// the same values.
		Vars:      map[string]any{"name": "Ann", "score": 3.5, "list": []any{"x", true}},
		HTTP:      map[string]any{"status": 200.0, "json": map[string]any{"ok": true}},
		WaitUntil: &wait,
		Trigger:   "m0001",
		Refused:   "ask@2026-01-05T09:00:00Z",
		StartedAt: t0,
		UpdatedAt: t0.Add(time.Minute),
	}
	update(t, s, putEnrollments(want))
	got := read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.Enrollment("e0001") })
	if !sameEnrollment(got, want) {
		t.Errorf("Enrollment = %+v, want %+v", got, want)
	}

	ended := *want
	ended.Status, ended.EndedAt, ended.EndReason, ended.WaitUntil = engine.EnrollmentEnded, &wait, "step removed", nil
	update(t, s, putEnrollments(&ended))
	got = read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.Enrollment("e0001") })
	if !sameEnrollment(got, &ended) {
		t.Errorf("an ended enrollment is still readable by id: Enrollment = %+v, want %+v", got, &ended)
	}
}

func testEnrollmentCopies(t *testing.T, s engine.Store) {
	e := enrollment("e0001", phoneA, "join", engine.EnrollmentWaiting)
	e.Vars = map[string]any{"name": "Ann"}
	update(t, s, putEnrollments(e))
	e.Vars["name"], e.Step = "changed after put", "changed after put"

	got := read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.Enrollment("e0001") })
	if got.Vars["name"] != "Ann" || got.Step != "#1" {
		t.Fatalf("stored enrollment follows the caller's value: %+v", got)
	}
	got.Vars["name"], got.Status = "mutated", engine.EnrollmentEnded
	again := read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.ActiveEnrollment(phoneA, "join") })
	if again.Vars["name"] != "Ann" || again.Status != engine.EnrollmentWaiting {
		t.Errorf("changing a returned enrollment changed the store: %+v", again)
	}
}

func activeIDs(t *testing.T, s engine.Store, contact string) []string {
	t.Helper()
	ids := enrollmentIDs(read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) { return tx.ActiveEnrollments(contact) }))
	slices.Sort(ids) // the interface fixes no order
	return ids
}

func activeID(t *testing.T, s engine.Store, contact, auto string) string {
	t.Helper()
	e, err := tryRead(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.ActiveEnrollment(contact, auto) })
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return "none"
	case err != nil:
		t.Fatalf("ActiveEnrollment(%s, %s): %v", contact, auto, err)
	}
	return e.ID
}

// countActive returns CountActive without the automations counted 0, which
// a store may or may not list.
func countActive(t *testing.T, s engine.Store) map[string]int {
	t.Helper()
	n := read(t, s, func(tx engine.Tx) (map[string]int, error) { return tx.CountActive() })
	maps.DeleteFunc(n, func(_ string, v int) bool { return v == 0 })
	return n
}

func testActiveIndex(t *testing.T, s engine.Store) {
	update(t, s, putEnrollments(
		enrollment("e0001", phoneA, "a", engine.EnrollmentWaiting),
		enrollment("e0002", phoneA, "b", engine.EnrollmentWaitingReply),
		enrollment("e0003", phoneB, "a", engine.EnrollmentPending),
		enrollment("e0004", phoneB, "c", engine.EnrollmentEnded),
	))
	for _, tt := range []struct{ contact, auto, want string }{
		{phoneA, "a", "e0001"},
		{phoneA, "b", "e0002"},
		{phoneB, "a", "e0003"},
		{phoneB, "b", "none"},
		{phoneB, "c", "none"}, // put ended: never active
		{phoneC, "a", "none"},
	} {
		if got := activeID(t, s, tt.contact, tt.auto); got != tt.want {
			t.Errorf("ActiveEnrollment(%s, %s) = %s, want %s", tt.contact, tt.auto, got, tt.want)
		}
	}
	if got := activeIDs(t, s, phoneA); !sameStrings(got, []string{"e0001", "e0002"}) {
		t.Errorf("ActiveEnrollments(%s) = %v, want [e0001 e0002]", phoneA, got)
	}
	if got := activeIDs(t, s, phoneB); !sameStrings(got, []string{"e0003"}) {
		t.Errorf("ActiveEnrollments(%s) = %v, want [e0003]", phoneB, got)
	}
	if got := activeIDs(t, s, phoneC); len(got) != 0 {
		t.Errorf("ActiveEnrollments(%s) = %v, want none", phoneC, got)
	}
	if got, want := countActive(t, s), map[string]int{"a": 2, "b": 1}; !maps.Equal(got, want) {
		t.Errorf("CountActive = %v, want %v", got, want)
	}

	// e0001 ends: it leaves the active index, and stays readable by id.
	update(t, s, func(tx engine.Tx) error {
		e, err := tx.Enrollment("e0001")
		if err != nil {
			return err
		}
		e.Status, e.EndedAt, e.EndReason = engine.EnrollmentEnded, &t0, "done"
		return tx.PutEnrollment(e)
	})
	if got := activeID(t, s, phoneA, "a"); got != "none" {
		t.Errorf("after e0001 ended: ActiveEnrollment(%s, a) = %s, want none", phoneA, got)
	}
	if got := activeIDs(t, s, phoneA); !sameStrings(got, []string{"e0002"}) {
		t.Errorf("after e0001 ended: ActiveEnrollments(%s) = %v, want [e0002]", phoneA, got)
	}
	if got, want := countActive(t, s), map[string]int{"a": 1, "b": 1}; !maps.Equal(got, want) {
		t.Errorf("after e0001 ended: CountActive = %v, want %v", got, want)
	}
	if e := read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.Enrollment("e0001") }); e.Active() {
		t.Errorf("after e0001 ended: Enrollment(e0001).Status = %q", e.Status)
	}
}

func testActiveReplaced(t *testing.T, s engine.Store) {
	update(t, s, putEnrollments(enrollment("e0001", phoneA, "join", engine.EnrollmentWaiting)))
	// The contact texts JOIN again with overwrite_if_exists: the old
	// enrollment ends and a new one starts, in one transaction.
	update(t, s, putEnrollments(
		enrollment("e0001", phoneA, "join", engine.EnrollmentEnded),
		enrollment("e0002", phoneA, "join", engine.EnrollmentWaiting),
	))
	if got := activeID(t, s, phoneA, "join"); got != "e0002" {
		t.Fatalf("after restart: ActiveEnrollment = %s, want e0002", got)
	}
	// The old one is put again, still ended: the index, pointing at the
	// new one, stays.
	update(t, s, func(tx engine.Tx) error {
		old := enrollment("e0001", phoneA, "join", engine.EnrollmentEnded)
		old.EndReason = "restarted"
		return tx.PutEnrollment(old)
	})
	if got := activeID(t, s, phoneA, "join"); got != "e0002" {
		t.Errorf("after the ended one was put again: ActiveEnrollment = %s, want e0002", got)
	}
	if got := activeIDs(t, s, phoneA); !sameStrings(got, []string{"e0002"}) {
		t.Errorf("ActiveEnrollments = %v, want [e0002]", got)
	}
	if got, want := countActive(t, s), map[string]int{"join": 1}; !maps.Equal(got, want) {
		t.Errorf("CountActive = %v, want %v", got, want)
	}
	got := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) {
		return tx.Enrollments("join", phoneA, true, 100)
	})
	if !sameStrings(enrollmentIDs(got), []string{"e0002"}) {
		t.Errorf("Enrollments(join, %s, active) = %v, want [e0002]", phoneA, enrollmentIDs(got))
	}

	// A restart may also start the new enrollment before it ends the old
	// one: the last active one put takes the index, and ending the one it
	// replaced leaves it there.
	update(t, s, putEnrollments(
		enrollment("e0003", phoneA, "join", engine.EnrollmentWaiting),
		enrollment("e0002", phoneA, "join", engine.EnrollmentEnded),
	))
	if got := activeID(t, s, phoneA, "join"); got != "e0003" {
		t.Errorf("after starting e0003, then ending e0002: ActiveEnrollment = %s, want e0003", got)
	}
	if got, want := countActive(t, s), map[string]int{"join": 1}; !maps.Equal(got, want) {
		t.Errorf("CountActive = %v, want %v", got, want)
	}

	// Then the new one ends too.
	update(t, s, putEnrollments(enrollment("e0003", phoneA, "join", engine.EnrollmentEnded)))
	if got := activeID(t, s, phoneA, "join"); got != "none" {
		t.Errorf("after both ended: ActiveEnrollment = %s, want none", got)
	}
	if got := countActive(t, s); len(got) != 0 {
		t.Errorf("after both ended: CountActive = %v, want none", got)
	}
}

func testEnrollmentList(t *testing.T, s engine.Store) {
	const ended, waiting = engine.EnrollmentEnded, engine.EnrollmentWaiting
	// Put out of order. "ab" has "a" as prefix, phoneB has phoneA.
	update(t, s, putEnrollments(
		enrollment("e0006", phoneA, "a", waiting),
		enrollment("e0001", phoneA, "a", ended),
		enrollment("e0008", phoneB, "b", waiting),
		enrollment("e0003", phoneA, "b", waiting),
	))
	update(t, s, putEnrollments(
		enrollment("e0005", phoneB, "b", ended),
		enrollment("e0002", phoneB, "a", waiting),
		enrollment("e0007", phoneA, "ab", waiting),
		enrollment("e0004", phoneA, "a", ended),
	))
	tests := []struct {
		auto, contact string
		activeOnly    bool
		limit         int
		want          []string
	}{
		{"", "", false, 100, []string{"e0008", "e0007", "e0006", "e0005", "e0004", "e0003", "e0002", "e0001"}},
		{"", "", false, 3, []string{"e0008", "e0007", "e0006"}},
		{"", "", true, 100, []string{"e0008", "e0007", "e0006", "e0003", "e0002"}},
		{"a", "", false, 100, []string{"e0006", "e0004", "e0002", "e0001"}},
		{"a", "", true, 100, []string{"e0006", "e0002"}},
		{"b", "", true, 1, []string{"e0008"}},
		{"", phoneA, false, 100, []string{"e0007", "e0006", "e0004", "e0003", "e0001"}},
		{"", phoneB, false, 2, []string{"e0008", "e0005"}},
		{"a", phoneA, false, 100, []string{"e0006", "e0004", "e0001"}},
		{"a", phoneA, false, 2, []string{"e0006", "e0004"}},
		{"a", phoneA, true, 100, []string{"e0006"}},
		{"zz", "", false, 100, nil},
		{"", phoneC, false, 100, nil},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) {
			return tx.Enrollments(tt.auto, tt.contact, tt.activeOnly, tt.limit)
		})
		if !sameStrings(enrollmentIDs(got), tt.want) {
			t.Errorf("Enrollments(%q, %q, %v, %d) = %v, want %v", tt.auto, tt.contact, tt.activeOnly, tt.limit, enrollmentIDs(got), tt.want)
		}
	}
	if got, want := countActive(t, s), map[string]int{"a": 2, "ab": 1, "b": 2}; !maps.Equal(got, want) {
		t.Errorf("CountActive = %v, want %v", got, want)
	}
}
