package config

import (
	"errors"
	"fmt"
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

// parseStandard is robfig's standard parser, whose refusal of a day of
// the week past 6 says that 7 (Sunday, see sundaySeven) is the last.
func parseStandard(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil && strings.Contains(err.Error(), "above maximum (6)") {
		// Only the day of the week has 6 as its maximum.
		return nil, errors.New(strings.Replace(err.Error(), "above maximum (6)", "above maximum (7, Sunday)", 1))
	}
	return s, err
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
