package events_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/config"
)

// The worker keeps its connections to a busy endpoint between passes:
// posting many events DefaultWorkers at a time through the guarded client
// (as the gateway does) opens about as many connections as it posts at
// once, not most of them again at each pass.
func TestPostsReuseConnections(t *testing.T) {
	t.Parallel()
	const at = events.DefaultWorkers
	var conns, posts atomic.Int64
	// The receiver answers the posts in groups of DefaultWorkers, so that
	// that many are under way at once, as on a busy endpoint.
	var mu sync.Mutex
	waiting, release := 0, make(chan struct{})
	r := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		posts.Add(1)
		mu.Lock()
		ch := release
		if waiting++; waiting == at {
			close(release)
			waiting, release = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second): // not reached unless the worker posts fewer at once
		}
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	cfg := endpointConfig(r.URL)
	cfg.HTTP.AllowPrivate = true
	f := newFixture(t, cfg, nil)
	// A pass of one group of posts at a time, as when events come while
	// webhooks do; no Client: the guarded one.
	f.worker = events.New(events.Options{Store: f.store, Config: func() *config.Config { return f.cfg },
		Clock: f.clock, Logger: zerolog.Nop(), Owner: "test", Batch: at})
	const n = 10 * at
	for i := range n {
		f.add(t, engine.EventMessageReceived, fmt.Sprintf("+1555%07d", i), nil)
	}
	for got := 0; got < n; {
		c := f.pass(t)
		if c == 0 {
			t.Fatalf("claimed nothing after %d of %d", got, n)
		}
		got += c
	}
	if posts.Load() != n {
		t.Fatalf("the receiver got %d posts, want %d", posts.Load(), n)
	}
	// A post may dial while another's connection is being put back, so
	// allow some slack.
	if c := conns.Load(); c > 2*at {
		t.Fatalf("%d connections for %d posts, %d at a time: connections are not kept", c, n, at)
	}
}

// A failed attempt is logged with the event, its type and its endpoint
// (without the query, which may hold a key); a delivered one logs nothing
// above debug.
func TestAttemptsLogTheirEvent(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500)
	var logs bytes.Buffer
	f := newFixture(t, endpointConfig(r.URL+"/hook?key=s3cret"), r.Client())
	f.worker = events.New(events.Options{Store: f.store, Config: func() *config.Config { return f.cfg }, Client: r.Client(),
		Clock: f.clock, Logger: zerolog.New(&logs).Level(zerolog.InfoLevel), Owner: "test"})
	d := f.add(t, engine.EventContactOptedIn, "+15550001", nil)[0]
	f.pass(t)
	line := logs.String()
	for _, want := range []string{`"event":"` + d.ID + `"`, `"type":"contact.opted_in"`, `"endpoint":"` + r.URL + `/hook"`, `"error":"answered 500"`, "will retry"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %s lacks %s", line, want)
		}
	}
	if strings.Contains(line, "s3cret") {
		t.Errorf("log %s shows the endpoint's key", line)
	}
	logs.Reset()
	f.clock.Set(f.stored(t, d.ID).Due)
	f.pass(t)
	if f.stored(t, d.ID).Status != engine.EventDelivered || logs.Len() != 0 {
		t.Fatalf("delivered: %+v; logged %s at info level", f.stored(t, d.ID), logs.String())
	}
}
