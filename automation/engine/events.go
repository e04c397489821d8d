package engine

import (
	"encoding/json"
	"fmt"
	"time"

	goccy "github.com/goccy/go-json"

	"github.com/keyway-sms/keyway/config"
)

// EventType names a kind of event keyway tells other systems about
// (README "Events to other systems"); config.EventTypes lists them all.
type EventType string

// The event types, each emitted in the same transaction as what it tells.
const (
	EventContactOptedOut     EventType = "contact.opted_out"
	EventContactOptedIn      EventType = "contact.opted_in"
	EventMessageReceived     EventType = "message.received"
	EventMessageFailed       EventType = "message.failed"
	EventEnrollmentCompleted EventType = "enrollment.completed"
	EventHandoffOpened       EventType = "handoff.opened"
	EventHandoffClosed       EventType = "handoff.closed"
	// EventBroadcastDone is emitted by broadcasts, through Engine.Emit.
	EventBroadcastDone EventType = "broadcast.done"
)

// EventStatus is where an EventDelivery stands.
type EventStatus string

// The states of an EventDelivery.
const (
	EventPending   EventStatus = "pending"   // queued: to be posted, or retried
	EventDelivered EventStatus = "delivered" // the endpoint answered 2xx
	EventFailed    EventStatus = "failed"    // retried for the whole retry period, or the endpoint is gone
)

// EventDelivery is one event on its way to one endpoint of `events:`. It
// is stored in the transaction of what caused it, with its body already
// written, and the events worker posts it after: the deliveries of one
// contact to one endpoint go one at a time, in the order they were stored
// (QueueKey).
type EventDelivery struct {
	// ID is the event's webhook-id, the same on every attempt; ids sort by
	// creation.
	ID string `json:"id"`
	// Endpoint is the URL of the endpoint it goes to.
	Endpoint string `json:"endpoint"`
	// Contact is the phone of the contact it is about; empty for an event
	// about no one contact (broadcast.done).
	Contact string    `json:"contact,omitempty"`
	Type    EventType `json:"type"`
	// Body is the JSON posted: {"type", "timestamp", "data"}.
	Body      json.RawMessage `json:"body"`
	CreatedAt time.Time       `json:"created_at"`
	Status    EventStatus     `json:"status"`
	// Attempts counts the posts made so far.
	Attempts int `json:"attempts,omitempty"`
	// Due is when the next attempt may be made (when pending).
	Due time.Time `json:"due"`
	// Owner names the process holding the lease on the delivery (while an
	// attempt is under way), until LeaseUntil.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// LastError says why the last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// SettledAt is when it was delivered or marked failed.
	SettledAt time.Time `json:"settled_at,omitzero"`
}

// QueueKey names the queue d waits in: its endpoint and contact.
func (d *EventDelivery) QueueKey() string { return d.Endpoint + "\x01" + d.Contact }

// Claimable is when d can next be claimed: the end of its lease while one
// is held, else its Due.
func (d *EventDelivery) Claimable() time.Time {
	if d.Owner != "" {
		return d.LeaseUntil
	}
	return d.Due
}

// Settleable reports whether owner may settle d, as stored, with
// EventQueue.SettleEvent: ErrNotFound when d is no longer pending,
// ErrLeaseLost when owner does not hold its lease.
func (d *EventDelivery) Settleable(owner string) error {
	switch {
	case d.Status != EventPending:
		return fmt.Errorf("%s already: %w", d.Status, ErrNotFound)
	case d.Owner != owner || owner == "":
		return ErrLeaseLost
	}
	return nil
}

// EventAdder is what storing an event needs of a transaction; every Tx is
// one.
type EventAdder interface {
	// AddEvent stores the pending delivery d at the end of its queue
	// (d.QueueKey()), claimable at d.Due.
	AddEvent(d *EventDelivery) error
}

