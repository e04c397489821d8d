package test

import (
	"strings"
	"testing"
)

// simulate works from a pipe: a scripted chat through the starter pack.
func TestSimulateFromAPipe(t *testing.T) {
	t.Parallel()
	script := "JOIN\nAnn\n/contact\nJOIN\n/wait 25h\nSTOP\nhours\n/from +15559990000\nhours\n"
	code, out := Keyway(t, script, "simulate", "--config", "../config/examples/starter.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := []string{
		"[join step #1] added to group newsletter",
		"reply → +15550001111 (sms from +15005550006): Welcome to Acme Coffee! What is your first name?",
		"reply → +15550001111 (sms from +15005550006): Thanks Ann! Deals arrive on Mondays.",
		// /contact, for people: not a Go map
		"  contact +15550001111\n    groups:    newsletter\n    tags:      none\n    opted out: no\n    fields:\n      first_name: Ann\n",
		"No worries, you are on the list.", // the 24h timeout after the second JOIN
		"You are unsubscribed. Reply START to resubscribe.",
		"We are open Mon-Fri 7am-6pm, Sat-Sun 8am-4pm. [NOT SENT: contact opted out]",
		"reply → +15559990000 (sms from +15005550006): We are open Mon-Fri 7am-6pm, Sat-Sun 8am-4pm.\n",
	}
	inOrder(t, out, want)
}

// The appointments example, scripted: BOOK without a visit on file, the
// drip and the weekly digest (keyway test covers the date wait, through a
// manual start's vars).
func TestAppointmentsExample(t *testing.T) {
	t.Parallel()
	script := strings.Join([]string{
		"BOOK",
		"/from +15550004444", "TIPS", "/wait 2d", "/wait 5d", "when are you open?",
	}, "\n") + "\n"
	code, out := Keyway(t, script, "simulate", "--config", "../config/examples/appointments.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := []string{
		"+15550001111 asked to confirm a visit but has no valid visit_at: call to book.",
		"reply → +15550001111 (sms from +15005550006): We have no visit on file for you; the front desk will call you.",
		"Tip 1:",
		"reply → +15550004444 (sms from +15005550006): This week: swap your toothbrush every three months.",
		"Tip 2:", "Tip 3:",
		`From +15550004444: "when are you open?"`,
	}
	inOrder(t, out, want)
}

// inOrder fails the test unless every string of want stands in out, in
// that order.
func inOrder(t *testing.T, out string, want []string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q (in order):\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}
