package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written like "90s", "2h", "1h30m" or "3d"
// (days of 24 hours).
type Duration time.Duration

// DurationText is a duration kept as written, for a step that checks it
// (ParseDuration) and shows it back as written ("no reply within 2h"). A
// quoted reference that leaves it empty counts as not written, as it does
// for a Duration, not as the empty text.
type DurationText string

// ParseDuration reads a duration; on top of time.ParseDuration it takes a
// whole number of days such as "3d", alone or before other units ("1d12h").
// A duration written in words ("1 day", "4 hours") is an error that shows
// how to write it ("use 24h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, ok := parseDuration(s)
	if !ok {
		return 0, fmt.Errorf("invalid duration %q (%s)", s, durationHint(s))
	}
	return d, nil
}

// parseDuration reads s as ParseDuration describes.
func parseDuration(s string) (time.Duration, bool) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, false
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, true
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return days + d, true
}

// durationWords matches a duration written as a number and a unit in
// words: "1 day", "4 hours", "30 mins".
var durationWords = regexp.MustCompile(`^(?i)(\d+)\s*(weeks?|wks?|w|days?|hours?|hrs?|minutes?|mins?|seconds?|secs?)$`)

// durationHint says how to write the duration s that does not read: the
// same duration in keyway's units when s is a number and a unit in words,
// else examples.
func durationHint(s string) string {
	m := durationWords.FindStringSubmatch(s)
	if m == nil {
		return "use e.g. 90s, 15m, 2h, 3d"
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return "use e.g. 90s, 15m, 2h, 3d"
	}
	switch unit := strings.ToLower(m[2]); {
	case strings.HasPrefix(unit, "w"):
		return fmt.Sprintf("use %dd or %dh", 7*n, 7*24*n)
	case strings.HasPrefix(unit, "d"):
		return fmt.Sprintf("use %dh or %dd", 24*n, n)
	case strings.HasPrefix(unit, "h"):
		return fmt.Sprintf("use %dh", n)
	case strings.HasPrefix(unit, "m"):
		return fmt.Sprintf("use %dm", n)
	default:
		return fmt.Sprintf("use %ds", n)
	}
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
