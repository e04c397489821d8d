package engine

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// WhatsAppWindow is how long after a contact's last WhatsApp message a
// free-form message may reach it there; outside it only a template may.
const WhatsAppWindow = 24 * time.Hour

// ReasonOutsideWindow is recorded when a WhatsApp send without a template
// falls outside the window.
const ReasonOutsideWindow = "outside the WhatsApp 24-hour window"

// ReasonHeld is the hold of an enrollment whose send waits for the end of
// quiet hours.
const ReasonHeld = "quiet hours"

// InWindow reports whether at now the contact wrote on channel less than
// WhatsAppWindow ago. Only WhatsApp has a window: any other channel is
// always open.
func (c *Contact) InWindow(channel string, now time.Time) bool {
	if channel != config.ChannelWhatsApp {
		return true
	}
	last, ok := c.LastInbound[channel]
	return ok && now.Sub(last) < WhatsAppWindow
}

// loopGuard reports whether the contact may get one more automated message
// at now under the guard's limit, and if so counts it. The send times kept
// on the contact are trimmed to the guard's period, so the list never holds
// more than max of them.
func (t *turn) loopGuard() (ok bool, why string) {
	lg := t.set.Config.Compliance.LoopGuard
	max, per := lg.Max, lg.Per.D()
	if max <= 0 || per <= 0 {
		return true, ""
	}
	c := t.contact
	cut := t.now.Add(-per)
	kept := c.RecentSends[:0]
	for _, at := range c.RecentSends {
		if at.After(cut) {
			kept = append(kept, at)
		}
	}
	c.RecentSends = kept
	if len(kept) >= max {
		return false, fmt.Sprintf("loop guard: the contact already got %d automated messages within %s", len(kept), lg.Per.D())
	}
	c.RecentSends = append(c.RecentSends, t.now)
	return true, ""
}

// QuietHours is compliance.quiet_hours compiled: Start and End in minutes
// since midnight in Location; End before Start spans midnight.
type QuietHours struct {
	Start, End int
	Location   *time.Location
}

// compileQuietHours compiles q; nil (or an invalid q, reported by config
// validation) gives nil, no quiet hours.
func compileQuietHours(q *config.QuietHours) *QuietHours {
	if q == nil {
		return nil
	}
	start, err1 := config.ParseClock(q.Start)
	end, err2 := config.ParseClock(q.End)
	loc, err3 := time.LoadLocation(q.Timezone)
	if err1 != nil || err2 != nil || err3 != nil || start == end {
		return nil
	}
	return &QuietHours{Start: start, End: end, Location: loc}
}

// Until reports whether now falls in quiet hours and, if so, when they
// end: the next End on the wall clock of the zone, found by calendar day so
// that a day of 23 or 25 hours (a DST change) still ends at End. Start is
// inside quiet hours, End is not.
func (q *QuietHours) Until(now time.Time) (time.Time, bool) {
	if q == nil {
		return time.Time{}, false
	}
	local := now.In(q.Location)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	endOn := func(day int) time.Time {
		return time.Date(y, mo, day, q.End/60, q.End%60, 0, 0, q.Location)
	}
	if q.Start < q.End { // within one day, e.g. 12:00 to 14:00
		if m >= q.Start && m < q.End {
			return endOn(d), true
		}
		return time.Time{}, false
	}
	switch { // across midnight, e.g. 21:00 to 08:00
	case m >= q.Start:
		return endOn(d + 1), true
	case m < q.End:
		return endOn(d), true
	}
	return time.Time{}, false
}

// HoldUntil reports whether a send the run would make now is to be held
// for quiet hours, and until when: it is when now falls in quiet hours and
// the run is not answering a message the contact has just sent (a timer,
// a schedule tick or a manual start runs it).
func (r *Run) HoldUntil() (time.Time, bool) {
	if r.t.answering {
		return time.Time{}, false
	}
	return r.Set.quiet.Until(r.Now)
}

// InWindow reports whether a free-form message may reach the contact now on
// the enrollment's channel (see Contact.InWindow).
func (r *RunView) InWindow() bool { return r.Contact.InWindow(r.Enrollment.Channel, r.Now) }