// EventQueue holds event deliveries: one queue per endpoint and contact,
// whose head alone may be claimed, leased to one owner at a time, as the
// outbox's SendQueue does for sends.
type EventQueue interface {
	EventAdder
	// EventDelivery returns the delivery with id, pending or settled.
	EventDelivery(id string) (*EventDelivery, error)
	// ClaimEvents leases up to limit deliveries to owner until now+lease
	// and returns them, soonest claimable first: only the head of each
	// queue, when its Claimable is at or before now. Its cost grows with
	// the deliveries claimed, not with those queued.
	ClaimEvents(now time.Time, lease time.Duration, owner string, limit int) ([]*EventDelivery, error)
	// SettleEvent stores the outcome of owner's attempt at d, and gives
	// the lease back: still pending, d stays the head of its queue,
	// claimable at d.Due; delivered or failed, it leaves its queue (kept
	// until PruneEvents) and the next of the queue becomes the head: the
	// next added (a store one process alone writes may take the next id,
	// as that process's ids only grow; one processes on several machines
	// share may not, as their clocks differ). It
	// returns ErrLeaseLost, changing nothing, when owner no longer holds
	// the lease, and ErrNotFound when d is not stored or not pending.
	SettleEvent(d *EventDelivery, owner string) error
	// RecoverEvents gives back every lease owner holds, making those
	// deliveries claimable at their Due without waiting for the leases to
	// expire, and returns how many. A process calls it at start with its
	// own name, for the deliveries it was posting when it last stopped or
	// died; its cost grows with those, not with the queues.
	RecoverEvents(owner string) (int, error)
	// NextEventDue returns when the soonest claimable delivery can be
	// claimed; ErrNotFound when none is pending.
	NextEventDue() (time.Time, error)
	// PruneEvents removes up to limit deliveries settled (delivered or
	// failed) before the time given, oldest first, and returns how many.
	PruneEvents(before time.Time, limit int) (int, error)
}

// NewEventDeliveries returns the deliveries of one event of type typ
// about contact (empty for none), one for each endpoint of cfg's
// `events:` that takes typ, each with its own id from newID, and the body
// {"type", "timestamp" (now), "data"}: data with "phone" set to the
// contact when there is one. It returns none when no endpoint takes typ.
func NewEventDeliveries(cfg *config.Config, now time.Time, newID func() string, typ EventType, contact string, data map[string]any) ([]*EventDelivery, error) {
	var out []*EventDelivery
	var body []byte
	for _, ep := range cfg.Events {
		if !ep.Takes(string(typ)) {
			continue
		}
		if body == nil {
			d := make(map[string]any, len(data)+1)
			for k, v := range data {
				d[k] = v
			}
			if contact != "" {
				d["phone"] = contact
			}
			var err error
			// goccy/go-json, as records are written: the same JSON as
			// encoding/json's (map keys sorted, HTML escaped), in the
			// commit of the event's cause at a third of the time.
			body, err = goccy.Marshal(struct {
				Type      EventType      `json:"type"`
				Timestamp string         `json:"timestamp"`
				Data      map[string]any `json:"data"`
			}{typ, now.UTC().Format(time.RFC3339Nano), d})
			if err != nil {
				return nil, fmt.Errorf("engine: encode a %s event: %w", typ, err)
			}
		}
		out = append(out, &EventDelivery{
			ID: "evt_" + newID(), Endpoint: ep.URL, Contact: contact, Type: typ, Body: body,
			CreatedAt: now, Status: EventPending, Due: now,
		})
	}
	return out, nil
}

// Emit stores, in tx, an event of type typ about contact (a phone; empty
// for an event about no one contact) for every endpoint of the running
// config's `events:` that takes typ, to be delivered once tx commits. It
// is the hook for work that runs its own transactions: broadcasts call it
// with EventBroadcastDone in the transaction that marks a broadcast done,
// with data such as {"broadcast_id": ..., "automation": ..., "total": ...}
// (README "Events to other systems" lists each type's data). Call
// WakeEvents after the commit to have it posted at once rather than at
// the events worker's next poll (a second or so).
func (e *Engine) Emit(tx EventAdder, typ EventType, contact string, data map[string]any) error {
	_, err := e.emit(tx, e.Set(), e.clock.Now(), typ, contact, data)
	return err
}

