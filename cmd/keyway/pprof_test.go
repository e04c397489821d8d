package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestServeProfiler(t *testing.T) {
	var logs bytes.Buffer
	stop, err := serveProfiler("127.0.0.1:0", zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"pprof":"([^"]+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("the profiler's address is not logged: %s", logs.String())
	}
	res, err := http.Get("http://" + m[1] + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Errorf("GET /debug/pprof/heap: %d %.200s", res.StatusCode, body)
	}
	stop()
	if _, err := http.Get("http://" + m[1] + "/debug/pprof/"); err == nil {
		t.Errorf("the profiler still answers after stop")
	}
}

func TestServeProfilerBadAddress(t *testing.T) {
	if _, err := serveProfiler("not an address", zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "--pprof not an address") {
		t.Errorf("serveProfiler(not an address) error = %v", err)
	}
}

// TestServeProfilerRefusesEveryInterface: the profiler is never served on
// a wildcard address, where anyone who reaches the host could read it.
func TestServeProfilerRefusesEveryInterface(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		var logs bytes.Buffer
		stop, err := serveProfiler(addr, zerolog.New(&logs))
		if err == nil {
			stop()
			t.Errorf("serveProfiler(%s) listened: %s", addr, logs.String())
			continue
		}
		if !strings.Contains(err.Error(), "--pprof "+addr+": the profiler would listen on every interface") {
			t.Errorf("serveProfiler(%s) error = %v", addr, err)
		}
	}
	stop, err := serveProfiler("localhost:0", zerolog.Nop())
	if err != nil {
		t.Fatalf("serveProfiler(localhost:0): %v", err)
	}
	stop()
}
