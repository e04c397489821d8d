package steps

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("wait", compileWait) }

// Wait pauses the enrollment for a duration, until the next time of day, or
// until the next time a cron expression matches. Times of day and cron
// expressions are read in `timezone` (default defaults.timezone), so a
// daylight-saving change does not move a 09:00 wait to 08:00 or 10:00. The
// pause is stored with the enrollment and survives restarts; an overdue
// wait ends at start. Messages the contact sends meanwhile are routed as
// usual (keywords, waiting replies, catch_all) and the wait goes on.
//
//   - type: wait
//     duration: 2h            # 90s, 15m, 3d, 1d12h
//   - type: wait
//     until: "09:00"          # the next 09:00 strictly after now
//     timezone: Europe/Paris
//   - type: wait
//     cron: "0 9 * * MON-FRI" # five fields, or a descriptor such as @daily
//   - type: wait
//     at: "{{ contact.fields.visit_at }}"  # a moment the contact's data gives
//     offset: -24h                          # optional, may be negative
//     on_error: no_date                     # the value is empty or not a date
//
// An at wait's template renders RFC 3339 (2026-12-24T10:00:00-05:00), or
// a local "2026-12-24 10:00" (seconds optional) or "2026-12-24"
// (midnight) read in `timezone`. A local time that a daylight-saving change skips is read as
// far past the change (02:30 → 03:30); one that happens twice is the
// first. A moment already past goes on at once.
type Wait struct {
	// Duration is the length of a duration wait; zero otherwise.
	Duration time.Duration
	// Until is the time of day of an until wait; nil otherwise.
	Until *TimeOfDay
	// Cron is the schedule of a cron wait; nil otherwise.
	Cron cron.Schedule
	// At renders the moment of an at wait; nil otherwise.
	At *engine.Template
	// Offset moves an at wait's moment (may be negative).
	Offset time.Duration
	// OnError is where an at wait goes when At is empty or not a date;
	// empty ends the enrollment with the reason.
	OnError string
	// Location is the time zone of until, cron and local at waits.
	Location *time.Location
}

// TimeOfDay is a wall-clock time, hours and minutes.
type TimeOfDay struct{ Hour, Minute int }

// String writes the time as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

type waitFields struct {
	Duration *config.Duration     `yaml:"duration"`
	Until    *string              `yaml:"until"`
	Cron     *string              `yaml:"cron"`
	At       *string              `yaml:"at"`
	Offset   *config.DurationText `yaml:"offset"`
	OnError  string               `yaml:"on_error"`
	Timezone string               `yaml:"timezone"`
}

// timeOfDay is HH:MM (or H:MM), 00:00 to 23:59.
var timeOfDay = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// ParseTimeOfDay reads "HH:MM", from 00:00 to 23:59.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	m := timeOfDay.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return TimeOfDay{}, fmt.Errorf("%q is not a time of day (use HH:MM, from 00:00 to 23:59)", s)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return TimeOfDay{Hour: h, Minute: mi}, nil
}

func compileWait(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f waitFields
	c.Decode(s, &f)
	// The kinds written, in this order, and among them those whose value
	// was refused: a refused kind was written, not missing.
	var set, written []string
	refused := false
	for _, k := range []struct {
		name  string
		given bool
	}{{"duration", f.Duration != nil}, {"until", f.Until != nil}, {"cron", f.Cron != nil}, {"at", f.At != nil}} {
		switch {
		case k.given:
			set, written = append(set, k.name), append(written, k.name)
		case c.Refused(s, k.name):
			written, refused = append(written, k.name), true
		}
	}
	switch {
	case len(written) == 0:
		c.Problemf(s, "", "a wait needs one of duration, until, cron or at")
		return nil, nil
	case len(written) > 1:
		at := ""
		for _, k := range written[1:] {
			if !c.Refused(s, k) {
				at = k
				break
			}
		}
		c.Problemf(s, at, "a wait takes exactly one of duration, until, cron and at, not %s", strings.Join(written, " and "))
		return nil, nil
	case refused:
		// What the wait is, its decoding problem did not say: check only
		// what does not depend on it.
		waitLocation(c, s, &f)
		c.Target(s, "on_error", f.OnError)
		return nil, nil
	}
	if f.At == nil {
		if f.Offset != nil {
			c.Problemf(s, "offset", "offset goes with at; %s wait has none", aOrAn(set[0]))
		}
		if f.OnError != "" {
			c.Problemf(s, "on_error", "on_error goes with at; %s wait cannot fail", aOrAn(set[0]))
		}
	}

	st := &Wait{Location: waitLocation(c, s, &f)}
	switch {
	case f.Duration != nil:
		st.Duration = f.Duration.D()
		if st.Duration <= 0 {
			c.Problemf(s, "duration", "duration must be more than 0")
		}
		if f.Timezone != "" {
			c.Warnf(s, "timezone", "timezone has no effect on a duration wait")
		}
	case f.Until != nil:
		t, err := ParseTimeOfDay(*f.Until)
		if err != nil {
			c.Problemf(s, "until", "until: %v", err)
		}
		st.Until = &t
	case f.At != nil:
		compileAt(c, s, &f, st)
	default:
		if f.Timezone != "" && config.HasCronZone(*f.Cron) {
			c.Problemf(s, "cron", "cron %q names its own time zone; drop it or drop timezone", *f.Cron)
			break
		}
		sched, err := config.ParseCron(*f.Cron, st.Location)
		if err != nil {
			c.Problemf(s, "cron", "invalid cron %q: %v", *f.Cron, err)
			break
		}
		st.Cron = sched
	}
	return st, nil
}

