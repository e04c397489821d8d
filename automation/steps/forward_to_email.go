package steps

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("forward_to_email", compileForwardToEmail) }

// ForwardToEmail emails the contact's message to staff through email.smtp,
// as one email to every address. The default subject names the contact
// and carries the conversation's reference ("SMS from +15550001111 (Ann)
// #K7Q2"); the default body names the contact, the number it wrote to and
// when (in defaults.timezone), the reference, and quotes its text and
// media links; a custom subject or text is sent as written (it may name
// the reference by its own text). Staff answer in the dashboard's inbox,
// which lists the conversations forwarded by email too, or from a staff
// phone with "#K7Q2 text", as the default body ends by saying (keyway
// reads no email: a reply to one reaches nobody). The outbox retries a failed delivery like an SMS and
// records the outcome on the message. Validation warns while email.smtp is
// not set.
//
//   - type: forward_to_email
//     to: ["support@acme.example", "Ann Lee <ann@acme.example>"]
//     subject: "{{ contact.phone }} needs help"             # optional
//     text: "{{ message.body }}\n\nReply by SMS: {{ contact.phone }}"   # optional
type ForwardToEmail struct {
	To      []string         // addresses as written
	Subject *engine.Template // nil: the default subject
	Text    *engine.Template // nil: the default body
}

type forwardToEmailFields struct {
	To      []string `yaml:"to"`
	Subject string   `yaml:"subject"`
	Text    string   `yaml:"text"`
}

func compileForwardToEmail(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f forwardToEmailFields
	c.Decode(s, &f)
	st := &ForwardToEmail{}
	if len(f.To) == 0 {
		c.Problemf(s, "to", "forward_to_email needs to: at least one email address")
	}
	seen := map[string]int{}
	for i, raw := range f.To {
		field := engine.FieldIndex("to", i)
		addr, err := mail.ParseAddress(raw)
		if err != nil {
			c.Problemf(s, field, "%q is not a valid email address: %v", raw, err)
			continue
		}
		key := strings.ToLower(addr.Address)
		if first, dup := seen[key]; dup {
			c.Problemf(s, field, "%s repeats %s (%s)", field, engine.FieldIndex("to", first), addr.Address)
			continue
		}
		seen[key] = i
		st.To = append(st.To, strings.TrimSpace(raw))
	}
	if f.Subject != "" {
		st.Subject = c.Template(s, "subject", f.Subject)
	}
	if f.Text != "" {
		st.Text = c.Template(s, "text", f.Text)
	}
	if c.Config.Email.SMTP == nil {
		c.Warnf(s, "", "forward_to_email needs email.smtp; emails will fail until it is set")
	}
	return st, nil
}

// The traces of an email whose custom subject or text rendered empty,
// sent with the default instead.
const (
	whyDefaultSubject = "the email's subject rendered empty: sent the default subject"
	whyDefaultBody    = "the email's text rendered empty: sent the default text, which quotes the contact's message"
)

// Execute queues the email.
func (st *ForwardToEmail) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	ref, err := r.EmailReference()
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("forward_to_email: %w", err)
	}
	subject, body := emailSubject(r)+" #"+ref, emailBody(r, ref)
	// A custom subject or text that renders empty gives way to the
	// default, as a forward's text does: an email without either tells
	// staff nothing of what came in.
	if st.Subject != nil {
		custom, err := r.Render(st.Subject)
		if err != nil {
			return engine.End(fmt.Sprintf("forward_to_email subject: %v", err)), nil
		}
		// A header holds one line.
		if custom = strings.Join(strings.Fields(custom), " "); custom != "" {
			subject = custom
		} else {
			r.Trace(whyDefaultSubject)
		}
	}
	if st.Text != nil {
		custom, err := r.Render(st.Text)
		if err != nil {
			return engine.End(fmt.Sprintf("forward_to_email text: %v", err)), nil
		}
		if strings.TrimSpace(custom) != "" {
			body = custom
		} else {
			r.Trace(whyDefaultBody)
		}
	}
	err = r.Queue(&engine.Message{
		Kind: engine.KindEmail, Purpose: engine.PurposeForward, Contact: r.Contact.Phone,
		To: append([]string(nil), st.To...), Subject: subject, Body: body,
	})
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("forward_to_email: queue email: %w", err)
	}
	r.Trace("emailed " + strings.Join(st.To, ", "))
	return engine.Continue(), nil
}

// emailSubject is the default subject: "SMS from +15550001111 (Ann)".
func emailSubject(r *engine.Run) string {
	who := contactLabel(r.Contact)
	if m := r.Message; m != nil {
		return fmt.Sprintf("%s from %s", channelName(orSMS(m.Channel)), who)
	}
	return fmt.Sprintf("Contact %s in automation %q", who, r.Automation.ID)
}

// emailBody is the default body: who wrote, to which number and when, the
// conversation's reference ref, the text and the media links.
func emailBody(r *engine.Run, ref string) string {
	var b strings.Builder
	who := contactLabel(r.Contact)
	when := r.Now.In(r.Set.Location).Format("Mon, 02 Jan 2006 15:04 MST")
	m := r.Message
	if m == nil {
		fmt.Fprintf(&b, "Contact: %s\nTime: %s\nAutomation: %s\nConversation: #%s\n\n", who, when, r.Automation.ID, ref)
		fmt.Fprintf(&b, "Automation %q ran this step without a new message from the contact.\n", r.Automation.ID)
		b.WriteString(howToAnswer(ref))
		return b.String()
	}
	fmt.Fprintf(&b, "From: %s\n", who)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: %s (%s)\n", m.To[0], channelName(orSMS(m.Channel)))
	}
	fmt.Fprintf(&b, "Received: %s\nAutomation: %s\nConversation: #%s\n\n%s\n", when, r.Automation.ID, ref, quoted(m.Body))
	if len(m.Media) > 0 {
		b.WriteString("\nMedia:\n")
		for _, u := range m.Media {
			b.WriteString(u + "\n")
		}
	}
	b.WriteString(howToAnswer(ref))
	return b.String()
}

// howToAnswer ends the default body: keyway reads no email, so a reply to
// this one would reach nobody while its sender believed it answered; the
// email says where an answer does reach the contact.
func howToAnswer(ref string) string {
	return fmt.Sprintf("\n--\nTo answer, open #%s in the Inbox of keyway's dashboard, or text \"#%s your answer\" from a staff phone. A reply to this email does not reach the contact.\n", ref, ref)
}

func orSMS(ch string) string {
	if ch == "" {
		return config.ChannelSMS
	}
	return ch
}

var _ engine.Step = (*ForwardToEmail)(nil)
