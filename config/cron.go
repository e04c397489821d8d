package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseCron reads a cron expression with robfig/cron's standard parser
// (five fields, or a descriptor such as @daily or @every 2s), read in loc
// unless it starts with its own CRON_TZ=Zone. Next, given a time in any
// zone, returns times in that zone; the matching is done on loc's wall
// clock, so a daylight-saving change does not shift a 09:00 by an hour.
func ParseCron(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if HasCronZone(spec) {
		// robfig's parser slices up to the first space: refuse a zone with
		// nothing after it rather than let it panic.
		if !strings.Contains(spec, " ") {
			return nil, fmt.Errorf("a time zone but no schedule")
		}
		return cron.ParseStandard(spec)
	}
	if loc == nil {
		loc = time.UTC
	}
	if spec == "" {
		return nil, errors.New("empty cron expression")
	}
	return cron.ParseStandard("CRON_TZ=" + loc.String() + " " + spec)
}

// HasCronZone reports whether a cron expression names its own time zone
// (CRON_TZ= or TZ=).
func HasCronZone(spec string) bool {
	spec = strings.TrimSpace(spec)
	return strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
}
