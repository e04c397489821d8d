package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// emailConfig is the email section pointing keyway at smtp.
func emailConfig(smtp *fakes.SMTP) string {
	return fmt.Sprintf(`email:
  smtp: { host: %s, port: %d, tls: none, from: "Acme <sms@acme.test>" }
`, smtp.Host(), smtp.Port())
}

const forwardConfig = `
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+12025550100", "+12025550101"] }
      - { type: forward_to_email, to: ["support@acme.test", "Ann Lee <ann@acme.test>"] }
`

func TestForwardToMobileAndEmail(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	g := StartGateway(t, emailConfig(smtp)+forwardConfig)
	media := "https://api.twilio.test/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
	g.Text(Inbound{
		From: "+15551230001", Body: "My order #42 is late", Media: []string{media},
		Extra: map[string]string{"ProfileName": "Zoë"},
	})

	sent := g.Twilio.WaitSent(t, 2, patience)
	wantText := "From +15551230001 (Zoë): \"My order #42 is late\"\nMedia: " + media
	var to []string
	for _, m := range sent {
		to = append(to, m.To)
		if body := withoutRef(m.Body); m.From != OurSMS || body != wantText || refOf(t, m.Body) == "" {
			t.Errorf("forward %s from %s: %q, want from %s: #REF %q", m.To, m.From, m.Body, OurSMS, wantText)
		}
		if len(m.Media) != 0 {
			t.Errorf("forward to %s carries media %v; links go in the text", m.To, m.Media)
		}
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"+12025550100", "+12025550101"}) {
		t.Errorf("forwarded to %v, want both staff numbers", to)
	}

	mail := smtp.WaitMessages(t, 1, patience)[0]
	if mail.From != "sms@acme.test" || !slices.Equal(mail.To, []string{"support@acme.test", "ann@acme.test"}) {
		t.Errorf("email envelope %s -> %v", mail.From, mail.To)
	}
	// The email carries the reference of the forwards by SMS.
	ref := refOf(t, sent[0].Body)
	if mail.Subject != "SMS from +15551230001 (Zoë) #"+ref {
		t.Errorf("subject = %q", mail.Subject)
	}
	for _, want := range []string{"From: +15551230001 (Zoë)", "To: " + OurSMS + " (SMS)", "Received: ", "Conversation: #" + ref + "\n", `"My order #42 is late"`, "Media:\n" + media,
		// keyway reads no email: the email says where an answer reaches the contact.
		"open #" + ref + " in the Inbox of keyway's dashboard, or text \"#" + ref + " your answer\" from a staff phone. A reply to this email does not reach the contact."} {
		if !strings.Contains(mail.Body, want) {
			t.Errorf("email body lacks %q:\n%s", want, mail.Body)
		}
	}
	if id := mail.Header.Get("Message-Id"); !strings.HasSuffix(id, ".keyway@acme.test>") {
		t.Errorf("Message-ID = %q, want one made of keyway's message id", id)
	}

	// Storage holds the forwards and the email as sent, about the contact.
	Eventually(t, patience, "email recorded as sent", func() bool {
		for _, m := range g.Messages("+15551230001") {
			if m.Kind == "email" && m.Status == "sent" && m.Purpose == "forward" && m.Subject == mail.Subject {
				return true
			}
		}
		return false
	})
	g.Settled(t, "+15551230001")
	if n := len(smtp.Messages()); n != 1 {
		t.Errorf("SMTP server got %d emails, want 1", n)
	}
}

func TestForwardEmailRetriedAfter451(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	smtp.FailNext(2, 451)
	g := StartGateway(t, emailConfig(smtp)+`
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_email, to: ["support@acme.test"], subject: "New message", text: "{{ message.body }}" }
`)
	const from = "+15551230002"
	g.Text(Inbound{From: from, Body: "please call me"})
	got := smtp.WaitMessages(t, 1, patience)
	// SMTP ends the data with a line break; the text had none.
	if got[0].Body != "please call me\n" || got[0].Subject != "New message" {
		t.Errorf("email %q: %q", got[0].Subject, got[0].Body)
	}
	if a := smtp.Attempts(); a != 3 {
		t.Errorf("SMTP server saw %d attempts, want 2 refused and 1 accepted", a)
	}
	Eventually(t, patience, "email recorded as sent after 3 attempts", func() bool {
		for _, m := range g.Messages(from) {
			if m.Kind == "email" {
				return m.Status == "sent" && m.Attempts == 3
			}
		}
		return false
	})
	// A later forward to the same address goes out only once the first is
	// neither queued nor under way: a second send of it would have shown.
	g.Text(Inbound{From: from, Body: "still waiting"})
	g.Settled(t, from)
	got = smtp.Messages()
	if len(got) != 2 || got[0].Body != "please call me\n" || got[1].Body != "still waiting\n" {
		t.Errorf("SMTP server got %d emails, want the first exactly once and then the later one", len(got))
	}
}

func TestForwardEmailPermanentFailureRecorded(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	smtp.FailNext(1, 550)
	g := StartGateway(t, emailConfig(smtp)+forwardConfig)
	g.Text(Inbound{From: "+15551230003", Body: "hello"})
	var failed Message
	Eventually(t, patience, "email recorded as failed", func() bool {
		for _, m := range g.Messages("+15551230003") {
			if m.Kind == "email" && m.Status == "failed" {
				failed = m
				return true
			}
		}
		return false
	})
	if failed.Attempts != 1 || !strings.Contains(failed.Error, "550") {
		t.Errorf("failed email: %d attempts, error %q; want 1 attempt and the 550 reply", failed.Attempts, failed.Error)
	}
	if n := len(smtp.Messages()); n != 0 {
		t.Errorf("SMTP server accepted %d emails after a 550", n)
	}
}

