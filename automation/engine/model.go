package engine

import (
	"slices"
	"time"

	"github.com/keyway-sms/keyway/providers"
)

// Contact is a person who texts our numbers, keyed by phone number (or by
// the short code, sender id or WhatsApp user id it wrote from).
type Contact struct {
	Phone   string            `json:"phone"` // E.164, or an address kept as written (config.Address)
	Name    string            `json:"name,omitempty"`
	Channel string            `json:"channel,omitempty"` // the channel it last wrote on (before it wrote, the one its import named)
	LastTo  map[string]string `json:"last_to,omitempty"` // channel → our number it last wrote to
	Fields  map[string]string `json:"fields,omitempty"`
	Tags    []string          `json:"tags,omitempty"`
	Groups  []string          `json:"groups,omitempty"`
	// LeftGroups are groups the contact unsubscribed from; scheduled sends
	// to those groups skip it until it joins again.
	LeftGroups []string   `json:"left_groups,omitempty"`
	OptedOut   bool       `json:"opted_out,omitempty"`
	OptedOutAt *time.Time `json:"opted_out_at,omitempty"`
	// OptedOutByAdmin is set while the opt-out was made through the admin
	// API (not by the contact or its provider): the API may lift it.
	OptedOutByAdmin bool `json:"opted_out_by_admin,omitempty"`
	// NoMarketing is set when the contact's provider refused a message
	// because the contact stopped messages from businesses that do not
	// answer its own (Meta 131050): automated messages that do not answer
	// a message it has just sent are not sent. An opt-in word lifts it.
	NoMarketing bool `json:"no_marketing,omitempty"`
	// ForcedOptIn records the last time an admin lifted an opt-out the
	// contact had asked for, and why.
	ForcedOptIn *ForcedOptIn `json:"forced_opt_in,omitempty"`
	// Imported records the last contacts CSV import that wrote the
	// contact: when, and who applied it.
	Imported  *Imported `json:"imported,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// LastInbound is when the contact last wrote on each channel: the
	// WhatsApp window opens there.
	LastInbound map[string]time.Time `json:"last_inbound,omitempty"`
	// RecentSends are the times of the automated messages it got within
	// compliance.loop_guard.per, for the loop guard.
	RecentSends []time.Time `json:"recent_sends,omitempty"`
	// Offer is the last set of choices (buttons or a list) sent to the
	// contact, until its next message: a number or a title typed then,
	// within ChoiceWindow, is read as picking one (see choices.go).
	Offer *Offer `json:"offer,omitempty"`
}

// ForcedOptIn is an admin's override of a contact's own opt-out.
type ForcedOptIn struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Imported is a contacts CSV import's mark on a contact it wrote.
type Imported struct {
	At time.Time `json:"at"`
	By string    `json:"by"` // the user who applied it, "admin" for the token
}

// InGroup reports whether the contact is a member of group.
func (c *Contact) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Direction says whether a Message came in or goes out.
type Direction string

// Directions of a Message.
const (
	Inbound  Direction = "in"
	Outbound Direction = "out"
)

// Kind says how a Message travels.
type Kind string

// Kinds of an outbound Message.
const (
	KindText  Kind = "text"  // SMS or WhatsApp through a provider
	KindEmail Kind = "email" // email through SMTP
)

// Purpose says who an outbound Message is for, which decides whether an
// opted-out contact may receive it.
type Purpose string

// Purposes of an outbound Message.
const (
	PurposeReply      Purpose = "reply"      // to the contact from an automation: never to an opted-out contact
	PurposeCompliance Purpose = "compliance" // the opt-out, opt-in and help replies: always sent
	PurposeForward    Purpose = "forward"    // to staff: not marketing to the contact, always sent
	PurposeStaff      Purpose = "staff"      // a staff member's answer to the contact: never to an opted-out contact, never held back as automated
)

// MessageStatus is where a Message stands. Besides keyway's own statuses
// below it holds the delivery statuses providers report (delivered, read,
// undelivered...).
type MessageStatus string

// Statuses of a Message.
const (
	StatusReceived   MessageStatus = "received"   // inbound, stored
	StatusQueued     MessageStatus = "queued"     // outbound, in the outbox
	StatusSent       MessageStatus = "sent"       // accepted by the provider or the SMTP server
	StatusDev        MessageStatus = "dev"        // dev mode: logged and stored instead of sent
	StatusFailed     MessageStatus = "failed"     // permanent failure, recorded in Error
	StatusSuppressed MessageStatus = "suppressed" // not sent: the contact opted out before it left, cannot receive, or the loop guard stopped it
)

// Message is an inbound or outbound message, or an outbound email.
type Message struct {
	ID         string            `json:"id"`
	Provider   string            `json:"provider,omitempty"`
	ProviderID string            `json:"provider_id,omitempty"` // e.g. Twilio MessageSid
	Direction  Direction         `json:"direction"`
	Kind       Kind              `json:"kind"`
	Purpose    Purpose           `json:"purpose,omitempty"`
	Channel    string            `json:"channel,omitempty"`
	Contact    string            `json:"contact"` // phone of the contact the message is about
	From       string            `json:"from"`
	To         []string          `json:"to"`
	Subject    string            `json:"subject,omitempty"`
	Body       string            `json:"body"`
	Media      []string          `json:"media,omitempty"`
	Fields     map[string]string `json:"fields,omitempty"` // inbound: every field the provider sent
	Status     MessageStatus     `json:"status"`
	Error      string            `json:"error,omitempty"`
	ErrorCode  int               `json:"error_code,omitempty"`
	// Reason is why the last attempt failed, in plain words for people
	// (the provider's own, see providers.Reason), where Error holds the
	// whole error for the log and the API. Empty when Error says it
	// plainly already (a delivery report, a suppressed send).
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// NextAttempt is when a queued message may next be tried.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Sending is when the outbox claimed the message for an attempt whose
	// outcome is not recorded yet, or the first such attempt of several:
	// zero when none is. A message claimed while it is set may have
	// reached the provider already (the process died, or the network
	// failed, mid-send), so the outbox asks the provider's message log
	// before it sends again.
	Sending time.Time `json:"sending,omitzero"`
	// Dropped holds the provider's ids of earlier attempts at the message
	// that the provider took and then dropped for its rate limits, after
	// which keyway sent it again: later reports on them change nothing.
	Dropped    []string `json:"dropped,omitempty"`
	Enrollment string   `json:"enrollment,omitempty"`
	Automation string   `json:"automation,omitempty"`
	// Step is the step of the enrollment that queued the message (its id,
	// or "#N"), so that a provider's refusal of it as outside the WhatsApp
	// window takes that step's window path (see WindowRefuser).
	Step string `json:"step,omitempty"`
	// Answers is the id of the contact's message the run that queued the
	// message was handling, if any: a template sent in its place renders
	// {{ message.* }} as the step did.
	Answers string `json:"answers,omitempty"`
	// StaffText, on a staff answer texted from a staff phone, is the id of
	// that text, and Ref the reference of the conversation it answers:
	// should the answer fail for good, the staff member is told why
	// (UndeliveredIn), as of an answer that cannot go at all.
	StaffText string `json:"staff_text,omitempty"`
	Ref       string `json:"ref,omitempty"`
	// Broadcast is the broadcast whose enrollment sent the message to its
	// contact, if any: the store counts its sends under it.
	Broadcast string    `json:"broadcast,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// ContentSID is the template a message outside the WhatsApp window is
	// sent as (Twilio's Content API), with ContentVariables rendered.
	ContentSID       string            `json:"content_sid,omitempty"`
	ContentVariables map[string]string `json:"content_variables,omitempty"`
	// Template is the template a message outside the WhatsApp window is
	// sent as by name (the WhatsApp Cloud API), its variables rendered.
	Template *providers.Template `json:"template,omitempty"`

	// Choices, on an outbound message, are the reply buttons or list it
	// offers; the provider sends them natively or as numbered lines.
	Choices *providers.Choices `json:"choices,omitempty"`
	// Button, on an inbound message, is the id of the choice the contact
	// made: a button or list row it tapped (the provider's id), or a
	// number or title it typed in answer to an Offer. Body is then the
	// choice's title, and Typed what the contact typed, if it typed.
	Button string `json:"button,omitempty"`
	Typed  string `json:"typed,omitempty"`
	// Compliance is the compliance family (OptOut, OptIn, Help) the
	// provider recognised in an inbound message itself; empty when it
	// said nothing.
	Compliance string `json:"compliance,omitempty"`
	// By, on an outbound message no automation sent (a staff answer or a
	// one-off send from the dashboard), names who sent it: a dashboard
	// user, "admin" for the admin token (see WithActor), or, for an answer
	// texted from a staff phone, its number and name ("+15550100 (Ann)").
	By string `json:"by,omitempty"`
}

