package test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// refPattern finds a conversation reference in a forward.
var refPattern = regexp.MustCompile(`#([ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4})\b`)

// refOf returns the conversation reference a forward carries (without "#").
func refOf(t *testing.T, body string) string {
	t.Helper()
	m := refPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no conversation reference in %q", body)
	}
	return m[1]
}

// withoutRef drops the reference that starts a forward's default text.
func withoutRef(body string) string {
	if loc := refPattern.FindStringIndex(body); loc != nil && loc[0] == 0 {
		return strings.TrimPrefix(body[loc[1]:], " ")
	}
	return body
}

// sentTo returns what the fake Twilio accepted for to, in order.
func sentTo(g *Gateway, to string) []fakes.Message {
	var out []fakes.Message
	for _, m := range g.Twilio.Sent() {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// waitSentTo waits until n messages went to to and returns them.
func waitSentTo(t *testing.T, g *Gateway, to string, n int) []fakes.Message {
	t.Helper()
	var got []fakes.Message
	Eventually(t, patience, "messages to "+to, func() bool {
		got = sentTo(g, to)
		return len(got) >= n
	})
	return got
}

const (
	staffAnn  = "+15550100100" // gets forwards
	staffBob  = "+15550100101" // staff, but never forwarded to
	customerA = "+15551230001" // writes by SMS
	customerB = "+15551230002" // writes on WhatsApp
	customerC = "+15551230003" // opts out
)

const staffConfig = `
staff:
  - { number: "+15550100100", name: "Ann" }
  - { number: "(555) 010-0101", name: "Bob" }
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// Staff answer forwards from their phones: plain text goes to the most
// recent conversation forwarded to them, "#REF text" to that one, from the
// number the customer wrote to, on the customer's channel (whatsapp:
// prefixed on WhatsApp); and staff's answers are not forwarded back to
// them by the catch-all, as they were when staff counted as contacts.
func TestStaffAnswerForwards(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, staffConfig)

	g.Text(Inbound{From: customerA, Body: "Is the shop open on Sunday?"})
	fwdA := waitSentTo(t, g, staffAnn, 1)[0]
	if fwdA.From != OurSMS || !strings.Contains(fwdA.Body, `From +15551230001: "Is the shop open on Sunday?"`) {
		t.Fatalf("forward of A = from %s %q", fwdA.From, fwdA.Body)
	}
	refA := refOf(t, fwdA.Body)

	// A plain answer goes to A, the only conversation forwarded to Ann.
	g.Text(Inbound{From: staffAnn, Body: "Yes, 10 to 4."})
	got := waitSentTo(t, g, customerA, 1)[0]
	if got.From != OurSMS || got.Body != "Yes, 10 to 4." {
		t.Errorf("answer to A = from %s %q, want from %s %q", got.From, got.Body, OurSMS, "Yes, 10 to 4.")
	}

	// B writes on WhatsApp; its forward goes to Ann by SMS with its own
	// reference.
	g.Text(Inbound{From: customerB, Channel: "whatsapp", Body: "hola"})
	fwdB := waitSentTo(t, g, staffAnn, 2)[1]
	refB := refOf(t, fwdB.Body)
	if refB == refA {
		t.Fatalf("A and B share reference %s", refA)
	}

	// Plain text now answers B, the most recent, on WhatsApp.
	g.Text(Inbound{From: staffAnn, Body: "Hola, ¿en qué le ayudo?"})
	wa := waitSentTo(t, g, "whatsapp:"+customerB, 1)[0]
	if wa.From != "whatsapp:"+OurWhatsApp || wa.Body != "Hola, ¿en qué le ayudo?" {
		t.Errorf("answer to B = from %s %q, want from whatsapp:%s", wa.From, wa.Body, OurWhatsApp)
	}

	// "#REF text" answers A although B is the most recent; the reference
	// is read without regard to case.
	g.Text(Inbound{From: staffAnn, Body: "#" + strings.ToLower(refA) + " See you Sunday!"})
	got = waitSentTo(t, g, customerA, 2)[1]
	if got.From != OurSMS || got.Body != "See you Sunday!" {
		t.Errorf("#REF answer to A = from %s %q", got.From, got.Body)
	}
	// And "#REF text" to B on WhatsApp.
	g.Text(Inbound{From: staffAnn, Body: "#" + refB + ": gracias"})
	wa = waitSentTo(t, g, "whatsapp:"+customerB, 2)[1]
	if wa.Body != "gracias" {
		t.Errorf("#REF answer to B = %q", wa.Body)
	}

	// No staff message was taken as a customer's: the catch-all forwarded
	// only A's and B's messages, and the answers are stored as staff's.
	// (Forwards are stored as messages about the customer; a message
	// about staff going out would be a forward of staff's own text.)
	for _, m := range g.Settled(t, staffAnn) {
		if m.Direction == "out" {
			t.Errorf("a message about staff went out: %s %q", m.Purpose, m.Body)
		}
	}
	g.Settled(t, customerA)
	g.Settled(t, customerB)
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 2 {
		t.Errorf("staff got %q; want only the 2 forwards", got)
	}
	if ens := g.Enrollments("support", staffAnn); len(ens) != 0 {
		t.Errorf("staff was enrolled in the catch-all: %+v", ens)
	}
	for _, m := range g.Settled(t, customerA) {
		if m.Direction == "out" && slices.Contains(m.To, customerA) && m.Purpose != "staff" {
			t.Errorf("A got a %s message %q; want only staff answers", m.Purpose, m.Body)
		}
	}
}

// A staff answer that cannot be delivered gets a short answer saying why:
// an unknown reference, no recent forward, a contact that opted out.
func TestStaffAnswerUndeliverable(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, staffConfig)

	// Bob is staff but was never forwarded anything.
	g.Text(Inbound{From: staffBob, Body: "hello?"})
	note := waitSentTo(t, g, staffBob, 1)[0]
	if note.From != OurSMS || !strings.Contains(note.Body, "no forward reached you in the last 24 hours") {
		t.Errorf("plain text with nothing to answer: %q", note.Body)
	}
	g.Text(Inbound{From: staffBob, Body: "#ZZZZ hi"})
	note = waitSentTo(t, g, staffBob, 2)[1]
	if note.Body != "#ZZZZ: no such conversation." {
		t.Errorf("unknown reference: %q", note.Body)
	}

	// C writes, is forwarded, opts out; an answer to C is not sent.
	g.Text(Inbound{From: customerC, Body: "question"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	g.Text(Inbound{From: customerC, Body: "STOP"})
	waitSentTo(t, g, customerC, 1) // the opt-out reply
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " answer"})
	note = waitSentTo(t, g, staffAnn, 2)[1]
	if note.Body != "#"+ref+" not delivered: the contact opted out." {
		t.Errorf("answer to an opted-out contact: %q", note.Body)
	}
	g.Settled(t, customerC)
	if got := Bodies(sentTo(g, customerC)); len(got) != 1 {
		t.Errorf("C got %q; want only the opt-out reply", got)
	}
	// Bob's messages were never forwarded to Ann by the catch-all.
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 2 || slices.ContainsFunc(got, func(b string) bool { return strings.Contains(b, "hello?") }) {
		t.Errorf("Ann got %q", got)
	}
}

// An answer to a contact that cannot receive messages (an alphanumeric
// sender id, which keyway accepts messages from) is not sent, and staff
// are told why, as for an opted-out contact: by a short answer on their
// phone (to "#REF text" and to plain text alike), and on the dashboard's
// page (422) for an answer from the inbox and a one-off message.
func TestStaffAnswerToAlphanumericSender(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, staffConfig)
	const brand = "MyBrand"
	g.Text(Inbound{From: brand, Body: "Your code is 123456"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	want := "#" + ref + " not delivered: an alphanumeric sender id cannot receive messages."

	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " who is this?"})
	if note := waitSentTo(t, g, staffAnn, 2)[1]; note.Body != want {
		t.Errorf("#REF answer to an alphanumeric sender: staff got %q, want %q", note.Body, want)
	}
	g.Text(Inbound{From: staffAnn, Body: "hello?"})
	if note := waitSentTo(t, g, staffAnn, 3)[2]; note.Body != want {
		t.Errorf("plain answer to an alphanumeric sender: staff got %q, want %q", note.Body, want)
	}

	c, csrf := dashLogin(t, g)
	for _, path := range []string{"/admin/inbox/" + brand + "/answer", "/admin/contacts/" + brand + "/send"} {
		res, page := dashDo(t, c, http.MethodPost, g.URL+path, url.Values{"csrf": {csrf}, "text": {"Hello from the dashboard"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "an alphanumeric sender id cannot receive messages") {
			t.Errorf("POST %s: %d, want 422 with the reason\n%s", path, res.StatusCode, page)
		}
	}
	for _, m := range g.Settled(t, brand) {
		if m.Direction == "out" && m.Purpose == "staff" {
			t.Errorf("an answer to the alphanumeric sender was stored: %+v", m)
		}
	}
	if got := sentTo(g, brand); len(got) != 0 {
		t.Errorf("the fake Twilio got %d messages to %s", len(got), brand)
	}
}

// A staff answer from a phone records who gave it, as a dashboard answer
// does: the message's by names the staff number and its name, and the
// contact's timeline shows it.
func TestStaffPhoneAnswerRecordsWho(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, staffConfig)
	g.Text(Inbound{From: customerA, Body: "Is the shop open on Sunday?"})
	waitSentTo(t, g, staffAnn, 1)
	g.Text(Inbound{From: staffAnn, Body: "Yes, 10 to 4."})
	waitSentTo(t, g, customerA, 1)
	var out struct {
		Messages []struct {
			Purpose string `json:"purpose"`
			Body    string `json:"body"`
			By      string `json:"by"`
		} `json:"messages"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+customerA+"/messages", nil, &out); code != http.StatusOK {
		t.Fatalf("messages: %d", code)
	}
	const who = staffAnn + " (Ann)"
	found := false
	for _, m := range out.Messages {
		if m.Purpose == "staff" {
			found = true
			if m.By != who {
				t.Errorf("the staff answer %q: by %q, want %q", m.Body, m.By, who)
			}
		}
	}
	if !found {
		t.Fatalf("no staff answer stored: %+v", out.Messages)
	}
	c, _ := dashLogin(t, g)
	if _, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts/"+url.PathEscape(customerA), nil); !strings.Contains(html.UnescapeString(page), `by <span class="by">`+who+`</span>`) {
		t.Errorf("the contact's timeline does not say who answered:\n%s", page)
	}
}

