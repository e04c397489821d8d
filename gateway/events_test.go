package gateway

import (
	"testing"
	"time"
)

// The gateway is busy from the moment busyWebhooks webhooks are handled
// at once until busyFor after the last such moment, not while fewer are.
func TestWebhookLoadBusy(t *testing.T) {
	var l webhookLoad
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var done []func()
	for range busyWebhooks - 1 {
		done = append(done, l.enter(t0))
	}
	if l.busy(t0) {
		t.Fatalf("busy with %d webhooks handled at once", busyWebhooks-1)
	}
	done = append(done, l.enter(t0))
	if !l.busy(t0) {
		t.Fatalf("not busy with %d webhooks handled at once", busyWebhooks)
	}
	for _, d := range done {
		d()
	}
	if !l.busy(t0.Add(busyFor - time.Millisecond)) {
		t.Fatal("no longer busy just after the webhooks were answered")
	}
	if l.busy(t0.Add(busyFor)) {
		t.Fatalf("still busy %v after", busyFor)
	}
	l.enter(t0.Add(time.Hour))()
	if l.busy(t0.Add(time.Hour)) {
		t.Fatal("busy again with one webhook")
	}
}