// EnrollmentStatus is where an Enrollment stands.
type EnrollmentStatus string

// Statuses of an Enrollment.
const (
	EnrollmentRunning      EnrollmentStatus = "running"       // between steps (only inside a transaction)
	EnrollmentWaiting      EnrollmentStatus = "waiting"       // at a wait, until a timer fires
	EnrollmentWaitingReply EnrollmentStatus = "waiting_reply" // at wait_for_reply
	EnrollmentPending      EnrollmentStatus = "pending"       // at a step doing I/O outside the transaction
	EnrollmentHandoff      EnrollmentStatus = "handoff"       // at a handoff: staff have the conversation
	EnrollmentEnded        EnrollmentStatus = "ended"
)

// Enrollment is one contact going through one automation.
type Enrollment struct {
	ID         string           `json:"id"`
	Automation string           `json:"automation"`
	Contact    string           `json:"contact"`
	Channel    string           `json:"channel"`
	Status     EnrollmentStatus `json:"status"`
	// Step is where the enrollment stands: the step's id, or "#N" (N from 1)
	// for a step without one.
	Step string `json:"step"`
	// StepType guards "#N" positions against a config that moved steps.
	StepType string `json:"step_type"`
	// Epoch grows at every move; a timer carries the epoch it was set at
	// and does nothing once the enrollment has moved on.
	Epoch int `json:"epoch"`
	// Vars holds saved replies and values; HTTP the last http step's response.
	Vars map[string]any `json:"vars,omitempty"`
	HTTP map[string]any `json:"http,omitempty"`
	// WaitUntil is the due time of the enrollment's current timer: the end
	// of a wait, a reply timeout or expiry, or a step I/O's lease. The
	// timer is stored under it, so it is also how the timer is found.
	WaitUntil *time.Time `json:"wait_until,omitempty"`
	// TimerKind is the kind of the timer under WaitUntil, as the pause
	// that set it had it: a message that comes after a reply timeout fell
	// due, and before its timer fired, lets that timeout happen first
	// (lapse). Empty on enrollments paused before keyway kept it.
	TimerKind TimerKind `json:"timer_kind,omitempty"`
	// Handoff is the handoff the enrollment stands at, while its Status
	// is EnrollmentHandoff.
	Handoff *Handoff `json:"handoff,omitempty"`
	// Held says why the enrollment waits at a step that sends (ReasonHeld:
	// quiet hours) until WaitUntil; empty otherwise.
	Held string `json:"held,omitempty"`
	// Answering is set while step I/O started in the handling of the
	// contact's message is under way: what the step then sends answers it,
	// and is not held for quiet hours.
	Answering bool `json:"answering,omitempty"`
	// Trigger is the id of the inbound message that started the enrollment.
	Trigger string `json:"trigger,omitempty"`
	// Broadcast is the broadcast that started the enrollment, if one did.
	Broadcast string `json:"broadcast,omitempty"`
	// Refused names the run of a step (its key and the time it queued its
	// messages) for which the enrollment took the window path because the
	// provider refused one of them as outside the WhatsApp window: a second
	// refused copy of that run (a forward to several staff) changes nothing.
	Refused string `json:"refused,omitempty"`
	// LastError is why a step last sent the enrollment to its on_error
	// step, with the step: "step #2 (reply): outside the WhatsApp 24-hour
	// window". Empty while none did.
	LastError string     `json:"last_error,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndReason string     `json:"end_reason,omitempty"`
	// StartedBy and EndedBy name who started the enrollment by hand (a
	// manual start) and who ended it (a cancel): a dashboard user, or
	// "admin" for the admin token (see WithActor). Empty when keyway did
	// it itself (a keyword, a schedule, the last step).
	StartedBy string `json:"started_by,omitempty"`
	EndedBy   string `json:"ended_by,omitempty"`
}

// Active reports whether the enrollment has not ended.
func (e *Enrollment) Active() bool { return e.Status != EnrollmentEnded }

// Handoff is an open handoff: staff have taken the conversation over.
type Handoff struct {
	// Ref is the conversation's reference (without "#").
	Ref string `json:"ref"`
	// Staff are the numbers the contact's messages go to.
	Staff []string `json:"staff"`
	// Since is when the handoff opened.
	Since time.Time `json:"since"`
}

// TimerKind says what a Timer wakes an enrollment for.
type TimerKind string

// Kinds of a Timer.
const (
	TimerWait    TimerKind = "wait"    // a wait step ends
	TimerTimeout TimerKind = "timeout" // a wait_for_reply times out
	TimerExpire  TimerKind = "expire"  // a wait_for_reply without timeout expires
	TimerIO      TimerKind = "io"      // a step's I/O is to be performed now
	TimerHold    TimerKind = "hold"    // quiet hours end: a held send's step runs again
)

// Timer is a stored wake-up for an enrollment.
type Timer struct {
	Due        time.Time `json:"due"`
	Enrollment string    `json:"enrollment"`
	Automation string    `json:"automation"`
	Epoch      int       `json:"epoch"`
	Kind       TimerKind `json:"kind"`
}
