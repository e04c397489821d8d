package engine

import (
	"slices"
	"time"
)

// ActivityKind names what an Activity counts.
type ActivityKind string

// What the store counts per hour as it writes (see ActivityStore).
const (
	// ActivityIn counts inbound messages stored, by the hour they were created.
	ActivityIn ActivityKind = "in"
	// ActivityOut counts outbound messages stored (sent, queued, failed or
	// suppressed alike), by the hour they were created.
	ActivityOut ActivityKind = "out"
	// ActivityFailed counts outbound messages whose status became a failure
	// (failed, or undelivered as a provider reports it), once each, by the
	// hour of the update that recorded it.
	ActivityFailed ActivityKind = "failed"
	// ActivityOptedOut counts contacts that became opted out, however
	// (a STOP word, the provider, the admin API or a CSV import), by the
	// hour of the opt-out.
	ActivityOptedOut ActivityKind = "opted_out"
	// ActivityEnrolled counts enrollments started, by automation and the
	// hour they started.
	ActivityEnrolled ActivityKind = "enrolled"
	// ActivityEventsFailed counts events to other systems (`events:`) that
	// were given up and marked failed, by the hour they were.
	ActivityEventsFailed ActivityKind = "events_failed"
)

// Activity is a count of one kind of thing that happened in one hour.
type Activity struct {
	// Hour is the start of the hour, in UTC.
	Hour time.Time
	Kind ActivityKind
	// Automation is the automation of an ActivityEnrolled count, else empty.
	Automation string
	N          int
}

// ActivityStore holds counts of what happened per hour (messages in and
// out, failed sends, opt-outs, enrollments started), kept by the store in
// the same commit as the write that causes them, so that an overview of
// the last weeks reads a few hundred counters whatever the number of
// messages stored. Its Put methods count, following MessageActivity,
// ContactActivity and EnrollmentActivity; pruning messages leaves the
// counts as they are.
type ActivityStore interface {
	// Activity returns the non-zero counts of the hours from from
	// (inclusive) to to (exclusive), both taken to their hour, in hour
	// order, then kind, then automation.
	Activity(from, to time.Time) ([]Activity, error)
}

// ActivityHour is the hour a time is counted in: its start, in UTC.
func ActivityHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Failed reports whether the status counts as a failed send: keyway's own
// failed, or a provider's undelivered.
func (s MessageStatus) Failed() bool { return s == StatusFailed || s == "undelivered" }

// MessageActivity is what storing m counts, old being the version stored
// before (nil when m is new): a new message counts in or out at the hour
// it was created; a message whose status becomes a failure counts failed
// at the hour of that update (UpdatedAt, else CreatedAt). A store that
// does not want to read the old version needs it only when m is stored
// again with a failed status.
func MessageActivity(old, m *Message) []Activity {
	var out []Activity
	if old == nil {
		kind := ActivityIn
		if m.Direction == Outbound {
			kind = ActivityOut
		}
		out = append(out, Activity{Hour: ActivityHour(m.CreatedAt), Kind: kind, N: 1})
	}
	if m.Status.Failed() && (old == nil || !old.Status.Failed()) {
		at := m.UpdatedAt
		if at.IsZero() {
			at = m.CreatedAt
		}
		out = append(out, Activity{Hour: ActivityHour(at), Kind: ActivityFailed, N: 1})
	}
	return out
}

// ContactActivity is what storing c counts, old being the version stored
// before (nil when c is new): a contact that becomes opted out counts
// opted_out at the hour of OptedOutAt (else UpdatedAt, else CreatedAt). A
// store needs the old version only when c is opted out.
func ContactActivity(old, c *Contact) []Activity {
	if !c.OptedOut || (old != nil && old.OptedOut) {
		return nil
	}
	at := c.UpdatedAt
	if c.OptedOutAt != nil {
		at = *c.OptedOutAt
	} else if at.IsZero() {
		at = c.CreatedAt
	}
	return []Activity{{Hour: ActivityHour(at), Kind: ActivityOptedOut, N: 1}}
}

// EnrollmentActivity is what storing e counts, isNew saying whether no
// enrollment with its id was stored before: a new one counts enrolled for
// its automation at the hour it started.
func EnrollmentActivity(isNew bool, e *Enrollment) []Activity {
	if !isNew {
		return nil
	}
	return []Activity{{Hour: ActivityHour(e.StartedAt), Kind: ActivityEnrolled, Automation: e.Automation, N: 1}}
}

// EventActivity is what settling d counts: an event marked failed counts
// events_failed at the hour it was settled (SettledAt).
func EventActivity(d *EventDelivery) []Activity {
	if d.Status != EventFailed {
		return nil
	}
	return []Activity{{Hour: ActivityHour(d.SettledAt), Kind: ActivityEventsFailed, N: 1}}
}

// SortActivity puts counts in the order ActivityStore.Activity returns
// them.
func SortActivity(as []Activity) {
	slices.SortFunc(as, func(a, b Activity) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		switch {
		case a.Automation < b.Automation:
			return -1
		case a.Automation > b.Automation:
			return 1
		}
		return 0
	})
}
