package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseCron reads a cron expression with robfig/cron's standard parser
// (five fields, Sunday 0 or 7 as in crontab, or a descriptor such as
// @daily or @every 2s), read in loc
// unless it starts with its own CRON_TZ=Zone. Next, given a time in any
// zone, returns times in that zone; the matching is done on loc's wall
// clock, so a daylight-saving change does not shift a 09:00 by an hour.
func ParseCron(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if HasCronZone(spec) {
		// robfig's parser slices up to the first space: refuse a zone with
		// nothing after it rather than let it panic.
		zone, rest, ok := strings.Cut(spec, " ")
		if !ok {
			return nil, fmt.Errorf("a time zone but no schedule")
		}
		return parseStandard(zone + " " + sundaySeven(strings.TrimSpace(rest)))
	}
	if loc == nil {
		loc = time.UTC
	}
	if spec == "" {
		return nil, errors.New("empty cron expression")
	}
	return parseStandard("CRON_TZ=" + loc.String() + " " + sundaySeven(spec))
}

// cronCheckFrom is the time a cron expression is tried from once parsed:
// one that finds no match in the five years after it (robfig's limit)
// never matches.
var cronCheckFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// parseStandard is robfig's standard parser, whose refusals are said in
// the admin's terms: which field holds the value refused, that 7 (Sunday,
// see sundaySeven) is the last day of the week, and that a day or month
// name is not a number. An expression that parses but names no date that
// exists ("0 9 31 2 *") is refused too: it would never run.
func parseStandard(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, errors.New(cronProblem(spec, err.Error()))
	}
	if s.Next(cronCheckFrom).IsZero() {
		return nil, errors.New("it never matches: no date has that day of the month in that month (e.g. 31 February)")
	}
	return s, nil
}

// cronFields names the five fields of a cron expression, in order.
var cronFields = [5]string{"minute", "hour", "day-of-month", "month", "day-of-week"}

// cronBadValue is robfig's refusal of a value that is neither a number
// nor a name it knows.
var cronBadValue = regexp.MustCompile(`^failed to parse int from (\S+): strconv\.Atoi: .*$`)

// cronProblem rewrites robfig's refusal msg of spec for people.
func cronProblem(spec, msg string) string {
	if m := cronBadValue.FindStringSubmatch(msg); m != nil {
		field := cronFieldOf(spec, m[1])
		switch field {
		case "month":
			return fmt.Sprintf("%q in the month field is not a number (1-12) or a month name (JAN to DEC)", m[1])
		case "day-of-week":
			return fmt.Sprintf("%q in the day-of-week field is not a number (0-7, 0 and 7 are Sunday) or a day name (SUN to SAT)", m[1])
		case "":
			return fmt.Sprintf("%q is not a number", m[1])
		}
		return fmt.Sprintf("%q in the %s field is not a number", m[1], field)
	}
	// Only the day of the week has 6 as its maximum.
	msg = strings.Replace(msg, "above maximum (6)", "above maximum (7, Sunday)", 1)
	if i := strings.LastIndex(msg, ": "); i >= 0 && (strings.Contains(msg, "maximum") || strings.Contains(msg, "minimum") || strings.Contains(msg, "step of range")) {
		if field := cronFieldOf(spec, msg[i+2:]); field != "" {
			return "the " + field + " field: " + msg
		}
	}
	return msg
}

// cronFieldOf names the field of a five-field spec (after any CRON_TZ=)
// that holds value, as a whole field or one of its comma items, or one
// of a range's ends; "" when none does.
func cronFieldOf(spec, value string) string {
	fields := strings.Fields(spec)
	if len(fields) == 6 && HasCronZone(fields[0]) {
		fields = fields[1:]
	}
	if len(fields) != 5 {
		return ""
	}
	for i, f := range fields {
		for _, item := range strings.Split(f, ",") {
			rng, _, _ := strings.Cut(item, "/")
			lo, hi, _ := strings.Cut(rng, "-")
			if item == value || rng == value || lo == value || hi == value {
				return cronFields[i]
			}
		}
	}
	return ""
}

// sundaySeven rewrites the day of the week of a five-field cron
// expression so that 7 is Sunday, as crontab(5) has it ("0 9 * * 7",
// "0 9 * * 5-7", "0 9 * * MON-SUN"): robfig's parser knows Sunday as 0
// only, and refuses 7. An item that names 7 or ends a range on SUN is
// spelt out day by day (7 becoming 0); anything else is left for the
// parser to judge.
func sundaySeven(spec string) string {
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return spec // a descriptor (@daily), or a count the parser refuses
	}
	items := strings.Split(fields[4], ",")
	for i, item := range items {
		items[i] = sundaySevenItem(item)
	}
	fields[4] = strings.Join(items, ",")
	return strings.Join(fields, " ")
}

// weekdays are the day names robfig's parser takes, Sunday as 0.
var weekdays = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

// sundaySevenItem rewrites one item of a day-of-week field (see
// sundaySeven).
func sundaySevenItem(item string) string {
	rng, step, stepped := strings.Cut(item, "/")
	lo, hi, ranged := strings.Cut(rng, "-")
	if !ranged {
		if rng == "7" && !stepped {
			return "0"
		}
		return item
	}
	day := func(s string) (int, bool) {
		if d, ok := weekdays[strings.ToUpper(s)]; ok {
			return d, true
		}
		d, err := strconv.Atoi(s)
		return d, err == nil && d >= 0 && d <= 7
	}
	a, okA := day(lo)
	b, okB := day(hi)
	if !okA || !okB {
		return item
	}
	if b == 0 && strings.EqualFold(hi, "SUN") && a > 0 {
		b = 7 // MON-SUN: Sunday ends the week
	}
	if b != 7 || a > b {
		return item
	}
	n := 1
	if stepped {
		var err error
		if n, err = strconv.Atoi(step); err != nil || n < 1 {
			return item
		}
	}
	var days []string
	for d := a; d <= b; d += n {
		days = append(days, strconv.Itoa(d%7))
	}
	return strings.Join(days, ",")
}

// HasCronZone reports whether a cron expression names its own time zone
// (CRON_TZ= or TZ=).
func HasCronZone(spec string) bool {
	spec = strings.TrimSpace(spec)
	return strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
}
