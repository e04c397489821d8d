package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/keyway-sms/keyway/config"
)

// Staff answer conversations from their phones (README "Staff"). Every
// forward to staff carries the reference of the contact's conversation,
// "#K7Q2"; staff answer with "#K7Q2 text", or with plain text, which
// answers the one conversation it can mean (see staffdesk.go).
//
// The engine keeps, in the store's Meta values (no Tx method of their own):
//
//	conv:<REF>         the Conversation: contact, channel, our number it wrote to
//	convref:<contact>  the contact's reference
//	staff:<number>     the staffDesk: the forwards to that staff number, and their answers

// RefAlphabet holds the characters of conversation references: capital
// letters and digits without those read alike (0/O, 1/I/L).
const RefAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// RefLength is the number of characters of a conversation reference.
const RefLength = 4

// RefTTL is how long a reference stays its contact's after the last
// forward that carried it; after that it may be given to another contact.
const RefTTL = 30 * 24 * time.Hour

// StaffAnswerWindow is how long after a forward a staff member's plain
// text (without #REF) answers it.
const StaffAnswerWindow = 24 * time.Hour

// RandomRef returns RefLength random characters of RefAlphabet.
func RandomRef() string {
	var b [RefLength]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, RefLength)
	for i, v := range b {
		out[i] = RefAlphabet[int(v)%len(RefAlphabet)]
	}
	return string(out)
}

// Conversation is a contact's conversation as staff see it, found by its
// reference. Staff answers go to Contact on the channel it last wrote on,
// from the number it last wrote to there: Channel and To as at the last
// forward, unless the contact wrote since.
type Conversation struct {
	Ref     string `json:"ref"`
	Contact string `json:"contact"`
	// Channel is the channel the contact was on at the last forward.
	Channel string `json:"channel"`
	// To is our number the contact wrote to on Channel.
	To string `json:"to"`
	// At is when the last forward carrying the reference was made.
	At time.Time `json:"at"`
}

func convKey(ref string) string        { return "conv:" + ref }
func convRefKey(contact string) string { return "convref:" + contact }
func staffKey(number string) string    { return "staff:" + number }

