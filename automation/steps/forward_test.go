package steps

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// forwardRun builds just enough of a Run for the default forward texts.
func forwardRun(name string, m *engine.Message) *engine.Run {
	cfg := &config.Config{Defaults: config.Defaults{Timezone: "America/New_York"}}
	return &engine.Run{RunView: engine.RunView{
		Now:        time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC),
		Set:        &engine.Set{Config: cfg, Location: cfg.Location()},
		Automation: &engine.Automation{ID: "support"},
		Contact:    &engine.Contact{Phone: "+15550001111", Name: name},
		Message:    m,
	}}
}

func TestForwardDefaultTexts(t *testing.T) {
	media := []string{"https://api.twilio.test/Media/ME1", "https://api.twilio.test/Media/ME2"}
	cases := []struct {
		label   string
		name    string
		msg     *engine.Message
		sms     string
		subject string
		body    string
	}{
		{
			label: "named contact with media",
			name:  "Ann",
			msg:   &engine.Message{Channel: config.ChannelSMS, To: []string{"+15005550006"}, Body: "Is this broken?", Media: media},
			sms: "From +15550001111 (Ann): \"Is this broken?\"\n" +
				"Media: https://api.twilio.test/Media/ME1\n" +
				"Media: https://api.twilio.test/Media/ME2",
			subject: "SMS from +15550001111 (Ann)",
			body: "From: +15550001111 (Ann)\nTo: +15005550006 (SMS)\nReceived: Mon, 05 Jan 2026 09:30 EST\nAutomation: support\nConversation: #K7Q2\n\n" +
				"\"Is this broken?\"\n\nMedia:\nhttps://api.twilio.test/Media/ME1\nhttps://api.twilio.test/Media/ME2\n" +
				"\n--\nTo answer, open #K7Q2 in the Inbox of keyway's dashboard, or text \"#K7Q2 your answer\" from a staff phone. A reply to this email does not reach the contact.\n",
		},
		{
			label:   "whatsapp photo without text",
			msg:     &engine.Message{Channel: config.ChannelWhatsApp, To: []string{"+14155238886"}, Media: media[:1]},
			sms:     "From +15550001111 on WhatsApp: (no text)\nMedia: https://api.twilio.test/Media/ME1",
			subject: "WhatsApp from +15550001111",
			body: "From: +15550001111\nTo: +14155238886 (WhatsApp)\nReceived: Mon, 05 Jan 2026 09:30 EST\nAutomation: support\nConversation: #K7Q2\n\n" +
				"(no text)\n\nMedia:\nhttps://api.twilio.test/Media/ME1\n" +
				"\n--\nTo answer, open #K7Q2 in the Inbox of keyway's dashboard, or text \"#K7Q2 your answer\" from a staff phone. A reply to this email does not reach the contact.\n",
		},
		{
			label:   "no message: a timer or schedule turn",
			name:    "Ann",
			sms:     "About +15550001111 (Ann): automation \"support\" ran without a new message from the contact",
			subject: "Contact +15550001111 (Ann) in automation \"support\"",
			body: "Contact: +15550001111 (Ann)\nTime: Mon, 05 Jan 2026 09:30 EST\nAutomation: support\nConversation: #K7Q2\n\n" +
				"Automation \"support\" ran this step without a new message from the contact.\n" +
				"\n--\nTo answer, open #K7Q2 in the Inbox of keyway's dashboard, or text \"#K7Q2 your answer\" from a staff phone. A reply to this email does not reach the contact.\n",
		},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			r := forwardRun(c.name, c.msg)
			if got := forwardText(r); got != c.sms {
				t.Errorf("SMS text:\n%s\nwant:\n%s", got, c.sms)
			}
			if got := emailSubject(r); got != c.subject {
				t.Errorf("subject = %q, want %q", got, c.subject)
			}
			if got := emailBody(r, "K7Q2"); got != c.body {
				t.Errorf("email body:\n%s\nwant:\n%s", got, c.body)
			}
		})
	}
}

// TestForwardQuotesALongMessageCut keeps a forward by text within what
// every provider takes as one message: a long message (WhatsApp takes
// 4,096 characters) is quoted cut, saying so, and the email quotes it
// whole.
func TestForwardQuotesALongMessageCut(t *testing.T) {
	long := strings.Repeat("é", maxQuoted-1) + " and the rest of a very long story"
	r := forwardRun("Ann", &engine.Message{Channel: config.ChannelWhatsApp, To: []string{"+14155238886"}, Body: long,
		Media: []string{"https://api.twilio.test/Media/ME1"}})
	got := forwardText(r)
	want := "From +15550001111 (Ann) on WhatsApp: \"" + strings.Repeat("é", maxQuoted-1) + "…\" (cut: the whole message is in the dashboard)\n" +
		"Media: https://api.twilio.test/Media/ME1"
	if got != want {
		t.Errorf("forward of a long message:\n%s\nwant:\n%s", got, want)
	}
	if n := utf8.RuneCountInString("#K7Q2 " + got + "\nYou have this conversation: answer here, #done when finished."); n > 1000 {
		t.Errorf("a handoff's forward of a long message is %d characters, more than Vonage SMS takes", n)
	}
	if body := emailBody(r, "K7Q2"); !strings.Contains(body, long) {
		t.Errorf("the email does not quote the whole message:\n%s", body)
	}
	// A message of maxQuoted characters is quoted whole.
	exact := strings.Repeat("a", maxQuoted)
	if got := quotedInText(exact); got != `"`+exact+`"` {
		t.Errorf("a message of %d characters quoted as %q", maxQuoted, got)
	}
}
