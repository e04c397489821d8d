package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/automation/store/postgres"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/providers"
)

const pauseConfig = `
automations:
  - id: news
    keywords: [NEWS]
    steps:
      - { type: reply, text: "Welcome to the news" }
      - { type: wait_for_reply, timeout: 1h, save_as: answer }
      - { type: reply, text: "Noted" }
  - id: other
    catch_all: true
    steps:
      - { type: reply, text: "Sorry, what?" }
`

// A pause from the dashboard stops the automation's keyword from
// enrolling (the word goes on as text: here it reaches the catch_all) and
// refuses manual starts; the enrollments under way hold still, as under
// enabled: false (a reply is not their answer). It records who paused and
// when; a config that changes the automation drops it, and resuming lifts
// it. On PostgreSQL too, where turns read the pause under a shared lock
// (PeekMeta).
func TestPauseFromTheDashboard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) engine.Store
	}{
		{"mem", func(*testing.T) engine.Store { return mem.NewMemStore() }},
		{"postgres", func(t *testing.T) engine.Store {
			s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testPauseFromTheDashboard(t, tc.store(t)) })
	}
}

func testPauseFromTheDashboard(t *testing.T, store engine.Store) {
	const ann, bea = "+15551230001", "+15551230002"
	e := engine.New(store, compileSet(t, pauseConfig), engine.Options{Clock: engine.NewFakeClock(sim.SimStart)})
	ctx := context.Background()
	n := 0
	say := func(from, body string) []string {
		t.Helper()
		n++
		if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: fmt.Sprintf("SM%d", n), Channel: "sms", From: from, To: "+15005550006", Body: body}); err != nil {
			t.Fatal(err)
		}
		return outboxNow(t, store, sendAll)
	}
	say(ann, "NEWS") // Ann is waiting for a reply in news

	p, err := e.SetPaused(engine.WithActor(ctx, "Ann Admin"), "news", true)
	if err != nil || !p.Paused || p.By != "Ann Admin" {
		t.Fatalf("SetPaused = %+v, %v", p, err)
	}
	if got, err := e.PauseOf(ctx, "news"); err != nil || got == nil || got.By != "Ann Admin" || !got.At.Equal(p.At) {
		t.Fatalf("PauseOf = %+v, %v", got, err)
	}
	if got := say(bea, "NEWS today?"); len(got) != 1 || got[0] != bea+" Sorry, what?" {
		t.Errorf("NEWS while paused: sent %q, want the catch_all's answer", got)
	}
	if got := say(ann, "NEWS is what I want"); len(got) != 1 || got[0] != ann+" Sorry, what?" {
		t.Errorf("Ann's answer while paused: sent %q, want the catch_all's answer (her enrollment holds still)", got)
	}
	if _, err := e.Start(ctx, "news", []string{bea}); !errors.Is(err, engine.ErrPaused) || !strings.Contains(err.Error(), "paused from the dashboard") {
		t.Errorf("manual start while paused: %v, want ErrPaused from the dashboard", err)
	}

	// A catch_all paused takes nothing.
	if _, err := e.SetPaused(ctx, "other", true); err != nil {
		t.Fatal(err)
	}
	if got := say(bea, "hello?"); len(got) != 0 {
		t.Errorf("the paused catch_all answered: %q", got)
	}

	// The same file again keeps the pause; a change to news drops it.
	same := compileSet(t, pauseConfig)
	e.Swap(same)
	if dropped, err := e.DropStalePauses(ctx, same, nil); err != nil || len(dropped) != 0 {
		t.Fatalf("DropStalePauses on the same config: %v, %v", dropped, err)
	}
	if got, _ := e.PauseOf(ctx, "news"); got == nil {
		t.Fatal("a reload of the same file dropped the pause")
	}
	changed := compileSet(t, strings.Replace(pauseConfig, "Welcome to the news", "Welcome!", 1))
	e.Swap(changed)
	if got, _ := e.PauseOf(ctx, "news"); got != nil {
		t.Errorf("the pause stands for a changed automation: %+v", got)
	}
	if dropped, err := e.DropStalePauses(ctx, changed, nil); err != nil || strings.Join(dropped, ",") != "news" {
		t.Fatalf("DropStalePauses: %v, %v; want news dropped", dropped, err)
	}
	e.Swap(same) // back to the paused version: the pause stays dropped
	if got, _ := e.PauseOf(ctx, "news"); got != nil {
		t.Errorf("the pause came back with the old version: %+v", got)
	}
	if got := say(bea, "NEWS"); len(got) != 1 || got[0] != bea+" Welcome to the news" {
		t.Errorf("NEWS once the pause is dropped: %q", got)
	}
	// Resuming the catch_all lifts its pause.
	if p, err := e.SetPaused(engine.WithActor(ctx, "Bob"), "other", false); err != nil || p.Paused {
		t.Fatal(p, err)
	}
	if got := say("+15551230003", "hello?"); len(got) != 1 {
		t.Errorf("the resumed catch_all: %q", got)
	}
}
