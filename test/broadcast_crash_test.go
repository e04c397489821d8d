package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/test/fakes"
)

const crashBroadcastConfig = `
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal for {{ contact.phone }}" }
`

// crashContacts are the numbers a crash test's broadcast lists.
func crashContacts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1555777%04d", i)
	}
	return out
}

// killDuringEnrolment SIGKILLs the process running broadcast id at a
// random point of the first half of what it has left to enroll, up to
// cycles times, restarting it each time with restart; it returns how many
// kills surely landed mid-enrolment: those after which the restarted
// process first shows the broadcast not done (a kill after the last batch
// committed would find it done).
func killDuringEnrolment(t *testing.T, id string, total, cycles int, running func() *Gateway, restart func(*Gateway)) int {
	t.Helper()
	mid := 0
	b := running().broadcast(t, id)
	for range cycles {
		if b.Status == "done" {
			break
		}
		g := running()
		left := total - b.Enrolled
		target := b.Enrolled + 1 + rand.IntN(max(left/2, 1))
		Eventually(t, patience, "enrolment moving on", func() bool {
			b = g.broadcast(t, id)
			return b.Enrolled >= target || b.Status == "done"
		})
		g.Kill()
		restart(g)
		if b = running().broadcast(t, id); b.Status != "done" {
			mid++
		}
	}
	return mid
}

// checkOncePerContact checks that broadcast id enrolled every contact once
// and that each got exactly one text (none at all when tw is nil).
func checkOncePerContact(t *testing.T, g *Gateway, tw *fakes.Twilio, id string, contacts []string) {
	t.Helper()
	Eventually(t, 2*patience, "the broadcast done", func() bool { return g.broadcast(t, id).Status == "done" })
	sent := 0
	if tw != nil {
		sent = len(contacts)
		Eventually(t, 2*patience, "every contact's text counted sent", func() bool { return g.broadcast(t, id).Sent >= len(contacts) })
	}
	b := g.broadcast(t, id)
	if b.Total != len(contacts) || b.Enrolled != len(contacts) || b.Sent != sent {
		t.Errorf("broadcast %+v: want total and enrolled %d, sent %d", b, len(contacts), sent)
	}
	var ens []Enrollment
	var res struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/enrollments?automation=promo&limit="+strconv.Itoa(2*len(contacts)), nil, &res); code != http.StatusOK {
		t.Fatalf("enrollments: %d", code)
	}
	ens = res.Enrollments
	per := map[string]int{}
	for _, en := range ens {
		per[en.Contact]++
	}
	for _, c := range contacts {
		if per[c] != 1 {
			t.Errorf("contact %s: %d enrollments, want one", c, per[c])
		}
	}
	if len(per) != len(contacts) {
		t.Errorf("%d contacts enrolled, want %d", len(per), len(contacts))
	}
	if tw == nil {
		return
	}
	texts := map[string]int{}
	for _, m := range tw.Sent() {
		texts[m.To]++
		if m.Body != "Deal for "+m.To {
			t.Errorf("sent %+v", m)
		}
	}
	for _, c := range contacts {
		if texts[c] != 1 {
			t.Errorf("contact %s: %d texts, want one", c, texts[c])
		}
	}
}

// SIGKILL at random moments of a broadcast's enrolment, then a restart:
// every contact is enrolled once and gets one text, none twice, none
// skipped.
func TestBroadcastSurvivesSIGKILLDuringEnrolment(t *testing.T) {
	g := StartGateway(t, crashBroadcastConfig)
	contacts := crashContacts(3000)
	b := g.startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts})
	mid := killDuringEnrolment(t, b.ID, len(contacts), 3, func() *Gateway { return g }, func(g *Gateway) { g.Start() })
	if mid == 0 {
		t.Fatal("no kill landed mid-enrolment: the test saw no crash to survive")
	}
	t.Logf("%d kills landed mid-enrolment", mid)
	checkOncePerContact(t, g, g.Twilio, b.ID, contacts)
}

