package test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// inboxConfig has a handoff, a catch-all that forwards to staff, and a
// promo to start by hand.
const inboxConfig = `
groups:
  - { id: newsletter, name: "Newsletter" }
staff:
  - { number: "+15550100100", name: "Ann Staff" }
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h }
      - { type: reply, text: "Thanks for talking to us!" }
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [newsletter] }
      - { type: reply, text: "Welcome!" }
  - id: promo
    steps:
      - { type: reply, text: "Our spring offer is on." }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// dashLogin logs a dashboard client in with the admin token and returns
// the session's CSRF token, read from a page.
func dashLogin(t *testing.T, g *Gateway) (*http.Client, string) {
	t.Helper()
	c := dashClient(t)
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/inbox"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard login: %d", res.StatusCode)
	}
	res, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox", nil)
	m := csrfField.FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("inbox page: %d, no CSRF token\n%s", res.StatusCode, page)
	}
	return c, m[1]
}

// The inbox lists the handoff and the forwarded conversations, unanswered;
// an answer from a conversation page reaches the fake Twilio from the
// number the contact wrote to, on its channel (WhatsApp too), exactly as
// a staff #REF answer; an answer to an opted-out contact is refused with
// the reason on the page and nothing sent; a post without the CSRF token
// is refused; closing the handoff ends it, its staff are told, and the
// automation goes on.
func TestDashboardInboxAnswerAndClose(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboxConfig)
	g.Text(Inbound{From: customerA, Body: "AGENT please"})
	refA := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	g.Text(Inbound{From: customerB, Body: "Is the shop open?", Channel: "whatsapp"})
	waitSentTo(t, g, staffAnn, 2)
	g.Text(Inbound{From: customerC, Body: "call me"})
	waitSentTo(t, g, staffAnn, 3)
	g.Text(Inbound{From: customerC, Body: "STOP"})
	repliesTo(t, g, customerC, 1) // the opt-out confirmation

	c, csrf := dashLogin(t, g)
	res, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox", nil)
	if res.StatusCode != http.StatusOK || strings.Count(page, `class="conv unanswered"`) != 3 || !strings.Contains(page, "#"+refA) ||
		!strings.Contains(page, "handoff open") || !strings.Contains(page, "3 waiting for an answer") {
		t.Fatalf("inbox: %d\n%s", res.StatusCode, page)
	}
	// The list refreshes itself: poll.js, allowed by the policy, fetches
	// its part.
	if !strings.Contains(page, `data-poll="/admin/inbox?part=list"`) || !strings.Contains(page, `<script src="/admin/poll.js"`) {
		t.Errorf("inbox page does not poll:\n%s", page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if res, js := dashDo(t, c, http.MethodGet, g.URL+"/admin/poll.js", nil); res.StatusCode != http.StatusOK ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "data-poll") {
		t.Errorf("poll.js: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}

	answer := func(phone, text, token string) (*http.Response, string) {
		t.Helper()
		form := url.Values{"text": {text}}
		if token != "" {
			form.Set("csrf", token)
		}
		return dashDo(t, c, http.MethodPost, g.URL+"/admin/inbox/"+url.PathEscape(phone)+"/answer", form)
	}
	// Without the CSRF token: refused, nothing sent.
	if res, _ := answer(customerA, "forged", ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("answer without the CSRF token: %d, want 403", res.StatusCode)
	}
	res, _ = answer(customerA, "Sorry! It ships today.", csrf)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/inbox/"+url.PathEscape(customerA)+"?done=sent" {
		t.Fatalf("answer A: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := waitSentTo(t, g, customerA, 1)[0]; got.From != OurSMS || got.Body != "Sorry! It ships today." {
		t.Errorf("answer A = from %s %q", got.From, got.Body)
	}
	res, _ = answer(customerB, "Yes, until 6pm.", csrf)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer B: %d", res.StatusCode)
	}
	if got := waitSentTo(t, g, "whatsapp:"+customerB, 1)[0]; got.From != "whatsapp:"+OurWhatsApp || got.Body != "Yes, until 6pm." {
		t.Errorf("answer B = from %s %q", got.From, got.Body)
	}
	res, page = answer(customerC, "Calling you now", csrf)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="not-sent"`) || !strings.Contains(page, "the contact opted out") ||
		!strings.Contains(page, "Calling you now</textarea>") {
		t.Errorf("answer to an opted-out contact: %d\n%s", res.StatusCode, page)
	}
	for _, m := range g.Messages(customerC) {
		if m.Direction == "out" && m.Purpose == "staff" {
			t.Errorf("an answer to the opted-out contact was stored: %+v", m)
		}
	}
	if got := len(sentTo(g, customerA)) + len(sentTo(g, customerC)); got != 2 {
		t.Errorf("%d messages reached A and C, want A's answer and C's opt-out confirmation", got)
	}

	// Answered ones are marked so; the conversation's timeline part (what
	// poll.js fetches) shows the answer.
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox?part=list", nil)
	if strings.Count(page, `class="conv unanswered"`) != 1 || strings.Contains(page, "<html") {
		t.Errorf("inbox list part after two answers:\n%s", page)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox/"+url.PathEscape(customerA)+"?part=timeline", nil)
	if !strings.Contains(page, "Sorry! It ships today.") || !strings.Contains(page, "staff answer") {
		t.Errorf("timeline part of A:\n%s", page)
	}

	// Close A's handoff from its page: the automation goes on.
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox/"+url.PathEscape(customerA), nil)
	if !strings.Contains(page, `id="close-handoff"`) {
		t.Fatalf("conversation page of A has no close button:\n%s", page)
	}
	res, _ = dashDo(t, c, http.MethodPost, g.URL+"/admin/inbox/"+url.PathEscape(customerA)+"/close", url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "?done=closed") {
		t.Fatalf("close: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := waitSentTo(t, g, customerA, 2)[1]; got.Body != "Thanks for talking to us!" {
		t.Errorf("after the close A got %q", got.Body)
	}
	// Its staff are told who closed it (the admin token acts as "admin").
	if note := waitSentTo(t, g, staffAnn, 4)[3]; note.Body != "#"+refA+": handoff closed in the dashboard by admin." || note.From != OurSMS {
		t.Errorf("after the close staff got from %s %q", note.From, note.Body)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("handoffs still open: %+v", open)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox/"+url.PathEscape(customerA)+"?done=closed", nil)
	if strings.Contains(page, `id="close-handoff"`) || !strings.Contains(page, "Handoff closed") {
		t.Errorf("conversation page after the close:\n%s", page)
	}
}

// A one-off message from a contact's page reaches the fake Twilio from the
// number the contact wrote to; to an opted-out contact it is refused with
// the reason (the WhatsApp window's templates are the engine's tests').
// Starting an automation for a contact or a group first shows how many
// contacts it reaches, then starts it.
func TestDashboardSendAndStart(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboxConfig)
	g.Text(Inbound{From: customerA, Body: "JOIN"})
	g.Text(Inbound{From: customerB, Body: "JOIN"})
	g.Text(Inbound{From: customerC, Body: "JOIN"})
	repliesTo(t, g, customerA, 1)
	repliesTo(t, g, customerB, 1)
	repliesTo(t, g, customerC, 1)
	g.Text(Inbound{From: customerC, Body: "STOP"})
	repliesTo(t, g, customerC, 2)

	c, csrf := dashLogin(t, g)
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts/"+url.PathEscape(customerA), nil)
	if !strings.Contains(page, "/send\">Send a message</a>") || !strings.Contains(page, "Start an automation") {
		t.Errorf("contact page lacks its actions:\n%s", page)
	}
	send := func(phone, text, token string) (*http.Response, string) {
		form := url.Values{"text": {text}}
		if token != "" {
			form.Set("csrf", token)
		}
		return dashDo(t, c, http.MethodPost, g.URL+"/admin/contacts/"+url.PathEscape(phone)+"/send", form)
	}
	if res, _ := send(customerA, "forged", ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("send without the CSRF token: %d, want 403", res.StatusCode)
	}
	res, _ := send(customerA, "Your order is ready.", csrf)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send to A: %d", res.StatusCode)
	}
	if got := waitSentTo(t, g, customerA, 2)[1]; got.From != OurSMS || got.Body != "Your order is ready." {
		t.Errorf("one-off to A = from %s %q", got.From, got.Body)
	}
	res, page = send(customerC, "Come back!", csrf)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "the contact opted out") {
		t.Errorf("send to an opted-out contact: %d\n%s", res.StatusCode, page)
	}

	confirm := func(path string, form url.Values) (*http.Response, string) {
		form.Set("csrf", csrf)
		return dashDo(t, c, http.MethodPost, g.URL+path, form)
	}
	// A contact: one reached; the start sends promo's reply.
	const dora = "+15551230009"
	res, page = confirm("/admin/start/confirm", url.Values{"automation": {"promo"}, "target": {"contact"}, "contact": {dora}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `<strong id="reach">1</strong> contact `) {
		t.Fatalf("confirm a contact start: %d\n%s", res.StatusCode, page)
	}
	// A start stores its enrollment before it answers, so none stored
	// means none started (a reply not sent yet would prove nothing).
	if ens := g.Enrollments("promo", dora); len(ens) != 0 {
		t.Fatalf("the confirmation page started it: %+v", ens)
	}
	res, page = confirm("/admin/start", url.Values{"automation": {"promo"}, "target": {"contact"}, "contact": {dora}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "promo started for 1 contact.") {
		t.Fatalf("start for a contact: %d\n%s", res.StatusCode, page)
	}
	if got := repliesTo(t, g, dora, 1); got[0] != "Our spring offer is on." {
		t.Errorf("Dora got %q", got)
	}
	// The newsletter: A and B reached, C opted out and passed over.
	res, page = confirm("/admin/start/confirm", url.Values{"automation": {"promo"}, "target": {"group"}, "group": {"newsletter"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `<strong id="reach">2</strong> contacts (1 opted out, passed over)`) {
		t.Errorf("confirm a group start: %d\n%s", res.StatusCode, page)
	}
	var none struct {
		Broadcasts []broadcastView `json:"broadcasts"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/broadcasts", nil, &none); code != http.StatusOK || len(none.Broadcasts) != 0 {
		t.Fatalf("the group confirmation page started a broadcast: %d %+v", code, none.Broadcasts)
	}
	// Started, the group start is a broadcast that names who started it:
	// A and B get the promo, C (opted out) is passed over.
	res, page = confirm("/admin/start", url.Values{"automation": {"promo"}, "target": {"group"}, "group": {"newsletter"}})
	m := regexp.MustCompile(`started as broadcast <a href="/admin/broadcasts" id="broadcast">([^<]+)</a>`).FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("start for a group: %d\n%s", res.StatusCode, page)
	}
	if got := repliesTo(t, g, customerA, 3)[2]; got != "Our spring offer is on." {
		t.Errorf("A got %q from the group start", got)
	}
	if got := repliesTo(t, g, customerB, 2)[1]; got != "Our spring offer is on." {
		t.Errorf("B got %q from the group start", got)
	}
	var b broadcastView
	Eventually(t, patience, "the group start's broadcast done", func() bool {
		b = g.broadcast(t, m[1])
		return b.Status == "done"
	})
	if b.Source != "dashboard" || b.By != "admin" || b.Enrolled != 2 || b.Skipped["opted_out"] != 1 {
		t.Errorf("the group start's broadcast = %+v, want from the dashboard by admin, 2 enrolled, 1 opted out skipped", b)
	}
	if got := repliesToNow(g, customerC); len(got) != 2 {
		t.Errorf("C, opted out, got %q", got)
	}
	// A contact written as WhatsApp is started on WhatsApp, as the admin
	// API starts it, though it last wrote by SMS.
	const emil = "+15551230011"
	g.Text(Inbound{From: emil, Body: "hello", Channel: "whatsapp"})
	g.Text(Inbound{From: emil, Body: "hi again"})
	res, page = confirm("/admin/start", url.Values{"automation": {"promo"}, "target": {"contact"}, "contact": {"whatsapp:" + emil}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "promo started for 1 contact.") {
		t.Fatalf("start for a WhatsApp contact: %d\n%s", res.StatusCode, page)
	}
	var onWhatsApp []fakes.Message
	Eventually(t, patience, "the promo to Emil", func() bool {
		onWhatsApp = nil
		for _, m := range g.Twilio.Sent() {
			if strings.HasSuffix(m.To, emil) && m.Body == "Our spring offer is on." {
				onWhatsApp = append(onWhatsApp, m)
			}
		}
		return len(onWhatsApp) > 0
	})
	if onWhatsApp[0].To != "whatsapp:"+emil || onWhatsApp[0].From != "whatsapp:"+OurWhatsApp {
		t.Errorf("the start for whatsapp:%s went from %s to %s", emil, onWhatsApp[0].From, onWhatsApp[0].To)
	}
	// What is no address that can receive is refused, as the admin API
	// counts it invalid, and no contact is made of it.
	for _, bad := range []string{"call me!", "MyBrand"} {
		res, page = confirm("/admin/start", url.Values{"automation": {"promo"}, "target": {"contact"}, "contact": {bad}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "contact: ") {
			t.Errorf("start for %q: %d\n%s", bad, res.StatusCode, page)
		}
		if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(bad), nil, nil); code != http.StatusNotFound {
			t.Errorf("start for %q made a contact: GET %d", bad, code)
		}
	}
	// Bad forms say what is wrong.
	res, page = confirm("/admin/start/confirm", url.Values{"automation": {"nope"}, "target": {"group"}, "group": {"nope"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "automation: choose one") || !strings.Contains(page, "group: choose a declared group") {
		t.Errorf("confirm a bad start: %d\n%s", res.StatusCode, page)
	}
	// Without the CSRF token: refused.
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/start", url.Values{"automation": {"promo"}, "contact": {dora}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("start without the CSRF token: %d, want 403", res.StatusCode)
	}
}

// A conversation forwarded by email only is in the inbox too, unanswered,
// under the reference the email carries: staff who got it by email answer
// it there, as a staff #REF answer, or from a staff phone with "#REF text".
func TestDashboardInboxListsForwardsByEmail(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	g := StartGateway(t, emailConfig(smtp)+`
staff:
  - { number: "+15550100100", name: "Ann Staff" }
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_email, to: ["support@acme.test"] }
`)
	g.Text(Inbound{From: customerA, Body: "Where is my order?"})
	mail := smtp.WaitMessages(t, 1, patience)[0]
	ref := refOf(t, mail.Subject)
	if !strings.Contains(mail.Body, "Conversation: #"+ref) {
		t.Errorf("email body lacks the reference #%s:\n%s", ref, mail.Body)
	}

	c, csrf := dashLogin(t, g)
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox", nil)
	if strings.Count(page, `class="conv unanswered"`) != 1 || !strings.Contains(page, "#"+ref) || !strings.Contains(page, "support@acme.test") {
		t.Fatalf("inbox after a forward by email:\n%s", page)
	}
	res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/inbox/"+url.PathEscape(customerA)+"/answer", url.Values{"text": {"It ships today."}, "csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer: %d", res.StatusCode)
	}
	if got := waitSentTo(t, g, customerA, 1)[0]; got.From != OurSMS || got.Body != "It ships today." {
		t.Errorf("answer = from %s %q", got.From, got.Body)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox", nil)
	if strings.Contains(page, `class="conv unanswered"`) || !strings.Contains(page, "#"+ref) {
		t.Errorf("inbox after the answer:\n%s", page)
	}
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " Tracking number follows."})
	if got := waitSentTo(t, g, customerA, 2)[1]; got.Body != "Tracking number follows." {
		t.Errorf("#REF answer from a staff phone = %q", got.Body)
	}
}

// The inbox, which poll.js fetches every few seconds, shows the start of
// a long message, not all of it: the conversation page has it whole.
func TestDashboardInboxShowsTheStartOfALongMessage(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboxConfig)
	long := "Hello, my order " + strings.Repeat("number 12345 ", 300) + "never came."
	g.Text(Inbound{From: customerA, Body: long})
	waitSentTo(t, g, staffAnn, 1)
	c, _ := dashLogin(t, g)
	res, list := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox?part=list", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(list, "“Hello, my order number 12345") || !strings.Contains(list, "…”") {
		t.Fatalf("inbox list: %d, want the start of the message and an ellipsis\n%s", res.StatusCode, list)
	}
	if strings.Contains(list, "never came.") || len(list) > 4000 {
		t.Errorf("the inbox list carries the whole message (%d bytes)", len(list))
	}
	if _, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox/"+url.PathEscape(customerA), nil); !strings.Contains(page, "never came.") {
		t.Error("the conversation page lacks the end of the message")
	}
}

// A send the provider refuses shows on the dashboard in the provider's
// words, not as keyway's error chain: an answer from the inbox that Twilio
// refuses and an email forward the mail server refuses, on the
// conversation page, in the message log, and marked in the inbox list.
// The admin API keeps the whole error beside the reason.
func TestDashboardShowsWhyASendFailed(t *testing.T) {
	t.Parallel()
	smtp := fakes.NewSMTP(t)
	g := StartGateway(t, emailConfig(smtp)+`
staff:
  - { number: "+15550100100", name: "Ann Staff" }
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
      - { type: forward_to_email, to: ["support@acme.test"] }
`)
	smtp.FailNext(1, 550)
	g.Text(Inbound{From: customerA, Body: "Where is my parcel?"})
	waitSentTo(t, g, staffAnn, 1)
	failed := func(purpose string) Message {
		t.Helper()
		var m Message
		Eventually(t, patience, "a failed "+purpose+" to "+customerA, func() bool {
			for _, m = range g.Messages(customerA) {
				if m.Purpose == purpose && m.Status == "failed" {
					return true
				}
			}
			return false
		})
		return m
	}
	email := failed("forward")

	c, csrf := dashLogin(t, g)
	g.Twilio.FailNext(1, 400, 21211)
	res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/inbox/"+url.PathEscape(customerA)+"/answer", url.Values{"csrf": {csrf}, "text": {"It left today."}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer: %d", res.StatusCode)
	}
	answer := failed("staff")

	// The API keeps the whole error, and gives the reason beside it.
	const twilioSaid = "fakes: scripted failure (HTTP 400, code 21211)"
	if !strings.HasPrefix(answer.Error, "providers: permanent send error") || answer.Reason != twilioSaid || answer.ErrorCode != 21211 {
		t.Errorf("the failed answer in the API: error %q, reason %q, code %d", answer.Error, answer.Reason, answer.ErrorCode)
	}
	if !strings.HasPrefix(email.Error, "providers: permanent send error") || !strings.HasPrefix(email.Reason, "the mail server answered 550") {
		t.Errorf("the failed email in the API: error %q, reason %q", email.Error, email.Reason)
	}

	chain := regexp.MustCompile(`providers: |ApiError|twilio: send to|affected message ID`)
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox/"+url.PathEscape(customerA), nil)
	if !strings.Contains(page, twilioSaid) || !strings.Contains(page, "the mail server answered 550") || chain.MatchString(page) {
		t.Errorf("the conversation page does not say why in plain words:\n%s", page)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/messages?status=failed", nil)
	if !strings.Contains(page, twilioSaid) || !strings.Contains(page, "the mail server answered 550") || chain.MatchString(page) {
		t.Errorf("the message log does not say why in plain words:\n%s", page)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/inbox?part=list", nil)
	if !regexp.MustCompile(`<div class="conv-last">↪ <span class="badge st-failed">failed</span> It left today.</div>`).MatchString(page) {
		t.Errorf("the inbox does not mark the last answer failed:\n%s", page)
	}
}