// aOrAn is kind (duration, until, cron) with its article.
func aOrAn(kind string) string {
	if kind == "until" {
		return "an " + kind
	}
	return "a " + kind
}

// waitLocation returns the time zone of a wait: its timezone, else the
// config's. An unknown timezone is a problem, and the config's is returned.
func waitLocation(c *engine.Compiler, s *config.Step, f *waitFields) *time.Location {
	if f.Timezone == "" {
		return c.Config.Location()
	}
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		c.Problemf(s, "timezone", "unknown time zone %q", f.Timezone)
		return c.Config.Location()
	}
	return loc
}

// compileAt fills an at wait: its template, offset and on_error. An at
// without a template expression is a constant date, checked here.
func compileAt(c *engine.Compiler, s *config.Step, f *waitFields, st *Wait) {
	st.OnError = f.OnError
	c.Target(s, "on_error", f.OnError)
	if f.Offset != nil {
		d, err := ParseOffset(string(*f.Offset))
		if err != nil {
			c.Problemf(s, "offset", "offset: %v", err)
		}
		st.Offset = d
	}
	if strings.TrimSpace(*f.At) == "" {
		c.Problemf(s, "at", "at is empty: give a date, or a template such as \"{{ contact.fields.visit_at }}\"")
		return
	}
	st.At = c.Template(s, "at", *f.At)
	if st.At != nil && st.At.Static() {
		if _, err := ParseInstant(*f.At, st.Location); err != nil {
			c.Problemf(s, "at", "at: %v", err)
		}
	}
}

// ParseOffset reads a duration that may be negative: "-24h", "+30m", "1d".
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	sign := time.Duration(1)
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		s, sign = rest, -1
	} else if rest, ok := strings.CutPrefix(s, "+"); ok {
		s = rest
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return sign * d, nil
}