func TestOptedOutContactStillForwarded(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	g := StartGateway(t, emailConfig(smtp)+`
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+12025550100"] }
      - { type: forward_to_email, to: ["support@acme.test"] }
      - { type: reply, text: "We will get back to you." }
`)
	const from = "+15551230004"
	g.Text(Inbound{From: from, Body: "STOP"})
	g.Twilio.WaitSent(t, 1, patience) // the opt-out reply
	g.Text(Inbound{From: from, Body: "actually, my parcel is broken"})

	Eventually(t, patience, "forward to staff", func() bool {
		for _, m := range g.Twilio.Sent() {
			if m.To == "+12025550100" {
				return withoutRef(m.Body) == `From `+from+`: "actually, my parcel is broken"`
			}
		}
		return false
	})
	smtp.WaitMessages(t, 1, patience)
	g.Settled(t, from) // the reply, if one was queued, is done too
	for _, m := range g.Twilio.Sent() {
		if m.To == from && m.Body != "You are unsubscribed. Reply START to resubscribe." {
			t.Errorf("opted-out contact got %q", m.Body)
		}
	}
	if !g.Contact(from).Contact.OptedOut {
		t.Error("contact is not opted out")
	}
}

const contactStepsConfig = `
groups: [ { id: newsletter }, { id: vip }, { id: deals } ]
fields: [first_name, plan]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [newsletter, vip, deals] }
      - { type: tag, add: [lead, "from sms"] }
      - { type: set_field, fields: { first_name: "{{ message.body | remove_first: 'join ' | capitalize }}", plan: free } }
      - { type: reply, text: "Welcome {{ contact.fields.first_name }}" }
  - id: less
    keywords: [LESS]
    steps:
      - { type: unsubscribe, scope: groups, groups: [newsletter], text: "You left the newsletter." }
      - { type: remove_from_group, groups: [vip] }
      - { type: tag, remove: [lead] }
  - id: survey
    keywords: [SURVEY]
    steps:
      - { type: reply, text: "How did we do?" }
      - { type: wait_for_reply, timeout: 1h, save_as: answer }
      - { type: reply, text: "Thanks!" }
  - id: bye
    keywords: [BYE]
    steps:
      - { type: unsubscribe, text: "Bye, you will get nothing more." }
`

func TestMessagingContactStepsVisibleInStorage(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, contactStepsConfig)
	const from = "+15551230005"
	g.Text(Inbound{From: from, Body: "join ann"})
	g.Twilio.WaitSent(t, 1, patience)
	c := g.Contact(from).Contact
	if !slices.Equal(c.Groups, []string{"newsletter", "vip", "deals"}) || !slices.Equal(c.Tags, []string{"lead", "from sms"}) {
		t.Errorf("after join: groups %v tags %v", c.Groups, c.Tags)
	}
	if c.Fields["first_name"] != "Ann" || c.Fields["plan"] != "free" {
		t.Errorf("after join: fields %v", c.Fields)
	}

	g.Text(Inbound{From: from, Body: "less"})
	sent := g.Twilio.WaitSent(t, 2, patience)
	if sent[1].Body != "You left the newsletter." || sent[1].To != from {
		t.Errorf("scope groups reply: %+v", sent[1])
	}
	c = g.Contact(from).Contact
	if !slices.Equal(c.Groups, []string{"deals"}) || !slices.Equal(c.LeftGroups, []string{"newsletter"}) {
		t.Errorf("after less: groups %v left_groups %v", c.Groups, c.LeftGroups)
	}
	if !slices.Equal(c.Tags, []string{"from sms"}) || c.OptedOut {
		t.Errorf("after less: tags %v opted_out %v", c.Tags, c.OptedOut)
	}
}

func TestMessagingUnsubscribeAllEndsOtherEnrollments(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, contactStepsConfig)
	const from = "+15551230006"
	g.Text(Inbound{From: from, Body: "SURVEY"})
	g.Twilio.WaitSent(t, 1, patience)
	if ens := g.Enrollments("survey", from); len(ens) != 1 || ens[0].Status != "waiting_reply" {
		t.Fatalf("survey enrollments: %+v, want one waiting for a reply", ens)
	}

	g.Text(Inbound{From: from, Body: "BYE"})
	sent := g.Twilio.WaitSent(t, 2, patience)
	if sent[1].Body != "Bye, you will get nothing more." || sent[1].To != from || sent[1].From != OurSMS {
		t.Errorf("unsubscribe text: %+v", sent[1])
	}
	for _, id := range []string{"survey", "bye"} {
		ens := g.Enrollments(id, from)
		if len(ens) != 1 || ens[0].Status != "ended" || ens[0].EndReason != "unsubscribed by automation bye" {
			t.Errorf("%s enrollments: %+v, want one ended by the unsubscribe", id, ens)
		}
	}
	got := g.Contact(from)
	if !got.Contact.OptedOut || len(got.Enrollments) != 0 {
		t.Errorf("contact opted_out %v with %d active enrollments", got.Contact.OptedOut, len(got.Enrollments))
	}

	// The answer to the survey is no longer taken, and nothing is sent.
	g.Text(Inbound{From: from, Body: "great"})
	g.Settled(t, from)
	if n := len(g.Twilio.Sent()); n != 2 {
		t.Errorf("sent %d messages, want 2: %v", n, Bodies(g.Twilio.Sent()))
	}
}
