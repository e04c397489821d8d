package test

import (
	"net"
	"strings"
	"testing"
	"time"
)

// A browser opens connections ahead of need and may send nothing on them
// (preconnect). Such a connection must not hold a graceful shutdown: the
// gateway still stops at once and exits 0.
func TestShutdownClosesConnectionsThatSentNothing(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Once a request on another connection is answered, the silent
	// connection has certainly been accepted.
	if code := g.Admin("GET", "/api/v1/automations", nil, nil); code != 200 {
		t.Fatalf("GET /api/v1/automations: %d", code)
	}
	start := time.Now()
	g.Stop() // fails the test when keyway exits non-zero or does not stop
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %v with a silent connection open", took)
	}
}