// getMeta decodes the Meta value at key into v; it reports false when
// there is none.
func getMeta(tx MetaStore, key string, v any) (bool, error) {
	raw, err := tx.Meta(key)
	if isNotFound(err) || (err == nil && len(raw) == 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

func putMeta(tx MetaStore, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := tx.PutMeta(key, raw); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// conversation returns the stored conversation with ref, or nil.
func conversation(tx MetaStore, ref string) (*Conversation, error) {
	var c Conversation
	ok, err := getMeta(tx, convKey(ref), &c)
	if !ok || err != nil {
		return nil, err
	}
	return &c, nil
}

// conversation returns the conversation of the turn's contact, giving it a
// reference on first use (or when its old one lapsed), and records it as
// forwarded now on channel: staff answers go there, from the number the
// contact last wrote to.
func (t *turn) conversation(channel string) (*Conversation, error) {
	c := t.contact
	var ref string
	if _, err := getMeta(t.tx, convRefKey(c.Phone), &ref); err != nil {
		return nil, err
	}
	var conv *Conversation
	if ref != "" {
		old, err := conversation(t.tx, ref)
		if err != nil {
			return nil, err
		}
		if old != nil && old.Contact == c.Phone {
			conv = old
		}
	}
	if conv == nil {
		ref, err := t.freeRef()
		if err != nil {
			return nil, err
		}
		conv = &Conversation{Ref: ref, Contact: c.Phone}
		if err := putMeta(t.tx, convRefKey(c.Phone), ref); err != nil {
			return nil, err
		}
	}
	if channel == "" {
		channel = config.ChannelSMS
	}
	conv.Channel, conv.To, conv.At = channel, t.sender(channel, ""), t.now
	if err := putMeta(t.tx, convKey(conv.Ref), conv); err != nil {
		return nil, err
	}
	return conv, nil
}

// freeRef picks a reference that no conversation holds, or whose
// conversation lapsed (RefTTL).
func (t *turn) freeRef() (string, error) {
	for range 100 {
		ref := t.e.newRef()
		old, err := conversation(t.tx, ref)
		if err != nil {
			return "", err
		}
		if old == nil || t.now.Sub(old.At) > RefTTL {
			return ref, nil
		}
	}
	return "", fmt.Errorf("no free conversation reference after 100 tries")
}

// Reference returns the reference of the contact's conversation (without
// "#") for a forward to staff, on the enrollment's channel. The forwards
// the step then queues to each of staff (Queue, PurposeForward) are noted
// in that staff member's desk as forwards of this conversation: once one
// is handed to the provider, a plain answer from them may mean it.
func (r *Run) Reference(staff ...string) (string, error) {
	conv, err := r.t.conversation(r.Enrollment.Channel)
	if err != nil {
		return "", fmt.Errorf("conversation reference: %w", err)
	}
	if r.t.forwarding == nil {
		r.t.forwarding = map[string]string{}
	}
	for _, n := range staff {
		r.t.forwarding[n] = conv.Ref
	}
	return conv.Ref, nil
}

// EmailDesk is the desk (staffKey) where the forwards by email are noted,
// whatever their addresses: the dashboard's inbox lists their
// conversations, so that staff who got one by email can answer it there
// (or from a staff phone with its "#REF text").
const EmailDesk = "email"

// EmailReference returns the reference of the contact's conversation
// (without "#") for a forward by email, as Reference does for one to staff
// phones: the email the step then queues is noted in the EmailDesk.
func (r *Run) EmailReference() (string, error) {
	return r.Reference(EmailDesk)
}

// staffCommand is a staff message read: the reference it names (empty:
// the one plain text means), its text, and whether it closes the handoff.
type staffCommand struct {
	ref  string
	text string
	done bool
}

// parseStaff reads a staff message: "#REF text", "#REF done", "#done" or
// plain text. A reference is matched without regard to case and may be
// followed by ":" or ",".
func parseStaff(body string) staffCommand {
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "#") {
		return staffCommand{text: body}
	}
	word, rest := body[1:], ""
	if i := strings.IndexFunc(word, unicode.IsSpace); i >= 0 {
		word, rest = word[:i], word[i:]
	}
	word = strings.ToUpper(strings.TrimRight(word, ":,."))
	rest = strings.TrimSpace(rest)
	if word == "DONE" && rest == "" {
		return staffCommand{done: true}
	}
	return staffCommand{ref: word, text: rest, done: strings.EqualFold(strings.Trim(rest, " .!"), "done")}
}

// staffMessage handles m, a message from staff, on t (the staff member's
// turn): it answers a conversation, closes a handoff, or tells the staff
// member why it could not.
func (e *Engine) staffMessage(ctx context.Context, t *turn, m *Message) error {
	cmd := parseStaff(m.Body)
	conv, cands, err := e.staffConversation(ctx, t, cmd)
	if err != nil {
		return err
	}
	if len(cands) > 1 {
		note, err := whichConversation(t.tx, cands, cmd.done)
		if err != nil {
			return err
		}
		t.emit(TraceEvent{Contact: m.From, What: fmt.Sprintf("staff %s: not sent, %d conversations could be meant", staffLabel(t.set, m.From), len(cands))})
		return e.tellStaff(t, m, note)
	}
	if conv == nil {
		if cmd.ref != "" {
			return e.tellStaff(t, m, fmt.Sprintf("#%s: no such conversation.", cmd.ref))
		}
		if cmd.done {
			if t.x.toldClosed[m.From] {
				return nil // the handoff timed out just now: the note says so
			}
			return e.tellStaff(t, m, "No handoff is open with you: nothing to close.")
		}
		return e.tellStaff(t, m, "Not delivered: no forward reached you in the last 24 hours. Start with the reference, e.g. #K7Q2 your text.")
	}
	who := staffActor{label: staffLabel(t.set, m.From), number: m.From}
	if cmd.done {
		closed, err := e.closeHandoff(ctx, t.x, conv, who)
		if err != nil || !closed {
			if err != nil || t.x.toldClosed[m.From] {
				return err // it timed out just now (lapse): the note says so
			}
			return e.tellStaff(t, m, fmt.Sprintf("#%s: no handoff is open.", conv.Ref))
		}
		if err := t.noteAnswered(conv.Ref); err != nil {
			return err
		}
		return e.tellStaff(t, m, fmt.Sprintf("#%s: handoff closed.", conv.Ref))
	}
	if cmd.text == "" && len(m.Media) == 0 {
		return e.tellStaff(t, m, fmt.Sprintf("#%s: nothing to send; write #%s and your text.", conv.Ref, conv.Ref))
	}
	_, why, err := e.answerConversation(ctx, t.x, conv, staffAnswer{text: cmd.text, media: m.Media, who: who, via: m.ID})
	if err != nil {
		return err
	}
	if why != "" {
		return e.tellStaff(t, m, fmt.Sprintf("#%s not delivered: %s.", conv.Ref, why))
	}
	return t.noteAnswered(conv.Ref)
}

// staffActor is who answers or closes a conversation, for the trace: a
// staff number (label as staffLabel names it), or a dashboard user
// (number empty).
type staffActor struct {
	label  string
	number string
	user   string // the dashboard user's name, when it has one
}

// traceContact is the contact a trace event of a's action is about: the
// staff number, else the conversation's contact.
func (a staffActor) traceContact(conv *Conversation) string {
	if a.number != "" {
		return a.number
	}
	return conv.Contact
}

// staffAnswer is an answer of staff to a conversation: its text and
// media, and who gave it.
type staffAnswer struct {
	text  string
	media []string
	who   staffActor
	via   string // the id of the staff member's text it comes from, "" from the dashboard
}

// answerConversation sends a staff answer to the contact of conv, the way
// every staff answer goes (a text from a staff number, or the dashboard's
// inbox): on the channel the contact last wrote on, from the number it
// wrote to there, never to an opted-out contact, to an alphanumeric sender
// id, nor outside the WhatsApp window. It returns the queued message, or
// why it cannot go (the answer is then not stored). An open handoff of the
// contact hears of the answer (its timeout starts again); one whose
// timeout has passed times out first (lapse).
func (e *Engine) answerConversation(ctx context.Context, x *unitOfWork, conv *Conversation, a staffAnswer) (*Message, string, error) {
	ct, err := x.turn(conv.Contact)
	if err != nil {
		return nil, "", err
	}
	// A handoff whose timeout has passed, before the timer loop closed
	// it, closes first, as its timer would have: the answer then comes
	// after it, as to any closed conversation.
	if err := e.lapse(ctx, ct); err != nil {
		return nil, "", err
	}
	r, err := ct.latestRun(EnrollmentHandoff) // the open handoff, if any
	if err != nil {
		return nil, "", err
	}
	// The contact's channel and the number it wrote to there: where it
	// wrote last, which may be newer than the forward.
	channel := conv.Channel
	if ct.contact.Channel != "" {
		channel = ct.contact.Channel
	}
	if why, err := undeliverable(ct, channel); err != nil || why != "" {
		return nil, why, err
	}
	answer := &Message{
		Purpose: PurposeStaff, Channel: channel, Contact: conv.Contact, From: ct.sender(channel, ""),
		To: []string{conv.Contact}, Body: a.text, Media: a.media,
	}
	if a.who.number != "" && x.by == "" {
		answer.By = a.who.label // an answer texted from a staff phone: the number, and its name
	}
	if a.via != "" {
		answer.StaffText, answer.Ref = a.via, conv.Ref
	}
	if r != nil {
		answer.Enrollment, answer.Automation = r.Enrollment.ID, r.Automation.ID
	}
	ct.emit(TraceEvent{Contact: a.who.traceContact(conv), What: fmt.Sprintf("staff %s answers #%s", a.who.label, conv.Ref)})
	if err := ct.queue(answer); err != nil {
		return nil, "", err
	}
	if r != nil {
		if err := e.resume(ctx, r, Event{Kind: EventStaff}); err != nil {
			return nil, "", err
		}
	}
	return answer, "", nil
}

// closeHandoff closes the open handoff of conv's contact, as "#done" does,
// and reports whether one was open: one whose timeout has passed has
// timed out (lapse), and is not. who names who closed it, for the trace.
func (e *Engine) closeHandoff(ctx context.Context, x *unitOfWork, conv *Conversation, who staffActor) (bool, error) {
	ct, err := x.turn(conv.Contact)
	if err != nil {
		return false, err
	}
	if err := e.lapse(ctx, ct); err != nil { // timed out already: closed
		return false, err
	}
	r, err := ct.latestRun(EnrollmentHandoff)
	if err != nil || r == nil {
		return false, err
	}
	ct.emit(TraceEvent{Contact: who.traceContact(conv), What: fmt.Sprintf("staff %s closed handoff #%s", who.label, conv.Ref)})
	r.closer = &who
	return true, e.resume(ctx, r, Event{Kind: EventDone})
}

// staffLabel names a staff number for the simulator: "+15550100 (Ann)".
func staffLabel(set *Set, number string) string {
	if name := set.StaffName(number); name != "" {
		return number + " (" + name + ")"
	}
	return number
}

// staffConversation finds the conversation a staff message answers: the
// one its reference names, or the one plain text (or a bare "#done")
// means (plainAnswerTarget). It returns the candidates instead when two or
// more could be meant, and nothing when there is none.
func (e *Engine) staffConversation(ctx context.Context, t *turn, cmd staffCommand) (*Conversation, []candidate, error) {
	if cmd.ref != "" {
		conv, err := conversation(t.tx, cmd.ref)
		return conv, nil, err
	}
	return t.plainAnswerTarget(ctx, cmd.done)
}

// whyAlphanumeric is why nothing is sent to an alphanumeric sender id.
const whyAlphanumeric = "an alphanumeric sender id cannot receive messages"

// whyOptedOut is why nothing is sent to a contact that opted out.
const whyOptedOut = "the contact opted out"

// undeliverable says why a staff answer cannot reach the contact of turn ct
// on channel, or "" when it can.
func undeliverable(ct *turn, channel string) (string, error) {
	if ct.contact.OptedOut {
		return whyOptedOut, nil
	}
	if config.KindOf(ct.contact.Phone) == config.AddressAlphanumeric {
		return whyAlphanumeric, nil
	}
	if channel != config.ChannelWhatsApp {
		return "", nil
	}
	if !ct.contact.InWindow(channel, ct.now) {
		return "outside the WhatsApp 24-hour window (the contact has not written in 24 hours)", nil
	}
	return "", nil
}

// tellStaff answers a staff member's message m with a short note, from
// the number they wrote to.
func (e *Engine) tellStaff(t *turn, m *Message, text string) error {
	return t.queue(&Message{
		Purpose: PurposeForward, Channel: m.Channel, From: m.To[0], To: []string{m.From}, Body: text,
	})
}

// OpenHandoff is a handoff open now, for the admin API.
type OpenHandoff struct {
	Contact    string    `json:"contact"`
	Automation string    `json:"automation"`
	Enrollment string    `json:"enrollment"`
	Step       string    `json:"step"`
	Staff      []string  `json:"staff"`
	Ref        string    `json:"ref"`
	Since      time.Time `json:"since"`
	// Until is when it times out unless a message goes either way.
	Until *time.Time `json:"until,omitempty"`
}

// Handoffs lists the open handoffs, the most recently opened first.
func (e *Engine) Handoffs(ctx context.Context) ([]OpenHandoff, error) {
	var out []OpenHandoff
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = OpenHandoffs(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: list handoffs: %w", err)
	}
	return out, nil
}

// EnrollmentLister is what OpenHandoffs reads: the enrollments, listed.
type EnrollmentLister interface {
	Enrollments(automation, contact string, activeOnly bool, limit int) ([]*Enrollment, error)
}

// OpenHandoffs lists the open handoffs read in tx, the most recently
// opened first. It reads every active enrollment.
func OpenHandoffs(tx EnrollmentLister) ([]OpenHandoff, error) {
	out := []OpenHandoff{}
	ens, err := tx.Enrollments("", "", true, 0)
	if err != nil {
		return nil, err
	}
	for _, en := range ens {
		if en.Status != EnrollmentHandoff || en.Handoff == nil {
			continue
		}
		out = append(out, OpenHandoff{
			Contact: en.Contact, Automation: en.Automation, Enrollment: en.ID, Step: en.Step,
			Staff: en.Handoff.Staff, Ref: en.Handoff.Ref, Since: en.Handoff.Since, Until: en.WaitUntil,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Since.After(out[j].Since) })
	return out, nil
}