// WakeEvents tells the events worker that events were committed.
func (e *Engine) WakeEvents() { e.onEvents() }

// emit stores in tx the deliveries of one event and reports whether
// there were any: none when no endpoint takes typ.
func (e *Engine) emit(tx EventAdder, set *Set, now time.Time, typ EventType, contact string, data map[string]any) (bool, error) {
	if len(set.Config.Events) == 0 {
		return false, nil
	}
	ds, err := NewEventDeliveries(set.Config, now, func() string { return e.ids.next(now) }, typ, contact, data)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if err := tx.AddEvent(d); err != nil {
			return false, fmt.Errorf("engine: store a %s event: %w", typ, err)
		}
	}
	return len(ds) > 0, nil
}

// event stores an event in the unit of work's transaction, and has the
// events worker woken once it commits, if an endpoint took it: a wake
// costs the worker a claim transaction, which an event no endpoint takes
// (every message.received to an endpoint of opt-outs only) must not.
func (x *unitOfWork) event(typ EventType, contact string, data map[string]any) error {
	stored, err := x.e.emit(x.tx, x.set, x.now, typ, contact, data)
	x.wakeEvents = x.wakeEvents || stored
	return err
}

// messageIDs are the ids of message m for an event's data: what a
// contact.opted_out or contact.opted_in event is about when a message
// (the contact's STOP, a send the provider refused) caused it. Beside
// keyway's id, the provider's (Twilio's MessageSid, Meta's wamid, Vonage's
// message_uuid) once there is one, so that a receiver can match the
// event with what its provider shows.
func messageIDs(m *Message) map[string]any {
	if m == nil {
		return nil
	}
	d := map[string]any{"message_id": m.ID}
	if m.ProviderID != "" {
		d["provider_message_id"] = m.ProviderID
	}
	return d
}

// handoffData is the data of a handoff event about en.
func handoffData(en *Enrollment) map[string]any {
	d := map[string]any{"enrollment_id": en.ID, "automation": en.Automation}
	if h := en.Handoff; h != nil {
		d["ref"] = h.Ref
	}
	return d
}

// messageData is the data of a message event about m.
func messageData(m *Message) map[string]any {
	d := messageIDs(m)
	d["channel"] = m.Channel
	if m.Direction == Inbound {
		d["body"] = m.Body
		if len(m.To) == 1 {
			d["to"] = m.To[0]
		}
		if len(m.Media) > 0 {
			d["media"] = m.Media
		}
		if m.Button != "" {
			d["button"] = m.Button
		}
		return d
	}
	d["from"] = m.From
	d["error"] = m.Error
	d["reason"] = failureReason(m)
	if m.ErrorCode != 0 {
		d["error_code"] = m.ErrorCode
	}
	if m.Enrollment != "" {
		d["enrollment_id"] = m.Enrollment
	}
	if m.Automation != "" {
		d["automation"] = m.Automation
	}
	return d
}

// failureReason says why m failed in plain words, for the people a CRM
// shows it to: the provider's own reason where the send was refused, else
// the error itself, which a delivery report gives in the provider's words
// already.
func failureReason(m *Message) string {
	if m.Reason != "" {
		return m.Reason
	}
	return m.Error
}

// failedEventOf reports whether a failure of m is told as message.failed:
// a message to a contact, not a forward to staff nor an email.
func failedEventOf(m *Message) bool {
	return m.Direction == Outbound && m.Contact != "" && m.Purpose != PurposeForward && m.Kind == KindText
}

// MessageFailedEvent stores a message.failed event about m, an outbound
// message that has just failed for good, in tx: the outbox calls it in
// the transaction that records the failure.
func (e *Engine) MessageFailedEvent(tx EventAdder, m *Message) error {
	if !failedEventOf(m) {
		return nil
	}
	return e.Emit(tx, EventMessageFailed, m.Contact, messageData(m))
}
