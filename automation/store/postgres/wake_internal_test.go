package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A process is not woken by its own commits (its engine wakes its workers
// itself), is woken by every other process's NOTIFY, and sends at most one
// NOTIFY each notifyGap however many of its commits ask for one.
func TestWakesSkipOwnAndComeAtMostOnceAGap(t *testing.T) {
	s, err := Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type heard struct {
		payload string
		woken   int // wakes before this notification's
	}
	var (
		mu    sync.Mutex
		log   []heard
		wakes int
	)
	got := make(chan string, 1024)
	s.heard = func(p string) {
		mu.Lock()
		log = append(log, heard{p, wakes})
		mu.Unlock()
		got <- p
	}
	s.OnWake(func() { mu.Lock(); wakes++; mu.Unlock() })
	foreign := func(p string) {
		t.Helper()
		if _, err := s.pool.Exec(t.Context(), `SELECT pg_notify($1, $2)`, wakeChannel, p); err != nil {
			t.Fatal(err)
		}
	}
	// The listener connects on its own: notify until it hears one.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i, listening := 0, false; !listening; i++ {
		foreign(fmt.Sprintf("ready-%d", i))
		select {
		case <-got:
			listening = true
		case <-tick.C:
		}
	}

	start := time.Now()
	const commits = 200
	for i := range commits {
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			return tx.Enqueue(&engine.Message{ID: fmt.Sprintf("m%03d", i), Direction: engine.Outbound, Contact: "+15550001", To: []string{"+15550001"}, Channel: "sms"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The NOTIFYs go out from a goroutine of their own, which a busy
	// machine may run late: hear the store's first before the end mark.
	deadline := time.After(time.Minute)
	for own := false; !own; {
		select {
		case p := <-got:
			own = p == s.self
		case <-deadline:
			t.Fatal("no NOTIFY of the store's own commits was heard within a minute")
		}
	}
	foreign("end")
	for p := range got {
		if p == "end" {
			break
		}
	}

	mu.Lock()
	defer mu.Unlock()
	elapsed := time.Since(start) // every NOTIFY in the log went out before

	own := 0
	for i, h := range log {
		if h.payload == s.self {
			own++
		}
		if i+1 == len(log) {
			break
		}
		want := h.woken + 1
		if h.payload == s.self {
			want = h.woken
		}
		if next := log[i+1].woken; next != want {
			t.Errorf("after notification %q the wakes went from %d to %d, want %d", h.payload, h.woken, next, want)
		}
	}
	if most := int(elapsed/notifyGap) + 1; own > most {
		t.Errorf("%d NOTIFYs for %d commits in %v; at most %d (one a %v)", own, commits, elapsed, most, notifyGap)
	}
}
