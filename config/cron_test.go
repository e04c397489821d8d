package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// 7 is Sunday in a day-of-week field, as crontab(5) has it, alone, as
// a range's end (MON-SUN too) and under a step; 0 and SUN still are; and
// what is no day stays refused.
func TestParseCronSundayIsSevenToo(t *testing.T) {
	monday := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	for _, c := range []struct {
		spec string
		want []time.Weekday // the next matches from monday, in order
	}{
		{"0 9 * * 7", []time.Weekday{time.Sunday, time.Sunday}},
		{"0 9 * * 0", []time.Weekday{time.Sunday, time.Sunday}},
		{"0 9 * * SUN", []time.Weekday{time.Sunday, time.Sunday}},
		{"0 9 * * 5-7", []time.Weekday{time.Friday, time.Saturday, time.Sunday, time.Friday}},
		{"0 9 * * FRI-SUN", []time.Weekday{time.Friday, time.Saturday, time.Sunday, time.Friday}},
		{"0 9 * * 1-7/2", []time.Weekday{time.Monday, time.Wednesday, time.Friday, time.Sunday, time.Monday}},
		{"0 9 * * 2,7", []time.Weekday{time.Tuesday, time.Sunday, time.Tuesday}},
		{"0 9 * * MON-SUN", []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday, time.Monday}},
		{"CRON_TZ=Europe/Paris 0 9 * * 7", []time.Weekday{time.Sunday, time.Sunday}},
		{"0 9 * * MON-FRI", []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Monday}},
	} {
		s, err := ParseCron(c.spec, time.UTC)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		var got []time.Weekday
		at := monday
		for range c.want {
			at = s.Next(at)
			if at.In(zoneOf(c.spec)).Hour() != 9 {
				t.Errorf("%q: next at %s, want 09:00", c.spec, at)
			}
			got = append(got, at.Weekday())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: next days %v, want %v", c.spec, got, c.want)
		}
	}
	for _, bad := range []string{"0 9 * * 8", "0 9 * * 6-8", "0 9 * * 7-1", "0 9 * * 1-7/0"} {
		_, err := ParseCron(bad, time.UTC)
		if err == nil {
			t.Errorf("%q: no error, want one", bad)
		} else if strings.Contains(err.Error(), "(6)") {
			t.Errorf("%q: %v, which names 6 as the last day though 7 is taken", bad, err)
		}
	}
}

// zoneOf returns the zone a cron expression of the test is read in.
func zoneOf(spec string) *time.Location {
	if HasCronZone(spec) {
		loc, _ := time.LoadLocation("Europe/Paris")
		return loc
	}
	return time.UTC
}

// A refused cron expression says which field holds what is wrong, in the
// admin's words rather than the parser's; one with no date that exists
// (31 February) is refused, since it would never run.
func TestParseCronSaysWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"0 10 * * MOON", `"MOON" in the day-of-week field is not a number (0-7, 0 and 7 are Sunday) or a day name (SUN to SAT)`},
		{"0 10 * * MON-FOO", `"FOO" in the day-of-week field is not a number`},
		{"0 10 * JANX *", `"JANX" in the month field is not a number (1-12) or a month name (JAN to DEC)`},
		{"0 x * * *", `"x" in the hour field is not a number`},
		{"CRON_TZ=UTC 0 10 * * X", `"X" in the day-of-week field`},
		{"0 25 * * *", "the hour field: end of range (25) above maximum (23)"},
		{"0 10 * * 8", "the day-of-week field: end of range (8) above maximum (7, Sunday)"},
		{"*/0 * * * *", "the minute field: step of range should be a positive number"},
		{"0 10 31 2 *", "it never matches"},
		{"0 10 30 2 *", "it never matches"},
	} {
		_, err := ParseCron(c.spec, time.UTC)
		if err == nil {
			t.Errorf("%q: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "strconv") {
			t.Errorf("%q: %v, want it to say %q", c.spec, err, c.want)
		}
	}
	for _, good := range []string{"0 0 29 2 *", "0 9 31 * *", "@weekly", "0 9 1 1 *"} {
		if _, err := ParseCron(good, time.UTC); err != nil {
			t.Errorf("%q: %v, want it taken", good, err)
		}
	}
}