// localDate and localDateTime are the local forms an at wait reads.
var (
	localDate     = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	localDateTime = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[ T]([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$`)
)

// ParseInstant reads the moment an at wait renders: RFC 3339 (its own
// offset), or "2026-12-24 10:00" (also with a T, or with seconds:
// "2026-12-24T10:00:00") or "2026-12-24" (midnight) on the wall clock of
// loc. A local time that a
// daylight-saving change skips is read as far past the change (02:30 →
// 03:30); one that happens twice is the first.
func ParseInstant(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("the date is empty")
	}
	if t, ok := parseRFC3339(s); ok {
		return t, nil
	}
	var y, mo, d, h, mi, sec int
	if m := localDateTime.FindStringSubmatch(s); m != nil {
		y, mo, d, h, mi, sec = atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6])
	} else if m := localDate.FindStringSubmatch(s); m != nil {
		y, mo, d = atoi(m[1]), atoi(m[2]), atoi(m[3])
	} else {
		return time.Time{}, fmt.Errorf("%q is not a date (use RFC 3339, \"2026-12-24 10:00\" or \"2026-12-24\")", s)
	}
	if check := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC); check.Day() != d || int(check.Month()) != mo {
		return time.Time{}, fmt.Errorf("%q is not a date: no such day", s)
	}
	return onWallClock(y, time.Month(mo), d, TimeOfDay{Hour: h, Minute: mi}, loc).Add(time.Duration(sec) * time.Second), nil
}

// parseRFC3339 reads s as RFC 3339 allows it: "T" and "Z" in either case,
// and a space for the "T" (its section 5.6 permits one for readability, as
// databases write "2026-12-24 10:00:00-05:00").
func parseRFC3339(s string) (time.Time, bool) {
	u := strings.ToUpper(s)
	if len(u) > 10 && u[10] == ' ' {
		u = u[:10] + "T" + u[11:]
	}
	t, err := time.Parse(time.RFC3339, u)
	return t, err == nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Next returns when a wait that starts at now ends: now plus the duration;
// the first time of day Until strictly after now; or the first time Cron
// matches after now. The zero time means never (a cron with no match).
func (st *Wait) Next(now time.Time) time.Time {
	switch {
	case st.Until != nil:
		return NextTimeOfDay(now, *st.Until, st.Location)
	case st.Cron != nil:
		next := st.Cron.Next(now.In(st.Location))
		if next.IsZero() {
			return next
		}
		return next.In(now.Location())
	}
	return now.Add(st.Duration)
}

// NextTimeOfDay returns the first time strictly after now at which the
// wall clock of loc shows t. On a day when t does not exist (a clock moved
// forward over it) it is the time just as far past the change; on a day
// when t happens twice, the first.
func NextTimeOfDay(now time.Time, t TimeOfDay, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	next := onWallClock(y, m, d, t, loc)
	for i := 1; !next.After(now); i++ {
		next = onWallClock(y, m, d+i, t, loc)
	}
	return next.In(now.Location())
}

// onWallClock returns the time of day t on the given day in loc. When the
// clock skips over t that day, time.Date may answer before the change; this
// returns the time as far past the change instead (02:30 → 03:30), never an
// hour early. When t happens twice that day (a clock moved back over it),
// time.Date answers either, depending on the zone's side of UTC; this
// returns the first.
func onWallClock(y int, m time.Month, d int, t TimeOfDay, loc *time.Location) time.Time {
	y, m, d = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Date() // d may run past the month
	at := time.Date(y, m, d, t.Hour, t.Minute, 0, 0, loc)
	// Read t with the offsets before and after a change near it.
	wall := time.Date(y, m, d, t.Hour, t.Minute, 0, 0, time.UTC)
	_, before := at.Add(-12 * time.Hour).Zone()
	_, after := at.Add(12 * time.Hour).Zone()
	a := wall.Add(-time.Duration(before) * time.Second)
	b := wall.Add(-time.Duration(after) * time.Second)
	if b.Before(a) {
		a, b = b, a
	}
	shows := func(x time.Time) bool {
		l := x.In(loc)
		ly, lm, ld := l.Date()
		return ly == y && lm == m && ld == d && l.Hour() == t.Hour && l.Minute() == t.Minute
	}
	switch {
	case shows(a):
		return a.In(loc) // the first, when t happens twice
	case shows(at):
		return at
	}
	return b.In(loc) // t does not exist that day: past the change
}

// Execute pauses the enrollment until the wait ends.
func (st *Wait) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	if st.At != nil {
		return st.executeAt(r), nil
	}
	due := st.Next(r.Now)
	if due.IsZero() {
		return engine.End("wait: the cron expression never matches"), nil
	}
	return engine.WaitUntil(due), nil
}

// executeAt renders the at wait's moment and waits for it: a moment
// already past goes on at once, a value that is not a date goes to
// on_error (or ends the enrollment with the reason).
func (st *Wait) executeAt(r *engine.Run) engine.Outcome {
	raw, err := r.Render(st.At)
	var when time.Time
	if err == nil {
		when, err = ParseInstant(raw, st.Location)
	}
	if err != nil {
		why := fmt.Sprintf("wait at: %v", err)
		if st.OnError != "" {
			r.Trace(why + "; on_error: " + st.OnError)
		}
		return engine.OnError(st.OnError, why)
	}
	due := when.Add(st.Offset)
	local := due.In(st.Location).Format("Mon 2006-01-02 15:04 MST")
	if !due.After(r.Now) {
		r.Trace(fmt.Sprintf("wait at %s: already past, going on", local))
		return engine.Continue()
	}
	r.Trace(fmt.Sprintf("wait at %s (%s)", local, st.Location))
	return engine.WaitUntil(due)
}

// Resume goes on to the next step when the wait's timer fires.
func (st *Wait) Resume(_ context.Context, r *engine.Run, ev engine.Event) (engine.Outcome, error) {
	if ev.Kind != engine.EventTimer {
		return engine.Outcome{}, fmt.Errorf("wait: resumed by a %s event; only its timer resumes it", ev.Kind)
	}
	return engine.Continue(), nil
}

var (
	_ engine.Step    = (*Wait)(nil)
	_ engine.Resumer = (*Wait)(nil)
)

// LatePause returns the longest the wait can last: its duration, just
// under a day for a time of day, the widest gap between a cron's matches
// (checked over the coming year), and engine.WhatsAppWindow for a date,
// which can be any distance away. The enrollment goes on at the next step.
func (st *Wait) LatePause() (target string, longest time.Duration, renews bool) {
	switch {
	case st.At != nil:
		return "", engine.WhatsAppWindow, false
	case st.Duration > 0:
		return "", st.Duration, false
	case st.Until != nil:
		return "", engine.WhatsAppWindow - time.Nanosecond, false
	case st.Cron != nil:
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, st.Location)
		prev, end := st.Cron.Next(from), from.AddDate(1, 0, 0)
		for i := 0; i < 20000 && prev.Before(end); i++ {
			next := st.Cron.Next(prev)
			if next.IsZero() || next.Sub(prev) >= engine.WhatsAppWindow {
				return "", engine.WhatsAppWindow, false
			}
			longest = max(longest, next.Sub(prev))
			prev = next
		}
		return "", longest, false
	}
	return "", 0, false
}

var _ engine.LatePauser = (*Wait)(nil)