// crashWaitConfig's automation waits before it sends, so that a process
// killed mid-enrolment holds no send whose lease (a minute) the test would
// wait out: the outbox's own crash tests cover sends.
const crashWaitConfig = `
automations:
  - id: promo
    steps:
      - { type: wait, duration: 24h }
      - { type: reply, text: "Deal for {{ contact.phone }}" }
`

// On PostgreSQL with two processes, the one enrolling a broadcast is
// killed mid-way: the other takes it over once its lease has expired, and
// every contact is still enrolled once.
func TestPostgresBroadcastTakenOverWhenItsProcessDies(t *testing.T) {
	gs := startShared(t, 2, crashWaitConfig)
	contacts := crashContacts(2000)
	b := gs[0].startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts})
	owner := enrollingProcess(t, gs, b.ID)
	other := gs[0]
	if other == owner {
		other = gs[1]
	}
	owner.Kill()
	killedAt := other.broadcast(t, b.ID)
	if killedAt.Status == "done" {
		t.Fatalf("the broadcast finished before its process was killed: make it bigger")
	}
	start := time.Now()
	checkOncePerContact(t, other, nil, b.ID, contacts)
	t.Logf("killed at %d enrolled; the other process finished it %v later", killedAt.Enrolled, time.Since(start).Round(time.Second))
}