// A staff answer texted from a phone that the provider refuses at the send,
// or reports undelivered later, is told to the staff member who texted it,
// with the provider's reason, from the number they wrote to: they do not
// go on believing the customer has it. The note itself, should it fail,
// tells nobody.
func TestStaffToldWhenTheirAnswerFails(t *testing.T) {
	t.Parallel()
	staffToldWhenTheirAnswerFails(t, StartGateway(t, staffConfig))
}

// TestPostgresStaffToldWhenTheirAnswerFails is the same on PostgreSQL,
// where the outbox records a send's failure in its own transaction shape.
func TestPostgresStaffToldWhenTheirAnswerFails(t *testing.T) {
	t.Parallel()
	staffToldWhenTheirAnswerFails(t, startShared(t, 1, staffConfig)[0])
}

func staffToldWhenTheirAnswerFails(t *testing.T, g *Gateway) {
	t.Helper()
	g.Text(Inbound{From: customerA, Body: "Where is my order?"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)

	g.Twilio.FailNext(1, 400, 21211)
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " It ships today"})
	note := waitSentTo(t, g, staffAnn, 2)[1]
	if want := "#" + ref + " not delivered: fakes: scripted failure (HTTP 400, code 21211)."; note.Body != want || note.From != OurSMS {
		t.Errorf("note to Ann = from %s %q, want from %s %q", note.From, note.Body, OurSMS, want)
	}

	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " Sorry, it ships today"})
	answer := waitSentTo(t, g, customerA, 1)[0]
	if answer.Body != "Sorry, it ships today" {
		t.Fatalf("answer = %q", answer.Body)
	}
	Eventually(t, patience, "the answer recorded as sent", func() bool {
		for _, m := range g.Messages(customerA) {
			if m.ProviderID == answer.SID && m.Status == "sent" {
				return true
			}
		}
		return false
	})
	form := map[string][]string{"MessageSid": {answer.SID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {g.Twilio.AccountSID}}
	if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
		t.Fatalf("status callback: %d %s", code, body)
	}
	note = waitSentTo(t, g, staffAnn, 3)[2]
	if want := "#" + ref + " not delivered: Unreachable destination handset."; note.Body != want {
		t.Errorf("note to Ann after the report = %q, want %q", note.Body, want)
	}

	// A note to staff that fails is not told back to anyone.
	g.Twilio.FailNext(1, 400, 21211)
	g.Text(Inbound{From: staffAnn, Body: "#ZZZZ hello"})
	Eventually(t, patience, "the failed note to Ann recorded", func() bool {
		for _, m := range g.Messages(staffAnn) {
			if m.Direction == "out" && m.Status == "failed" && strings.HasPrefix(m.Body, "#ZZZZ") {
				return true
			}
		}
		return false
	})
	g.Text(Inbound{From: staffAnn, Body: "#YYYY hello"}) // a marker: its note follows any that the failure caused
	if got := waitSentTo(t, g, staffAnn, 4); len(got) != 4 || !strings.HasPrefix(got[3].Body, "#YYYY") {
		t.Errorf("after a failed note Ann got: %q", got[3:])
	}
}

