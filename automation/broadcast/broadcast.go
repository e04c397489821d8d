// Package broadcast starts one automation for many contacts, now or at a
// set time, and keeps its progress: a group, a tag or a list of numbers is
// enrolled in batches, each batch one transaction that also moves the
// broadcast's cursor, so that a crash or restart enrolls no contact twice
// and skips none. The store counts what the enrollments sent.
package broadcast

import (
	"errors"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Status is where a Broadcast stands.
type Status string

// Statuses of a Broadcast.
const (
	StatusScheduled Status = "scheduled" // waits for At
	StatusRunning   Status = "running"   // enrolling its contacts
	StatusDone      Status = "done"      // every contact enrolled or skipped
	StatusCanceled  Status = "canceled"  // stopped by an admin, or its automation removed
)

// Sources of a Broadcast: who started it.
const (
	SourceAPI       = "api"       // POST /api/v1/broadcasts
	SourceManual    = "manual"    // the admin API's manual start of an automation
	SourceSchedule  = "schedule"  // a tick of an automation's schedule
	SourceDashboard = "dashboard" // the dashboard's start page
)

// Counts are what a broadcast's enrollments sent to their contacts, kept
// by the store as each message's status changes (see Flags) and as
// contacts write back.
type Counts struct {
	// Sent counts the messages that reached the provider (or were logged
	// in dev mode).
	Sent int `json:"sent"`
	// Delivered counts those the provider reported delivered (or read).
	Delivered int `json:"delivered"`
	// Failed counts those that failed, at keyway or at the provider.
	Failed int `json:"failed"`
	// Replied counts the contacts who wrote back within ReplyWindow of the
	// first message the broadcast sent them.
	Replied int `json:"replied"`
}

// Broadcast is one start of an automation for a group, a tag or a list of
// contacts.
type Broadcast struct {
	ID         string `json:"id"`
	Automation string `json:"automation"`
	// One of Group, Tag, or a list (Listed contacts, stored apart:
	// Tx.BroadcastContacts) says who is enrolled.
	Group  string         `json:"group,omitempty"`
	Tag    string         `json:"tag,omitempty"`
	Listed int            `json:"listed,omitempty"`
	Vars   map[string]any `json:"vars,omitempty"`
	// At is when enrolment starts.
	At     time.Time `json:"at"`
	Source string    `json:"source"`
	// By names who started it: a dashboard user, or "admin" for the token
	// (on the dashboard or through the admin API); its enrollments record
	// them as their StartedBy.
	By     string `json:"by,omitempty"`
	Status Status `json:"status"`
	// Total is how many contacts the broadcast is for: counted when it
	// starts, exact once done (Enrolled plus every skip).
	Total    int            `json:"total"`
	Enrolled int            `json:"enrolled"`
	Skipped  map[string]int `json:"skipped"`
	Counts
	// Cursor is where enrolment stands: the last phone gone through (group,
	// tag) or how many listed contacts were.
	Cursor string `json:"cursor,omitempty"`
	// Counted is set once Total was counted.
	Counted bool `json:"counted,omitempty"`
	// EndStarted is set when the broadcast was canceled with its started
	// enrollments ended too.
	EndStarted bool `json:"end_started,omitempty"`
	// Ending is set, in the commit of such a cancel, until every
	// enrollment the broadcast started has been ended: whichever process
	// holds its lease ends them, a batch per transaction, moving EndCursor
	// (the last enrollment id gone through) and counting Ended, so that a
	// crash mid-way leaves the rest to the next claim.
	Ending    bool   `json:"ending,omitempty"`
	EndCursor string `json:"end_cursor,omitempty"`
	Ended     int    `json:"ended,omitempty"`
	// Reason says why a broadcast was canceled by keyway itself.
	Reason string `json:"reason,omitempty"`
	// CanceledBy names the person who canceled it, or asked to end the
	// enrollments it started (a user's name, "admin" for the token; see
	// engine.WithActor); empty when nobody did, or keyway did.
	CanceledBy string `json:"canceled_by,omitempty"`
	// Owner is the process enrolling it, until LeaseUntil; another may take
	// it over once the lease expired.
	Owner      string     `json:"owner,omitempty"`
	LeaseUntil time.Time  `json:"lease_until,omitzero"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Open reports whether the broadcast still has contacts to enroll.
func (b *Broadcast) Open() bool {
	return b.Status == StatusScheduled || b.Status == StatusRunning
}

// Pending reports whether the broadcast still has work to do: contacts to
// enroll (Open), or started enrollments to end (Ending). A store keeps the
// pending ones in an index of their own, which ClaimBroadcast reads.
func (b *Broadcast) Pending() bool { return b.Open() || b.Ending }

// Tx is what broadcasts need of a store transaction, beside the engine's
// own (engine.TurnTx): every store implements it, one file each. Getters
// return engine.ErrNotFound when nothing is stored.
type Tx interface {
	// Broadcast returns the broadcast with id, its Counts filled in from
	// the store's counters. In a read-write transaction it first takes the
	// broadcast's lock, held until commit, so that two processes change a
	// broadcast one at a time.
	Broadcast(id string) (*Broadcast, error)
	// PutBroadcast stores b; its Counts are the store's, not b's, and are
	// left as they are.
	PutBroadcast(b *Broadcast) error
	// Broadcasts returns up to limit broadcasts whose id sorts before the
	// id given (from the newest when empty), newest first.
	Broadcasts(before string, limit int) ([]*Broadcast, error)
	// OpenBroadcasts returns up to limit (all when 0) of the broadcasts
	// that are scheduled or running, oldest first, with their Counts. Its
	// cost grows with the pending broadcasts, not with all stored.
	OpenBroadcasts(limit int) ([]*Broadcast, error)
	// PutBroadcastContacts stores the listed contacts of broadcast id from
	// position from on.
	PutBroadcastContacts(id string, from int, addrs []string) error
	// BroadcastContacts returns up to limit listed contacts of broadcast
	// id from position from on, in order.
	BroadcastContacts(id string, from, limit int) ([]string, error)
	// ClaimBroadcast leases to owner until now+lease the first broadcast
	// (in id order) that is running, scheduled with At at or before now,
	// or Ending, that holds no lease, an expired one or one of owner's,
	// and that skip (when not nil) does not pass over; it stores it
	// (running, unless it was neither scheduled nor running: an Ending
	// broadcast keeps its status) and returns it, or returns
	// engine.ErrNotFound. Its cost grows with the pending broadcasts, not
	// with all stored.
	ClaimBroadcast(now time.Time, lease time.Duration, owner string, skip func(*Broadcast) (bool, error)) (*Broadcast, error)
	// CountGroup returns how many contacts are members of group.
	CountGroup(group string) (int, error)
	// CountLeftGroup returns how many contacts unsubscribed from group
	// (engine.ContactStore.ContactsLeftGroup).
	CountLeftGroup(group string) (int, error)
	// CountTag returns how many contacts are tagged tag, from the tag
	// index (engine.ContactStore.ContactsWithTag).
	CountTag(tag string) (int, error)
}

// ReplyWindow is how long after the first message a broadcast sent a
// contact its message counts as a reply to it.
const ReplyWindow = 72 * time.Hour

// Flags say what a message's status counts toward; a store adds each flag
// to the counters once per message (FlagsOf).
const (
	FlagSent uint8 = 1 << iota
	FlagDelivered
	FlagFailed
)

// FlagsOf returns what an outbound message with status counts toward.
// Statuses only add: a message once counted sent stays counted, whatever
// callback comes after.
func FlagsOf(status engine.MessageStatus) uint8 {
	switch status {
	case engine.StatusSent, engine.StatusDev, "accepted", "sending", "scheduled":
		return FlagSent
	case "delivered", "read":
		return FlagSent | FlagDelivered
	case engine.StatusFailed, "undelivered":
		return FlagFailed
	}
	return 0
}

// Add adds what flags count to c.
func (c *Counts) Add(flags uint8) {
	if flags&FlagSent != 0 {
		c.Sent++
	}
	if flags&FlagDelivered != 0 {
		c.Delivered++
	}
	if flags&FlagFailed != 0 {
		c.Failed++
	}
}

// Errors of Start and Cancel.
var (
	ErrUnknownAutomation = errors.New("no such automation")
	ErrUnknownGroup      = errors.New("no such group: declare it under groups")
	ErrNoStore           = errors.New("the store keeps no broadcasts")
)
