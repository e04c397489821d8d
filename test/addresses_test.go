package test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Addresses that are not phone numbers: a short code we own, an
// alphanumeric sender, a WhatsApp user who shows a username. Twilio sends
// them as written; keyway keeps them so, and handles their messages.
const (
	shortCode    = "55123"
	alphaSender  = "MyBrand"
	whatsappUser = "US.13491208655302741918"
)

// shortCodeConfig adds the short code to the harness's numbers (the body
// continues the numbers list WriteConfig ends with) before addressesConfig.
const shortCodeConfig = `      - { number: "55123", channel: sms }
` + addressesConfig

// addressesConfig holds the automations of these tests.
const addressesConfig = `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome!" }
  - id: remind
    keywords: [REMIND]
    steps:
      - { type: reply, text: "Reminder set" }
  - id: support
    catch_all: true
    steps:
      - { type: tag, add: [caught] }
`

// twilioSMS is an inbound SMS webhook as Twilio posts it, every field of a
// message to a Messaging Service's sender; from and to as Twilio writes them.
func twilioSMS(g *Gateway, sid, from, to, body string) url.Values {
	return url.Values{
		"ToCountry": {"US"}, "ToState": {""}, "SmsMessageSid": {sid}, "NumMedia": {"0"},
		"ToCity": {""}, "FromZip": {"94105"}, "SmsSid": {sid}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {body},
		"FromCountry": {"US"}, "To": {to}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"},
		"ToZip": {""}, "NumSegments": {"1"}, "MessageSid": {sid}, "AccountSid": {g.Twilio.AccountSID},
		"From": {from}, "ApiVersion": {"2010-04-01"},
	}
}

// twilioWhatsAppUser is an inbound WhatsApp webhook from a user known by
// a business-scoped user id only: ExternalUserId, no WaId.
func twilioWhatsAppUser(g *Gateway, sid, user, body string) url.Values {
	return url.Values{
		"SmsMessageSid": {sid}, "NumMedia": {"0"}, "ProfileName": {"Ana"}, "MessageType": {"text"},
		"SmsSid": {sid}, "SmsStatus": {"received"}, "Body": {body}, "To": {"whatsapp:" + OurWhatsApp},
		"NumSegments": {"1"}, "ReferralNumMedia": {"0"}, "MessageSid": {sid},
		"AccountSid": {g.Twilio.AccountSID}, "From": {"whatsapp:" + user}, "ExternalUserId": {user},
		"ApiVersion": {"2010-04-01"},
	}
}

// sid returns a fresh Twilio message sid for test n.
func sid(n int) string { return fmt.Sprintf("SM%032d", 900000+n) }

// post posts a signed webhook and fails the test unless it gets want.
func post(t *testing.T, g *Gateway, form url.Values, want int) {
	t.Helper()
	if code, body := g.PostSigned("/webhooks/twilio", form); code != want {
		t.Fatalf("webhook from %s to %s answered %d (%s), want %d", form.Get("From"), form.Get("To"), code, body, want)
	}
}

func TestShortCodeIsAcceptedAndAnsweredFromIt(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, shortCodeConfig)
	post(t, g, twilioSMS(g, sid(1), "+15551230101", shortCode, "JOIN"), http.StatusOK)
	sent := g.Twilio.WaitSent(t, 1, 10*time.Second)
	if sent[0].From != shortCode || sent[0].To != "+15551230101" || sent[0].Body != "Welcome!" {
		t.Fatalf("sent %+v, want Welcome! from %s", sent[0], shortCode)
	}
	msgs := g.Messages("+15551230101")
	in := msgs[len(msgs)-1]
	if in.Direction != "in" || !slices.Equal(in.To, []string{shortCode}) || in.Fields["MessagingServiceSid"] == "" {
		t.Fatalf("stored inbound %+v, want it to %s with every field", in, shortCode)
	}
	// Twilio's retry of the same message is a duplicate, not a refusal.
	post(t, g, twilioSMS(g, sid(1), "+15551230101", shortCode, "JOIN"), http.StatusOK)
}

