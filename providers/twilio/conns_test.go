package twilio_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// Rounds of 16 sends at once reuse the connections of the first round: the
// provider keeps as many idle connections as there are sends under way
// (Go's default keeps 2, so each later round would open 14 more).
func TestSendsReuseConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued"}`, 1)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	const workers, rounds = 16, 4
	p, err := twilio.New(config.Twilio{AccountSID: testSID, AuthToken: testToken, APIBaseURL: srv.URL}, "US", zerolog.Nop(), twilio.WithIdleConns(workers))
	if err != nil {
		t.Fatal(err)
	}
	for range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if _, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "hi"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// A connection can come back to the pool a moment after its send
	// returns, so a few more than 16 may open; with 2 kept idle, about 50
	// would.
	if n := conns.Load(); n > workers+workers/2 {
		t.Errorf("%d rounds of %d sends opened %d connections, want about %d", rounds, workers, n, workers)
	}
}
