package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/keywords"
	"github.com/keyway-sms/keyway/providers"
)

// Buttons and lists. A reply (or forward) may offer choices; a provider
// that cannot show them as buttons sends them as numbered lines after the
// text (providers.Deliverable). Either way the engine remembers the last
// choices sent to each recipient on its contact record (Contact.Offer),
// so that the recipient's next message, if it is one of the numbers or
// one of the titles and comes within ChoiceWindow, is read as that choice:
// it gets Button (the choice's id) as a tapped button does. A choice's id
// is what keywords are matched against first (route).

// ChoiceWindow is how long after choices were sent a typed number or
// title still picks one.
const ChoiceWindow = 24 * time.Hour

// Offer is the last set of choices sent to a contact.
type Offer struct {
	// Message is the id of the outbound message that offered them.
	Message string `json:"message"`
	// At is when they were sent (queued).
	At time.Time `json:"at"`
	// Choices are the choices in the order they were numbered.
	Choices []OfferedChoice `json:"choices"`
}

// OfferedChoice is one choice of an Offer: what it comes back as and what
// the contact saw.
type OfferedChoice struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// offer records on c that m offered it choices, replacing any earlier
// offer; a message without choices leaves c as it is.
func offer(c *Contact, m *Message) {
	all := m.Choices.All()
	if len(all) == 0 {
		return
	}
	o := &Offer{Message: m.ID, At: m.CreatedAt, Choices: make([]OfferedChoice, len(all))}
	for i, ch := range all {
		o.Choices[i] = OfferedChoice{ID: ch.ID, Title: ch.Title}
	}
	c.Offer = o
}

// forget drops the offer on c if m made it: the provider refused m, or it
// failed for good, so its recipient never saw those choices, numbered or
// not, and a number or title typed later answers nothing. What went in
// m's place offers its own (a template's buttons come back with their
// ids).
func forget(c *Contact, m *Message) {
	if c.Offer != nil && c.Offer.Message == m.ID {
		c.Offer = nil
	}
}

// forgetOffer drops, inside x, the offer that m made on its recipient's
// contact record (recordOffer), if it is still there: m never reached it.
func (x *unitOfWork) forgetOffer(m *Message) error {
	if m.Choices.Empty() || len(m.To) != 1 {
		return nil
	}
	t, err := x.turn(m.To[0])
	if err != nil {
		return err
	}
	forget(t.contact, m)
	return nil
}

// pick reads the inbound message m from contact c against the choices last
// offered to it, and clears the offer: only the message right after it may
// answer it. A message that is one of the offered numbers (1 to N) or
// titles (compared as keywords are, normalised) within ChoiceWindow of the
// offer gets Button set to that choice's id, Body to its title and Typed
// to what the contact typed. A message that already carries a Button (a
// tapped button) is left as it is.
func pick(c *Contact, m *Message, now time.Time) {
	o := c.Offer
	c.Offer = nil
	if o == nil || m.Button != "" || now.Sub(o.At) > ChoiceWindow {
		return
	}
	typed := strings.TrimSpace(m.Body)
	if typed == "" {
		return
	}
	i, ok := choiceIndex(o, typed)
	if !ok {
		return
	}
	ch := o.Choices[i]
	m.Typed, m.Button, m.Body = m.Body, ch.ID, ch.Title
}

// keepOffer gives the turn's contact back the choices its message was
// read against: the message is a compliance word that answers none of
// them (HELP, or START after an opt-out), so the next one still may. An
// opt-out does not keep them: it ends the conversation they belong to.
func (t *turn) keepOffer() { t.contact.Offer = t.offered }

// choiceIndex finds the choice of o that typed (trimmed, not empty) names,
// compared normalised as keywords are (so "2.", "2)", "#2" and a keycap
// "2️⃣" are all 2): by its number from 1, else by its title, else by its
// line as the numbered text shows it ("2 Opening hours"). A number beyond
// the choices may still be a title ("20" of "10" and "20").
func choiceIndex(o *Offer, typed string) (int, bool) {
	norm := keywords.Normalize(typed)
	if norm == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(norm); err == nil && n >= 1 && n <= len(o.Choices) {
		return n - 1, true
	}
	for i, ch := range o.Choices {
		if keywords.Normalize(ch.Title) == norm {
			return i, true
		}
	}
	for i, ch := range o.Choices {
		if keywords.Normalize(strconv.Itoa(i+1)+" "+ch.Title) == norm {
			return i, true
		}
	}
	return 0, false
}

// ReplyWithChoices queues a reply as Reply does, offering choices (nil:
// none). The contact's next message may pick one by number or title.
func (r *Run) ReplyWithChoices(body string, media []string, from string, choices *providers.Choices) error {
	ch := r.Enrollment.Channel
	return r.t.queue(r.stamp(&Message{
		Purpose: PurposeReply, Channel: ch, From: r.t.sender(ch, from), To: []string{r.Contact.Phone},
		Body: body, Media: media, Choices: choices,
		Broadcast: r.Enrollment.Broadcast,
	}))
}

// TextWithChoices is what an outbound message says where its choices
// cannot be tapped: its text and the choices numbered, as a provider
// without interactive messages sends it. The simulator and `keyway test`
// show it.
func TextWithChoices(m *Message) string { return providers.NumberedText(m.Body, m.Choices) }

// recordOffer remembers the choices of m, just queued, on the contact
// record of its recipient: the turn's contact, or (a forward) a staff
// member's, opened in the same transaction.
func (t *turn) recordOffer(m *Message) error {
	if m.Choices.Empty() || len(m.To) != 1 {
		return nil
	}
	if m.To[0] == t.contact.Phone {
		offer(t.contact, m)
		return nil
	}
	if t.x == nil {
		return nil
	}
	rt, err := t.x.turn(m.To[0])
	if err != nil {
		return err
	}
	offer(rt.contact, m)
	return nil
}

// complianceOf finds the compliance family (opt-out, opt-in, help) of m.
// The family the provider recognised itself comes first: it has acted on
// it already (opted the contact out at its end), whatever word it was.
// A choice is matched by its id first, then by what the contact typed, if
// it typed: STOP typed by the contact always counts, while a tapped button
// titled "Help" is the button, not the word. Any other message is matched
// by its whole text.
func complianceOf(set *Set, m *Message) (string, bool) {
	if m.Compliance != "" {
		return m.Compliance, true
	}
	if m.Button == "" {
		fam, _, ok := set.compliance.LookupNormalized(keywords.Normalize(m.Body))
		return fam, ok
	}
	if fam, _, ok := set.compliance.LookupNormalized(keywords.Normalize(m.Button)); ok {
		return fam, true
	}
	if m.Typed != "" {
		fam, _, ok := set.compliance.LookupNormalized(keywords.Normalize(m.Typed))
		return fam, ok
	}
	return "", false
}

// keywordOf finds the automation whose keyword m matches on its channel:
// a choice by its id first (a button with id AGENT starts the automation
// with keyword AGENT), then by its text, norm (m.Body normalised).
func keywordOf(set *Set, m *Message, norm string) (*Automation, bool) {
	if m.Button != "" {
		if a, ok := set.lookupKeyword(m.Channel, keywords.Normalize(m.Button)); ok {
			return a, true
		}
	}
	return set.lookupKeyword(m.Channel, norm)
}