// A staff answer texted from a phone that waits in the outbox (the
// provider is down) while the contact opts out is not sent; the staff
// member is told so, from the number they wrote to, as of any answer that
// did not reach the contact. On PostgreSQL too.
func TestStaffToldWhenTheContactOptsOutBeforeTheirAnswerGoes(t *testing.T) {
	t.Parallel()
	staffToldOfOptOutBeforeTheSend(t, StartGateway(t, staffConfig))
}

func TestPostgresStaffToldWhenTheContactOptsOutBeforeTheirAnswerGoes(t *testing.T) {
	t.Parallel()
	staffToldOfOptOutBeforeTheSend(t, startShared(t, 1, staffConfig)[0])
}

func staffToldOfOptOutBeforeTheSend(t *testing.T, g *Gateway) {
	t.Helper()
	g.Text(Inbound{From: customerA, Body: "Where is my order?"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)

	g.Twilio.FailNext(1000, 503, 0) // Twilio is down: the answer waits to be tried again
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " It ships today"})
	Eventually(t, patience, "a failed attempt at the answer recorded", func() bool {
		for _, m := range g.Messages(customerA) {
			if m.Purpose == "staff" && m.Status == "queued" && m.Attempts >= 1 {
				return true
			}
		}
		return false
	})
	g.Text(Inbound{From: customerA, Body: "STOP"})
	g.Twilio.FailNext(0, 0, 0)

	note := waitSentTo(t, g, staffAnn, 2)[1]
	if want := "#" + ref + " not delivered: the contact opted out."; note.Body != want || note.From != OurSMS {
		t.Errorf("note to Ann = from %s %q, want from %s %q", note.From, note.Body, OurSMS, want)
	}
	var answer Message
	for _, m := range g.Settled(t, customerA) {
		if m.Purpose == "staff" {
			answer = m
		}
	}
	if answer.Status != "suppressed" {
		t.Errorf("the answer is %s, want suppressed", answer.Status)
	}
	if got := Bodies(sentTo(g, customerA)); strings.Join(got, "|") != optOutReply {
		t.Errorf("the contact got %q, want only the opt-out reply", got)
	}
	g.Settled(t, staffAnn)
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 2 {
		t.Errorf("Ann got %q, want the forward and one note", got)
	}
}
