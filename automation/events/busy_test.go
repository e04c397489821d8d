package events_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/config"
)

// While Busy says inbound traffic has the machine, the worker makes one
// pass of at most Batch events each BusyPass and posts nothing between
// them, however often it is woken; once Busy says it no longer does, the
// rest go at once.
func TestBusyHoldsPostsBack(t *testing.T) {
	t.Parallel()
	posts := make(chan string, 100)
	r := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		posts <- req.Header.Get("webhook-id")
	}))
	t.Cleanup(r.Close)
	f := newFixture(t, endpointConfig(r.URL), nil)
	var busy atomic.Bool
	busy.Store(true)
	asked := make(chan struct{}, 1000)
	f.worker = events.New(events.Options{Store: f.store, Config: func() *config.Config { return f.cfg },
		Client: http.DefaultClient, Clock: f.clock, Logger: zerolog.Nop(), Owner: "test", Batch: 2,
		BusyPass: time.Minute,
		Busy: func() bool {
			select {
			case asked <- struct{}{}:
			default:
			}
			return busy.Load()
		}})
	const n = 6
	for i := range n {
		f.add(t, engine.EventMessageReceived, fmt.Sprintf("+1555000%04d", i), nil)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); f.worker.Run(ctx) }()

	receive := func(k int, why string) {
		t.Helper()
		for range k {
			select {
			case <-posts:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: a post did not come", why)
			}
		}
	}
	// quiet waits until the worker has asked Busy several times more
	// and checks that nothing was posted meanwhile.
	quiet := func(why string) {
		t.Helper()
		for range len(asked) {
			<-asked
		}
		for range 5 {
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the worker stopped asking whether it is busy", why)
			}
		}
		f.worker.Wake()
		for range 3 {
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the worker stopped asking whether it is busy after a wake", why)
			}
		}
		select {
		case id := <-posts:
			t.Fatalf("%s: %s was posted before the next busy pass", why, id)
		default:
		}
	}
	receive(2, "the first busy pass")
	quiet("after the first busy pass")
	f.clock.Advance(time.Minute)
	receive(2, "the second busy pass, a BusyPass later")
	quiet("after the second busy pass")
	busy.Store(false)
	receive(n-4, "no longer busy")
}
