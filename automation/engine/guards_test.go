package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

// The WhatsApp window is open for 24 hours after the contact's last
// WhatsApp message, and only on WhatsApp.
func TestWhatsAppWindowEdge(t *testing.T) {
	wrote := time.Date(2026, 3, 7, 22, 30, 0, 0, time.UTC)
	c := &engine.Contact{LastInbound: map[string]time.Time{config.ChannelWhatsApp: wrote}}
	tests := []struct {
		name    string
		channel string
		now     time.Time
		want    bool
	}{
		{"23h59m after", config.ChannelWhatsApp, wrote.Add(23*time.Hour + 59*time.Minute), true},
		{"24h01m after", config.ChannelWhatsApp, wrote.Add(24*time.Hour + time.Minute), false},
		{"24h after, to the nanosecond", config.ChannelWhatsApp, wrote.Add(24 * time.Hour), false},
		{"sms has no window", config.ChannelSMS, wrote.Add(30 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		if got := c.InWindow(tt.channel, tt.now); got != tt.want {
			t.Errorf("%s: InWindow = %v, want %v", tt.name, got, tt.want)
		}
	}
	if (&engine.Contact{}).InWindow(config.ChannelWhatsApp, wrote) {
		t.Error("a contact that never wrote on WhatsApp is inside the window")
	}
	// A message on SMS does not open the WhatsApp window.
	sms := &engine.Contact{LastInbound: map[string]time.Time{config.ChannelSMS: wrote}}
	if sms.InWindow(config.ChannelWhatsApp, wrote.Add(time.Minute)) {
		t.Error("an SMS message opened the WhatsApp window")
	}
}

// The window is decided when the reply runs, on the simulator's clock: a
// wait of 23h59m ends inside it, a wait of 24h01m outside.
func TestWhatsAppWindowOnTheClock(t *testing.T) {
	for _, tt := range []struct {
		wait     string
		template bool
	}{{"23h59m", false}, {"24h1m", true}} {
		set := timeSet(t, `
providers: { twilio: { numbers: [ { number: "+14155238886", channel: whatsapp } ] } }
automations:
  - id: r
    keywords: [R]
    steps:
      - { type: wait, duration: `+tt.wait+` }
      - { type: reply, text: "free", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
`)
		s := sim.NewSimulator(set, nil)
		s.Channel = config.ChannelWhatsApp
		ctx := context.Background()
		if _, err := s.Say(ctx, "R"); err != nil {
			t.Fatal(err)
		}
		res, err := s.Advance(ctx, 25*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Sent) != 1 {
			t.Fatalf("wait %s: sent %d messages, want 1", tt.wait, len(res.Sent))
		}
		if got := res.Sent[0].ContentSID != ""; got != tt.template {
			t.Errorf("wait %s: sent as template = %v (body %q), want %v", tt.wait, got, res.Sent[0].Body, tt.template)
		}
	}
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Quiet hours across midnight hold a send until their end on the wall
// clock of their zone, on DST days too; End itself is outside them.
func TestQuietHoursUntil(t *testing.T) {
	ny := zone(t, "America/New_York")
	night := &engine.QuietHours{Start: 21 * 60, End: 8 * 60, Location: ny}
	noon := &engine.QuietHours{Start: 12 * 60, End: 14 * 60, Location: ny}
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, ny) }
	tests := []struct {
		name  string
		q     *engine.QuietHours
		now   time.Time
		held  bool
		until time.Time
	}{
		{"before start", night, at(2026, 1, 14, 20, 59), false, time.Time{}},
		{"at start", night, at(2026, 1, 14, 21, 0), true, at(2026, 1, 15, 8, 0)},
		{"before midnight", night, at(2026, 1, 14, 23, 30), true, at(2026, 1, 15, 8, 0)},
		{"after midnight", night, at(2026, 1, 15, 3, 0), true, at(2026, 1, 15, 8, 0)},
		{"at end", night, at(2026, 1, 15, 8, 0), false, time.Time{}},
		{"across a month", night, at(2026, 1, 31, 22, 0), true, at(2026, 2, 1, 8, 0)},
		// The night DST starts has 9 hours from 22:00 to 08:00, not 10.
		{"spring forward", night, at(2026, 3, 7, 22, 0), true, time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)},
		// The night DST ends has 11.
		{"fall back", night, at(2026, 10, 31, 22, 0), true, time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC)},
		{"after the repeated hour", night, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), true, time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC)},
		{"within a day", noon, at(2026, 1, 14, 13, 0), true, at(2026, 1, 14, 14, 0)},
		{"within a day, before", noon, at(2026, 1, 14, 11, 59), false, time.Time{}},
		{"within a day, at end", noon, at(2026, 1, 14, 14, 0), false, time.Time{}},
		{"a time given in another zone", night, time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC), true, at(2026, 1, 15, 8, 0)},
	}
	for _, tt := range tests {
		until, held := tt.q.Until(tt.now)
		if held != tt.held || !until.Equal(tt.until) {
			t.Errorf("%s: Until(%v) = %v, %v; want %v, %v", tt.name, tt.now, until, held, tt.until, tt.held)
		}
	}
	var none *engine.QuietHours
	if _, held := none.Until(at(2026, 1, 14, 23, 0)); held {
		t.Error("no quiet hours held a send")
	}
}

// A held send runs at the end of quiet hours, durably: the enrollment
// waits at the reply, held, with a timer at the end.
func TestQuietHoursHoldAcrossDST(t *testing.T) {
	set := timeSet(t, `
defaults: { timezone: America/New_York }
compliance: { quiet_hours: { start: "21:00", end: "08:00" } }
automations:
  - id: r
    keywords: [R]
    steps:
      - { type: wait, duration: 12h }
      - { id: late, type: reply, text: "at {{ now | date: '%Y-%m-%d %H:%M %Z' }}" }
`)
	s := sim.NewSimulator(set, nil)
	ny := zone(t, "America/New_York")
	s.Clock.Set(time.Date(2026, 3, 7, 12, 0, 0, 0, ny))
	ctx := context.Background()
	if _, err := s.Say(ctx, "R"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Advance(ctx, 12*time.Hour) // 2026-03-08 00:00 EST: quiet
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 0 {
		t.Fatalf("sent %q during quiet hours", res.Sent[0].Body)
	}
	var en *engine.Enrollment
	_ = s.Store.View(ctx, func(tx engine.Tx) error {
		ens, err := tx.Enrollments("r", s.From, false, 1)
		if err != nil || len(ens) != 1 {
			t.Fatalf("enrollments %v, %v", ens, err)
		}
		en = ens[0]
		return nil
	})
	wantUntil := time.Date(2026, 3, 8, 8, 0, 0, 0, ny)
	if en.Held != engine.ReasonHeld || en.Step != "late" || en.WaitUntil == nil || !en.WaitUntil.Equal(wantUntil) {
		t.Fatalf("enrollment held %q at %s until %v, want held at late until %v", en.Held, en.Step, en.WaitUntil, wantUntil)
	}
	res, err = s.Advance(ctx, 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 1 || res.Sent[0].Body != "at 2026-03-08 08:00 EDT" {
		t.Fatalf("sent %+v, want one reply at 08:00 EDT", res.Sent)
	}
}