// storedBroadcast reads broadcast id from the bbolt file of g, stopped.
func storedBroadcast(t *testing.T, g *Gateway, id string) *broadcast.Broadcast {
	t.Helper()
	s, err := bolt.Open(filepath.Join(g.Dir, "data", "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b *broadcast.Broadcast
	err = s.View(context.Background(), func(tx engine.Tx) error {
		var err error
		b, err = tx.(broadcast.Tx).Broadcast(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A cancel with end is SIGKILLed while it ends the broadcast's started
// enrollments: started again, keyway ends the rest, each once, and none
// of another broadcast's.
func TestBroadcastCancelWithEndSurvivesSIGKILL(t *testing.T) {
	g := StartGateway(t, crashWaitConfig)
	contacts := crashContacts(4000)
	b := g.startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts})
	const bystander = "+15557779999"
	other := g.startBroadcast(t, map[string]any{"automation": "promo", "contacts": []string{bystander}})
	for _, id := range []string{b.ID, other.ID} {
		Eventually(t, 2*patience, "the broadcast enrolled", func() bool { return g.broadcast(t, id).Status == "done" })
	}

	target := 1 + rand.IntN(len(contacts)/2)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		req, _ := http.NewRequest(http.MethodDelete, g.URL+"/api/v1/broadcasts/"+b.ID+"?end=true", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	Eventually(t, patience, "the ending under way", func() bool {
		v := g.broadcast(t, b.ID)
		return v.Ended >= target || (v.EndStarted && !v.Ending)
	})
	g.Kill()
	<-answered
	if killed := storedBroadcast(t, g, b.ID); !killed.Ending || killed.Ended >= len(contacts) {
		t.Fatalf("killed at %d of %d ended, ending %v: the kill landed after the ending, make it bigger", killed.Ended, len(contacts), killed.Ending)
	} else {
		t.Logf("killed at %d of %d ended", killed.Ended, len(contacts))
	}

	g.Start()
	Eventually(t, patience, "the ending finished after the restart", func() bool {
		v := g.broadcast(t, b.ID)
		return v.EndStarted && !v.Ending
	})
	if v := g.broadcast(t, b.ID); v.Ended != len(contacts) || v.Status != "canceled" && v.Status != "done" {
		t.Errorf("broadcast %+v: want every one of its %d enrollments ended once", v, len(contacts))
	}
	var res struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/enrollments?automation=promo&limit="+strconv.Itoa(2*len(contacts)), nil, &res); code != http.StatusOK {
		t.Fatalf("enrollments: %d", code)
	}
	ended := 0
	for _, en := range res.Enrollments {
		switch {
		case en.Contact == bystander:
			if en.Status == "ended" {
				t.Errorf("the other broadcast's enrollment was ended: %+v", en)
			}
		case en.Status != "ended" || en.EndReason != "the broadcast was canceled":
			t.Errorf("enrollment %+v: want it ended by the cancel", en)
		default:
			ended++
		}
	}
	if ended != len(contacts) {
		t.Errorf("%d enrollments ended, want %d", ended, len(contacts))
	}
}

// On PostgreSQL with two processes, the one ending a canceled broadcast's
// enrollments is killed mid-way: the other ends the rest once the lease
// has expired, each enrollment once.
func TestPostgresCancelWithEndTakenOverWhenItsProcessDies(t *testing.T) {
	gs := startShared(t, 2, crashWaitConfig)
	owner, other := gs[0], gs[1]
	contacts := crashContacts(2000)
	b := owner.startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts})
	Eventually(t, 2*patience, "the broadcast enrolled", func() bool { return other.broadcast(t, b.ID).Status == "done" })

	target := 1 + rand.IntN(len(contacts)/2)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		req, _ := http.NewRequest(http.MethodDelete, owner.URL+"/api/v1/broadcasts/"+b.ID+"?end=true", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	Eventually(t, patience, "the ending under way", func() bool {
		v := other.broadcast(t, b.ID)
		return v.Ended >= target || (v.EndStarted && !v.Ending)
	})
	owner.Kill()
	<-answered
	// The killed process's lease holds the broadcast for a while: what the
	// other shows now is where the ending stood at the kill.
	killed := other.broadcast(t, b.ID)
	if !killed.Ending || killed.Ended >= len(contacts) {
		t.Fatalf("killed at %d of %d ended, ending %v: the kill landed after the ending, make it bigger", killed.Ended, len(contacts), killed.Ending)
	}
	start := time.Now()
	Eventually(t, 2*patience, "the other process finished the ending", func() bool {
		v := other.broadcast(t, b.ID)
		return v.EndStarted && !v.Ending
	})
	t.Logf("killed at %d of %d ended; the other process finished %v later", killed.Ended, len(contacts), time.Since(start).Round(time.Second))
	if v := other.broadcast(t, b.ID); v.Ended != len(contacts) {
		t.Errorf("broadcast %+v: want every one of its %d enrollments ended once", v, len(contacts))
	}
	var res struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	if code := other.Admin(http.MethodGet, "/api/v1/enrollments?automation=promo&limit="+strconv.Itoa(2*len(contacts)), nil, &res); code != http.StatusOK {
		t.Fatalf("enrollments: %d", code)
	}
	ended := 0
	for _, en := range res.Enrollments {
		if en.Status == "ended" && en.EndReason == "the broadcast was canceled" {
			ended++
		}
	}
	if ended != len(contacts) || len(res.Enrollments) != len(contacts) {
		t.Errorf("%d of %d enrollments ended by the cancel, want all %d", ended, len(res.Enrollments), len(contacts))
	}
}

// enrollingProcess waits for one of gs, processes on one database, to be
// seen enrolling broadcast id, and returns it. startProcesses names
// process i "node<i>" (KEYWAY_INSTANCE): the broadcast's owner is that
// name, not host/pid.
func enrollingProcess(t *testing.T, gs []*Gateway, id string) *Gateway {
	t.Helper()
	var owner *Gateway
	Eventually(t, patience, "a process enrolling the broadcast", func() bool {
		v := gs[0].broadcast(t, id)
		for i, g := range gs {
			if v.Enrolled > 0 && v.Owner == fmt.Sprintf("node%d", i) {
				owner = g
			}
		}
		return owner != nil || v.Status == "done"
	})
	if owner == nil {
		t.Fatal("the broadcast finished before a process could be seen enrolling it: make it bigger")
	}
	return owner
}