func TestAlphanumericSenderIsStoredAndHandled(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, addressesConfig)
	post(t, g, twilioSMS(g, sid(2), alphaSender, OurSMS, "JOIN"), http.StatusOK)
	post(t, g, twilioSMS(g, sid(3), "Shop 24", OurSMS, "hello there"), http.StatusOK)

	// A keyword enrolls it; the reply cannot reach an alphanumeric id, so
	// it is stored as suppressed with the reason and never sent.
	msgs := g.Messages(alphaSender)
	if len(msgs) != 2 {
		t.Fatalf("messages of %s: %+v, want the inbound and the suppressed reply", alphaSender, msgs)
	}
	out, in := msgs[0], msgs[1]
	if in.Direction != "in" || in.From != alphaSender || in.Body != "JOIN" {
		t.Fatalf("stored inbound %+v", in)
	}
	if out.Direction != "out" || out.Status != "suppressed" || !strings.Contains(out.Error, "alphanumeric") {
		t.Fatalf("reply %+v, want it suppressed: an alphanumeric sender id cannot receive", out)
	}
	ens := g.Enrollments("join", alphaSender)
	if len(ens) != 1 || ens[0].Status != "ended" {
		t.Fatalf("enrollments %+v, want one, ended", ens)
	}
	// catch_all takes an unmatched message from a sender id with a space,
	// and from one as carriers pass them on beyond the 11 characters.
	post(t, g, twilioSMS(g, sid(9), "VM-HDFCBK", OurSMS, "hello there"), http.StatusOK)
	for _, sender := range []string{"Shop 24", "VM-HDFCBK"} {
		if c := g.Contact(sender); !slices.Contains(c.Contact.Tags, "caught") {
			t.Fatalf("contact %+v, want it tagged by catch_all", c.Contact)
		}
	}
	// The admin API manages the contact such a sender made, but does not
	// make one of a value like it: that is a mistake in a phone number.
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/VM-HDFCBK", map[string]any{"name": "HDFC Bank"}, nil); code != http.StatusOK {
		t.Fatalf("PUT the contact VM-HDFCBK: %d, want 200", code)
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/VM-NOSUCH", map[string]any{"name": "x"}, nil); code != http.StatusBadRequest {
		t.Fatalf("PUT a new contact VM-NOSUCH: %d, want 400", code)
	}

	// A phone's reply goes out: once it has, the outbox has had its turn.
	post(t, g, twilioSMS(g, sid(4), "+15551230102", OurSMS, "JOIN"), http.StatusOK)
	repliesTo(t, g, "+15551230102", 1)
	for _, m := range g.Twilio.Sent() {
		if m.To == alphaSender || m.To == "Shop 24" || m.To == "VM-HDFCBK" {
			t.Fatalf("sent to an alphanumeric sender: %+v", m)
		}
	}
}

func TestWhatsAppUserIDIsAnsweredOnWhatsApp(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, addressesConfig)
	post(t, g, twilioWhatsAppUser(g, sid(5), whatsappUser, "REMIND"), http.StatusOK)
	sent := g.Twilio.WaitSent(t, 1, 10*time.Second)
	if sent[0].To != "whatsapp:"+whatsappUser || sent[0].From != "whatsapp:"+OurWhatsApp || sent[0].Body != "Reminder set" {
		t.Fatalf("sent %+v, want Reminder set to whatsapp:%s", sent[0], whatsappUser)
	}
	for _, key := range []string{whatsappUser, "whatsapp:" + whatsappUser} {
		c := g.Contact(key)
		if c.Contact.Phone != whatsappUser || c.Contact.Name != "Ana" {
			t.Fatalf("contact %s: %+v", key, c.Contact)
		}
	}
	if in := g.Messages(whatsappUser); len(in) == 0 || in[len(in)-1].Fields["ExternalUserId"] != whatsappUser {
		t.Fatalf("stored messages %+v, want the inbound with its ExternalUserId", in)
	}

	// A manual start reaches the user on WhatsApp; a value that is no
	// address is skipped, the others start.
	var res struct {
		Started int            `json:"started"`
		Skipped map[string]int `json:"skipped"`
	}
	body := map[string]any{"contacts": []string{whatsappUser, "not a number!", "+15551230103"}}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/join/enrollments", body, &res); code != http.StatusAccepted {
		t.Fatalf("manual start: %d", code)
	}
	if res.Started != 2 || res.Skipped["invalid"] != 1 {
		t.Fatalf("manual start %+v, want two started and the bad one skipped", res)
	}
	Eventually(t, 10*time.Second, "Welcome! on WhatsApp to the user id", func() bool {
		for _, m := range g.Twilio.Sent() {
			if m.To == "whatsapp:"+whatsappUser && m.Body == "Welcome!" {
				return true
			}
		}
		return false
	})
}

func TestMalformedAddressesAreRefused(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, addressesConfig)
	bad := []url.Values{
		twilioSMS(g, sid(6), "+++", OurSMS, "JOIN"),
		twilioSMS(g, sid(6), "ann@example.com", OurSMS, "JOIN"),
		twilioSMS(g, sid(6), "MyBrandIsFarTooLongHere", OurSMS, "JOIN"),
		twilioSMS(g, sid(6), "+15551230104", "12", "JOIN"),
		twilioWhatsAppUser(g, sid(6), "MyBrand", "JOIN"),
	}
	for _, form := range bad {
		post(t, g, form, http.StatusBadRequest)
	}
	// Nothing was stored under the sid: the same sid from a phone is a new
	// message, and answered.
	post(t, g, twilioSMS(g, sid(6), "+15551230104", OurSMS, "JOIN"), http.StatusOK)
	if got := repliesTo(t, g, "+15551230104", 1); got[0] != "Welcome!" {
		t.Fatalf("replies %q", got)
	}
}

// Info logs mask addresses that are not phone numbers too.
func TestAddressesAreMaskedInLogs(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, addressesConfig)
	g.Stop()
	g.cmdArgs = []string{"--log-level", "info"}
	g.Start()
	post(t, g, twilioWhatsAppUser(g, sid(7), whatsappUser, "REMIND"), http.StatusOK)
	g.Twilio.WaitSent(t, 1, 10*time.Second)
	post(t, g, twilioSMS(g, sid(8), "ann@example.com", OurSMS, "JOIN"), http.StatusBadRequest)
	g.Stop()
	logs := g.Logs()
	for _, secret := range []string{whatsappUser, "13491208655302741918", "ann@example.com"} {
		if strings.Contains(logs, secret) {
			t.Errorf("info logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "US*******************18") {
		t.Errorf("info logs lack the masked user id:\n%s", logs)
	}
}
