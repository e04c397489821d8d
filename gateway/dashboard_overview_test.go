package gateway

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// The overview adds the store's hourly counts up by day in the time zone
// given (a day of 23 hours when the clocks go forward included), keeps
// the 30 days up to today, and lists the automations of the config, then
// any other that has counts.
func TestOverviewAddsHoursUpByLocalDay(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	// 2030-03-10 is the day Chicago moves its clocks forward.
	now := time.Date(2030, 3, 20, 12, 0, 0, 0, chicago)
	local := func(day, hour, minute int) time.Time { return time.Date(2030, 3, day, hour, minute, 0, 0, chicago) }
	s := mem.NewMemStore()
	n := 0
	msg := func(dir engine.Direction, at time.Time, status engine.MessageStatus) *engine.Message {
		n++
		return &engine.Message{ID: fmt.Sprintf("m%04d", n), Direction: dir, Contact: "+15550001", Status: status, CreatedAt: at, UpdatedAt: at}
	}
	failed := msg(engine.Outbound, local(19, 9, 0), engine.StatusSent)
	writes := []*engine.Message{
		msg(engine.Inbound, local(20, 11, 59), engine.StatusReceived),                         // today
		msg(engine.Inbound, local(20, 0, 0), engine.StatusReceived),                           // today, its first minute
		msg(engine.Outbound, local(10, 23, 30), engine.StatusSent),                            // the short day, its last hour
		msg(engine.Outbound, local(10, 1, 30), engine.StatusSent),                             // the short day, before the change
		msg(engine.Outbound, time.Date(2030, 2, 19, 0, 0, 0, 0, chicago), engine.StatusSent),  // the first day shown
		msg(engine.Inbound, time.Date(2030, 2, 18, 23, 59, 0, 0, chicago), engine.StatusSent), // the day before: left out
		failed,
	}
	optedAt := local(20, 8, 0)
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		for _, m := range writes {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		failed.Status, failed.UpdatedAt = engine.StatusFailed, local(19, 9, 5)
		if err := tx.PutMessage(failed); err != nil {
			return err
		}
		if err := tx.PutContact(&engine.Contact{Phone: "+15550001", OptedOut: true, OptedOutAt: &optedAt}); err != nil {
			return err
		}
		for i, e := range []struct {
			auto   string
			active bool
		}{{"join", true}, {"join", false}, {"old", false}} {
			en := &engine.Enrollment{ID: fmt.Sprintf("e%04d", i), Automation: e.auto, Contact: fmt.Sprintf("+1555000%d", i), Status: engine.EnrollmentEnded, StartedAt: local(15, 10, 0)}
			if e.active {
				en.Status = engine.EnrollmentWaiting
			}
			if err := tx.PutEnrollment(en); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var o *overview
	err = s.View(t.Context(), func(tx engine.Tx) error {
		o, err = readOverview(tx, now, chicago, []string{"join", "desk"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Days) != overviewDays || o.Days[0].Label() != "Feb 19" || o.Days[29].Label() != "Mar 20" {
		t.Fatalf("days: %d, from %s to %s; want 30 from Feb 19 to Mar 20", len(o.Days), o.Days[0].Label(), o.Days[len(o.Days)-1].Label())
	}
	day := func(label string) overviewDay {
		for _, d := range o.Days {
			if d.Label() == label {
				return d
			}
		}
		t.Fatalf("no day %s", label)
		return overviewDay{}
	}
	for _, c := range []struct {
		label                       string
		in, out, optedOut, failures int
	}{
		{"Mar 20", 2, 0, 1, 0},
		{"Mar 19", 0, 1, 0, 1},
		{"Mar 10", 0, 2, 0, 0},
		{"Feb 19", 0, 1, 0, 0},
	} {
		d := day(c.label)
		if d.In != c.in || d.Out != c.out || d.OptedOut != c.optedOut || d.Fail != c.failures {
			t.Errorf("%s: in %d out %d opted out %d failed %d, want %d %d %d %d", c.label, d.In, d.Out, d.OptedOut, d.Fail, c.in, c.out, c.optedOut, c.failures)
		}
	}
	if o.Total.In != 2 || o.Total.Out != 4 || o.Total.OptedOut != 1 || o.Total.Fail != 1 {
		t.Errorf("totals: %+v, want 2 in, 4 out, 1 opted out, 1 failed", o.Total)
	}
	if o.Newest[0].Label() != "Mar 20" {
		t.Errorf("newest first starts with %s", o.Newest[0].Label())
	}
	want := []overviewAutomation{{"join", 2, 1}, {"desk", 0, 0}, {"old", 1, 0}}
	if fmt.Sprint(o.Automations) != fmt.Sprint(want) {
		t.Errorf("automations: %v, want %v", o.Automations, want)
	}
	// The charts: a bar per day and series, the tallest reaching the top.
	if len(o.Messages.Bars) != 2*overviewDays || len(o.OptOuts.Bars) != overviewDays || len(o.Enrolled.Bars) != 3 {
		t.Fatalf("bars: %d messages, %d opt-outs, %d enrollments", len(o.Messages.Bars), len(o.OptOuts.Bars), len(o.Enrolled.Bars))
	}
	last := o.Messages.Bars[2*overviewDays-2] // today's in
	if last.H != chartBase-chartTop || last.Title != "Mar 20: 2 in" {
		t.Errorf("today's in bar: %+v, want the full height", last)
	}
}

func TestScaleTop(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 499: 500, 501: 1000} {
		if got := scaleTop(in); got != want {
			t.Errorf("scaleTop(%d) = %d, want %d", in, got, want)
		}
	}
}

// BenchmarkOverview reads the overview from a bbolt store holding 1,000
// and 100,000 messages spread over every hour of the 30 days: its cost
// stays the same, since it reads the hourly counters (two an hour here),
// never the messages.
func BenchmarkOverview(b *testing.B) {
	now := time.Date(2030, 3, 20, 12, 0, 0, 0, time.UTC)
	for _, messages := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("messages=%d", messages), func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "keyway.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			const batch = 5000
			for from := 0; from < messages; from += batch {
				err := s.Update(b.Context(), func(tx engine.Tx) error {
					for i := from; i < min(from+batch, messages); i++ {
						at := now.Add(-time.Duration(i%(30*24))*time.Hour - time.Duration(i%60)*time.Minute) // every hour has some
						dir := engine.Inbound
						if i%2 == 1 {
							dir = engine.Outbound
						}
						m := &engine.Message{ID: fmt.Sprintf("m%08d", i), Direction: dir, Contact: fmt.Sprintf("+1555%07d", i%5000),
							Body: "a message of a usual length, about as long as this one", Status: engine.StatusSent, CreatedAt: at, UpdatedAt: at}
						if err := tx.PutMessage(m); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				err := s.View(b.Context(), func(tx engine.Tx) error {
					o, err := readOverview(tx, now, time.UTC, []string{"join", "desk"})
					if err == nil && o.Total.In+o.Total.Out == 0 {
						err = fmt.Errorf("no messages counted")
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The overview page draws its charts as SVG and writes their numbers
// beside them: today's two messages in show in the chart's caption, the
// table of days and a bar's title.
func TestOverviewPage(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0001", "+15550100001", "JOIN")
	d.inbound("SM0002", "+15550100002", "hello")
	page := d.get("/admin/overview")
	for _, want := range []string{`<svg class="chart"`, `<rect class="bar in"`, `id="overview-days"`, `aria-current="page">Overview</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview lacks %s", want)
		}
	}
	shown := text(page)
	for _, want := range []string{"Messages per day : 2 in, 1 out", "America/Chicago", "join 1 1"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the overview lacks %q:\n%s", want, shown)
		}
	}
	if res := d.do(http.MethodGet, "/admin/", nil); res.Header.Get("Location") != "/admin/overview" {
		t.Errorf("/admin/ sends to %q, want the overview", res.Header.Get("Location"))
	}
}
