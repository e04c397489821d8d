package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

func init() {
	enrollmentCases = append(enrollmentCases, testCase{"enrollment/active-of-pages", testActiveEnrollmentsOf})
}

// testActiveEnrollmentsOf pages through one automation's active
// enrollments in id order: ended ones and other automations' are left out,
// each page starts after the id given, and every active one comes once.
func testActiveEnrollmentsOf(t *testing.T, s engine.Store) {
	var want []string
	var all []*engine.Enrollment
	for i := range 25 {
		phone := fmt.Sprintf("+1555000%04d", i)
		join := enrollment(fmt.Sprintf("e%04d", i), phone, "join", engine.EnrollmentWaiting)
		other := enrollment(fmt.Sprintf("f%04d", i), phone, "other", engine.EnrollmentWaiting)
		if i%3 == 0 {
			join.Status = engine.EnrollmentEnded
		} else {
			want = append(want, join.ID)
		}
		all = append(all, join, other)
	}
	update(t, s, putEnrollments(all...))
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 25 {
			t.Fatalf("paging does not end: %v", got)
		}
		page := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) { return tx.ActiveEnrollmentsOf("join", after, 4) })
		if len(page) > 4 {
			t.Fatalf("a page of %d, limit 4", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Automation != "join" || !e.Active() {
				t.Errorf("listed %s: %s in %q", e.ID, e.Status, e.Automation)
			}
		}
		got = append(got, enrollmentIDs(page)...)
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	if all := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) { return tx.ActiveEnrollmentsOf("join", "", 0) }); !slices.Equal(enrollmentIDs(all), want) {
		t.Errorf("no limit = %v, want %v", enrollmentIDs(all), want)
	}
	if none := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) { return tx.ActiveEnrollmentsOf("gone", "", 10) }); len(none) != 0 {
		t.Errorf("an automation without enrollments lists %v", enrollmentIDs(none))
	}
}
