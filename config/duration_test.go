package config

import (
	"testing"
	"time"
)

// A duration reads in keyway's units; one written in words says how to
// write it, days as well as hours.
func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"90s": 90 * time.Second, "2h": 2 * time.Hour, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour, " 15m ": 15 * time.Minute}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	bad := map[string]string{
		"1 day":   `invalid duration "1 day" (use 24h or 1d)`,
		"2 Days":  `invalid duration "2 Days" (use 48h or 2d)`,
		"4 hours": `invalid duration "4 hours" (use 4h)`,
		"1 week":  `invalid duration "1 week" (use 7d or 168h)`,
		"30 mins": `invalid duration "30 mins" (use 30m)`,
		"soon":    `invalid duration "soon" (use e.g. 90s, 15m, 2h, 3d)`,
		"1dx":     `invalid duration "1dx" (use e.g. 90s, 15m, 2h, 3d)`,
		"-2h":     `invalid duration "-2h" (use e.g. 90s, 15m, 2h, 3d)`,
	}
	for s, want := range bad {
		if _, err := ParseDuration(s); err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error %v, want %s", s, err, want)
		}
	}
}
