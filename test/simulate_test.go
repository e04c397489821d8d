package test

import (
	"strings"
	"testing"
)

// simulate works from a pipe: a scripted chat through the starter pack.
func TestSimulateFromAPipe(t *testing.T) {
	script := "JOIN\nAnn\n/contact\nJOIN\n/wait 25h\nSTOP\nhours\n/from +15559990000\nhours\n"
	code, out := Keyway(t, script, "simulate", "--config", "../config/examples/starter.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := []string{
		"[join step #1] added to group newsletter",
		"reply → +15550001111 (sms from +15005550006): Welcome to Acme Coffee! What is your first name?",
		"reply → +15550001111 (sms from +15005550006): Thanks Ann! Deals arrive on Mondays.",
		"groups=[newsletter]",
		"fields=map[first_name:Ann]",
		"No worries, you are on the list.", // the 24h timeout after the second JOIN
		"You are unsubscribed. Reply START to resubscribe.",
		"We are open Mon-Fri 7am-6pm, Sat-Sun 8am-4pm. [NOT SENT: contact opted out]",
		"reply → +15559990000 (sms from +15005550006): We are open Mon-Fri 7am-6pm, Sat-Sun 8am-4pm.\n",
	}
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q (in order):\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}
