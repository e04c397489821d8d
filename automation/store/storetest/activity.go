package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var activityCases = []testCase{
	{"activity/counted-with-the-writes", testActivityCounted},
	{"activity/rolled-back-with-the-writes", testActivityRolledBack},
	{"activity/range", testActivityRange},
}

// activityLines renders counts as "hour kind automation=n" lines, hours
// as offsets from t0's hour, for readable comparisons.
func activityLines(as []engine.Activity) string {
	base := engine.ActivityHour(t0)
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%+dh %s %s=%d\n", int(a.Hour.Sub(base)/time.Hour), a.Kind, a.Automation, a.N)
	}
	return b.String()
}

func activity(t *testing.T, s engine.Store, from, to time.Time) string {
	t.Helper()
	return activityLines(read(t, s, func(tx engine.Tx) ([]engine.Activity, error) { return tx.Activity(from, to) }))
}

// Every store counts what its writes do, by the same rules: a message
// stored for the first time counts in or out at the hour it was created;
// stored again it counts nothing, unless its status becomes a failure,
// which counts once, at the hour of that update; a contact counts when it
// becomes opted out, at the hour of its opt-out; an enrollment counts for
// its automation when first stored. Pruning messages leaves the counts.
func testActivityCounted(t *testing.T, s engine.Store) {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	in1, in2 := message("m0001", phoneA), message("m0002", phoneB)
	in2.CreatedAt = h(1).Add(30 * time.Minute)
	out1, out2 := outbound("m0003", phoneA), outbound("m0004", phoneB)
	update(t, s, putMessages(in1, in2, out1, out2, in1)) // in1 twice: one message
	// Sent, then failed an hour later, then reported undelivered: one failure.
	out1.Status = engine.StatusSent
	update(t, s, putMessages(out1))
	out1.Status, out1.UpdatedAt = engine.StatusFailed, h(2)
	update(t, s, putMessages(out1))
	out1.Status, out1.UpdatedAt = "undelivered", h(3)
	update(t, s, putMessages(out1))
	// A new message stored failed at once counts out (at its creation) and
	// failed (at its update).
	out3 := outbound("m0005", phoneC)
	out3.Status, out3.UpdatedAt = engine.StatusFailed, h(1)
	update(t, s, putMessages(out3))

	// A contact stored opted out counts once, whatever puts follow; one
	// opted out later counts at the hour of its opt-out; one opted back in
	// and out again counts twice.
	a, b := contact(phoneA), contact(phoneB)
	update(t, s, putContacts(a, b))
	at := h(2)
	a.OptedOut, a.OptedOutAt = true, &at
	update(t, s, putContacts(a))
	a.Name = "renamed"
	update(t, s, putContacts(a))
	c := contact(phoneC)
	c.OptedOut, c.UpdatedAt = true, h(1)
	update(t, s, putContacts(c))
	c.OptedOut = false
	update(t, s, putContacts(c))
	c.OptedOut, c.UpdatedAt = true, h(3)
	update(t, s, putContacts(c))

	// Enrollments count when first stored, by automation.
	e1, e2, e3 := enrollment("e0001", phoneA, "welcome", engine.EnrollmentWaiting), enrollment("e0002", phoneB, "welcome", engine.EnrollmentWaiting),
		enrollment("e0003", phoneA, "survey", engine.EnrollmentWaiting)
	e3.StartedAt = h(1)
	update(t, s, putEnrollments(e1, e2, e3))
	e1.Status, e1.Epoch = engine.EnrollmentEnded, 2
	update(t, s, putEnrollments(e1))

	want := `+0h enrolled welcome=2
+0h in =1
+0h out =3
+1h enrolled survey=1
+1h failed =1
+1h in =1
+1h opted_out =1
+2h failed =1
+2h opted_out =1
+3h opted_out =1
`
	from, to := t0.Add(-24*time.Hour), t0.Add(24*time.Hour)
	if got := activity(t, s, from, to); got != want {
		t.Errorf("Activity:\n%s\nwant:\n%s", got, want)
	}
	update(t, s, func(tx engine.Tx) error { _, err := tx.PruneMessages(h(5), 0); return err })
	if got := activity(t, s, from, to); got != want {
		t.Errorf("Activity after pruning messages:\n%s\nwant as before:\n%s", got, want)
	}
}

// A transaction that fails keeps none of its counts.
func testActivityRolledBack(t *testing.T, s engine.Store) {
	rolledBack(t, s, func(tx engine.Tx) error {
		if err := putMessages(message("m0001", phoneA))(tx); err != nil {
			return err
		}
		return putEnrollments(enrollment("e0001", phoneA, "welcome", engine.EnrollmentWaiting))(tx)
	})
	if got := activity(t, s, t0.Add(-time.Hour), t0.Add(time.Hour)); got != "" {
		t.Errorf("Activity after a rolled back write:\n%s\nwant none", got)
	}
}

// Activity returns the hours from the hour of from up to, not including,
// the hour of to.
func testActivityRange(t *testing.T, s engine.Store) {
	var ms []*engine.Message
	for i := range 5 {
		m := message(fmt.Sprintf("m%04d", i+1), phoneA)
		m.CreatedAt = t0.Add(time.Duration(i) * time.Hour)
		ms = append(ms, m)
	}
	update(t, s, putMessages(ms...))
	base := engine.ActivityHour(t0)
	got := activity(t, s, base.Add(time.Hour+time.Minute), base.Add(3*time.Hour+59*time.Minute))
	if want := "+1h in =1\n+2h in =1\n"; got != want {
		t.Errorf("Activity(+1h01m, +3h59m):\n%s\nwant:\n%s", got, want)
	}
	if got := activity(t, s, t0.Add(10*time.Hour), t0.Add(20*time.Hour)); got != "" {
		t.Errorf("Activity of empty hours:\n%s\nwant none", got)
	}
}
