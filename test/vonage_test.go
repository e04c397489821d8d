package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyway-sms/keyway/providers/vonage"
	"github.com/keyway-sms/keyway/test/fakes"
)

const (
	vonageKey       = "abcd1234"
	vonageSecret    = "vonage-api-secret"
	vonageSigSecret = "vonage-signature-secret-0123456789"
	vonageNumber    = "+447700900123"
)

func vonageSection(api *fakes.Vonage) string {
	return fmt.Sprintf(`  vonage:
    api_key: %q
    api_secret: %q
    signature_secret: %q
    api_base_url: %q
    numbers:
      - { number: %q, channel: sms }
`, vonageKey, vonageSecret, vonageSigSecret, api.URL(), vonageNumber)
}

const vonageAutomations = `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome, through Vonage" }
`

// vonageInbound is an inbound SMS shaped like the Vonage Messages API
// reference's Inbound message webhook example for SMS: from and to are
// digits without "+".
func vonageInbound(uuid, from, text string) string {
	return fmt.Sprintf(`{"channel":"sms","message_uuid":%q,"to":%q,"from":%q,"timestamp":%q,"text":%q,`+
		`"sms":{"num_messages":"1"},"usage":{"price":"0.0057","currency":"EUR"},"message_type":"text","origin":{"network_code":"23410"}}`,
		uuid, strings.TrimPrefix(vonageNumber, "+"), strings.TrimPrefix(from, "+"), time.Now().UTC().Format(time.RFC3339), text)
}

// vonageStatus is a status webhook shaped like the reference's Message
// status example for SMS, about the send s.
func vonageStatus(s fakes.VonageSend, status string) string {
	return fmt.Sprintf(`{"message_uuid":%q,"to":%q,"from":%q,"timestamp":%q,"status":%q,"channel":"sms","client_ref":%q,`+
		`"usage":{"currency":"EUR","price":"0.0057"},"destination":{"network_code":"23410"},"sms":{"count_total":"1"}}`,
		s.UUID, s.To, s.From, time.Now().UTC().Format(time.RFC3339), status, s.ClientRef)
}

// postVonage posts body to path with the Authorization header auth ("" for
// none) and returns the status.
func postVonage(t *testing.T, g *Gateway, path, auth, body string) int {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if auth != "" {
		h["Authorization"] = auth
	}
	code, _ := g.PostRaw(path, body, h)
	return code
}

// signedVonage is the Authorization header Vonage signs body with.
func signedVonage(body string) string {
	return vonage.Sign(vonageSigSecret, []byte(body), time.Now())
}

// vonageJWT is a bearer JWT over body signed with method and key, its
// payload_hash the body's, with claims besides: for the tokens keyway must
// refuse although their hash is right.
func vonageJWT(t *testing.T, method jwt.SigningMethod, key any, body string, claims jwt.MapClaims) string {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	claims["payload_hash"] = hex.EncodeToString(sum[:])
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// Vonage SMS end to end through the binary: JWT-signed webhooks, a keyword
// answered through the Messages API with basic auth, statuses, and refused
// webhooks storing nothing.
func TestVonageSMS(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, vonageSection(api)+vonageAutomations)
	const ann, eve = "+447700900501", "+447700900509"

	// Refused: no JWT, a JWT signed with another secret, one issued more
	// than a day ago or with no iat (it would be good forever), and a good
	// JWT over another body (its payload_hash does not match). 401,
	// nothing stored.
	bad := vonageInbound("11111111-0000-4000-8000-000000000001", eve, "JOIN")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for label, auth := range map[string]string{
		"alg none":          vonageJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, bad, jwt.MapClaims{"iat": now.Unix()}),
		"RS256":             vonageJWT(t, jwt.SigningMethodRS256, rsaKey, bad, jwt.MapClaims{"iat": now.Unix()}),
		"HS512":             vonageJWT(t, jwt.SigningMethodHS512, []byte(vonageSigSecret), bad, jwt.MapClaims{"iat": now.Unix()}),
		"expired":           vonageJWT(t, jwt.SigningMethodHS256, []byte(vonageSigSecret), bad, jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}),
		"not valid yet":     vonageJWT(t, jwt.SigningMethodHS256, []byte(vonageSigSecret), bad, jwt.MapClaims{"iat": now.Unix(), "nbf": now.Add(time.Hour).Unix()}),
		"no JWT":            "",
		"wrong secret":      vonage.Sign("not-the-secret", []byte(bad), time.Now()),
		"other body":        signedVonage(bad + " "),
		"not a JWT":         "Bearer not.a.jwt",
		"basic, not JWT":    "Basic YWJjZDEyMzQ6c2VjcmV0",
		"issued tomorrow":   vonage.Sign(vonageSigSecret, []byte(bad), time.Now().Add(24*time.Hour)),
		"issued 2 days ago": vonage.Sign(vonageSigSecret, []byte(bad), time.Now().Add(-48*time.Hour)),
		"no iat":            vonageJWT(t, jwt.SigningMethodHS256, []byte(vonageSigSecret), bad, jwt.MapClaims{}),
	} {
		if code := postVonage(t, g, vonage.InboundPath, auth, bad); code != http.StatusUnauthorized {
			t.Errorf("%s: inbound answered %d, want 401", label, code)
		}
	}
	if code := postVonage(t, g, vonage.StatusPath, "", `{"message_uuid":"x","status":"delivered"}`); code != http.StatusUnauthorized {
		t.Errorf("unsigned status answered %d, want 401", code)
	}

	// A keyword: the answer goes out through the Messages API.
	in := vonageInbound("11111111-0000-4000-8000-000000000002", ann, "join")
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, patience, "the answer sent through Vonage", func() bool { return len(api.Sent()) == 1 })
	s := api.Sent()[0]
	if s.From != "447700900123" || s.To != "447700900501" || s.Text != "Welcome, through Vonage" || s.Channel != "sms" || s.ClientRef == "" {
		t.Errorf("send %+v", s)
	}
	// Delivered twice (Vonage retries a webhook it thinks failed): handled once.
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("repeated inbound answered %d", code)
	}

	// Statuses: submitted, then delivered.
	for _, st := range []string{"submitted", "delivered"} {
		body := vonageStatus(s, st)
		if code := postVonage(t, g, vonage.StatusPath, signedVonage(body), body); code != http.StatusOK {
			t.Fatalf("status %s answered %d", st, code)
		}
	}
	var reply storedMessage
	Eventually(t, patience, "the answer marked delivered", func() bool {
		for _, m := range storedMessages(t, g, ann) {
			if m.Direction == "out" {
				reply = m
				return m.Status == "delivered"
			}
		}
		return false
	})
	if reply.Provider != vonage.Name || reply.ProviderID != s.UUID || reply.From != vonageNumber || reply.ID != s.ClientRef {
		t.Errorf("stored answer: provider %s id %s from %s keyway id %s; sent %+v", reply.Provider, reply.ProviderID, reply.From, reply.ID, s)
	}
	ms := storedMessages(t, g, ann)
	if len(ms) != 2 || ms[1].Direction != "in" || ms[1].Body != "join" || ms[1].Provider != vonage.Name {
		t.Errorf("Ann's messages: %+v (want her join once, and the answer)", ms)
	}
	if n := len(storedMessages(t, g, eve)); n != 0 {
		t.Errorf("%d messages stored from refused webhooks", n)
	}
	if api.Refused() != 0 {
		t.Errorf("the fake refused %d sends for their credentials", api.Refused())
	}
}

// STOP, START and HELP through Vonage: keyway answers them itself (Vonage
// does not filter them on the Messages API), and an opted-out contact gets
// nothing from an automation.
func TestVonageCompliance(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, vonageSection(api)+vonageAutomations)
	const bob = "+447700900502"
	wire := strings.TrimPrefix(bob, "+")
	n := 0
	send := func(text string) {
		t.Helper()
		n++
		body := vonageInbound(fmt.Sprintf("22222222-0000-4000-8000-%012d", n), bob, text)
		if code := postVonage(t, g, vonage.InboundPath, signedVonage(body), body); code != http.StatusOK {
			t.Fatalf("%s answered %d", text, code)
		}
	}
	sentTo := func(want int) []string {
		t.Helper()
		Eventually(t, patience, fmt.Sprintf("%d texts sent to Bob", want), func() bool { return len(api.SentTo(wire)) >= want })
		return api.SentTo(wire)
	}

	send("STOP")
	if got := sentTo(1); got[0] != optOutReply {
		t.Fatalf("STOP answered %q", got[0])
	}
	if !g.Contact(bob).Contact.OptedOut {
		t.Fatal("Bob is not opted out after STOP")
	}
	send("JOIN") // opted out: stored, not answered
	send("HELP")
	if got := sentTo(2); got[1] != "Reply STOP to opt out. Msg&data rates may apply." {
		t.Fatalf("HELP answered %q (all: %q)", got[1], got)
	}
	send("START")
	if got := sentTo(3); got[2] != "You are resubscribed." {
		t.Fatalf("START answered %q (all: %q)", got[2], got)
	}
	send("JOIN")
	if got := sentTo(4); got[3] != "Welcome, through Vonage" {
		t.Fatalf("JOIN after START answered %q (all: %q)", got[3], got)
	}
	if got := api.SentTo(wire); len(got) != 4 {
		t.Errorf("sent to Bob %q: the JOIN while opted out was answered", got)
	}
}

// Vonage's error answers: 429 is throttling (retried with backoff, then
// sent), 422 fails the message with Vonage's code recorded.
func TestVonageErrorAnswers(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, vonageSection(api)+vonageAutomations)
	const cy, di = "+447700900503", "+447700900504"

	api.Answer(fakes.VonageAnswer{Status: http.StatusTooManyRequests, Code: 1010, Title: "Rate Limit Hit"})
	in := vonageInbound("33333333-0000-4000-8000-000000000001", cy, "JOIN")
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, patience, "the throttled answer sent on a later attempt", func() bool {
		for _, m := range storedMessages(t, g, cy) {
			if m.Direction == "out" {
				return m.Status == "sent" && m.Attempts == 2
			}
		}
		return false
	})
	if got := api.SentTo(strings.TrimPrefix(cy, "+")); len(got) != 1 {
		t.Errorf("sent to Cy %q, want the answer once", got)
	}

	api.Answer(fakes.VonageAnswer{Status: http.StatusUnprocessableEntity, Code: 1120, Title: "Invalid sender"})
	in = vonageInbound("33333333-0000-4000-8000-000000000002", di, "JOIN")
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("inbound answered %d", code)
	}
	var failed struct {
		Messages []struct {
			Direction string `json:"direction"`
			Status    string `json:"status"`
			ErrorCode int    `json:"error_code"`
			Error     string `json:"error"`
			Attempts  int    `json:"attempts"`
		}
	}
	Eventually(t, patience, "the refused answer recorded as failed", func() bool {
		g.Admin(http.MethodGet, "/api/v1/contacts/"+di+"/messages", nil, &failed)
		return len(failed.Messages) == 2 && failed.Messages[0].Status == "failed"
	})
	if m := failed.Messages[0]; m.ErrorCode != 1120 || m.Attempts != 1 || !strings.Contains(m.Error, "Invalid sender") {
		t.Errorf("failed answer: %+v, want code 1120 after one attempt", m)
	}
	if got := api.SentTo(strings.TrimPrefix(di, "+")); len(got) != 0 {
		t.Errorf("sent to Di %q", got)
	}
}

// Dev mode is per provider: beside a live Twilio, a Vonage without
// credentials logs and stores its texts (status dev, nothing reaches the
// Messages API, unsigned webhooks taken) while Twilio's texts are sent, and
// the start log names Vonage, not Twilio, as the provider in dev mode.
func TestDevModeIsPerProvider(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, fmt.Sprintf("  vonage:\n    api_base_url: %q\n    numbers:\n      - { number: %q }\n", api.URL(), vonageNumber)+vonageAutomations)
	const viaVonage, viaTwilio = "+447700900601", "+15551236601"

	in := vonageInbound("44444444-0000-4000-8000-000000000001", viaVonage, "JOIN")
	if code := postVonage(t, g, vonage.InboundPath, "", in); code != http.StatusOK {
		t.Fatalf("unsigned inbound in dev mode answered %d", code)
	}
	g.Text(Inbound{From: viaTwilio, Body: "JOIN"})
	g.Twilio.WaitSent(t, 1, patience)
	status := func(phone string) string {
		for _, m := range storedMessages(t, g, phone) {
			if m.Direction == "out" {
				return m.Provider + " " + m.Status
			}
		}
		return ""
	}
	Eventually(t, patience, "both answers settled", func() bool {
		return status(viaVonage) != "" && status(viaTwilio) == "twilio sent"
	})
	if got := status(viaVonage); got != "vonage dev" {
		t.Errorf("the answer through Vonage in dev mode is %q, want vonage dev", got)
	}
	if n := len(api.Sent()); n != 0 {
		t.Errorf("%d texts reached the Messages API in dev mode", n)
	}
	logs := g.Logs()
	if !strings.Contains(logs, "no Vonage credentials") || strings.Contains(logs, "no Twilio credentials") {
		t.Errorf("the start log should name Vonage alone as in dev mode:\n%s", logs)
	}
}

// A rejected status records Vonage's code and words on the message; 1050
// (a barred number) also stops what does not answer the contact, as
// WhatsApp's marketing opt-out does, so a manual start to it sends nothing.
func TestVonageRejectedStatus(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, vonageSection(api)+vonageAutomations+`  - id: promo
    steps:
      - { type: reply, text: "Deal of the week" }
`)
	const fay = "+447700900505"
	in := vonageInbound("55555555-0000-4000-8000-000000000001", fay, "JOIN")
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, patience, "the answer recorded as sent", func() bool {
		for _, m := range storedMessages(t, g, fay) {
			if m.Direction == "out" {
				return m.ProviderID != "" && m.Status == "sent"
			}
		}
		return false
	})
	s := api.Sent()[0]
	st := strings.Replace(vonageStatus(s, "rejected"), `}}`, `},"error":{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1050","title":1050,`+
		`"detail":"Number barred - the number is barred and may not receive messages","instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}}`, 1)
	if code := postVonage(t, g, vonage.StatusPath, signedVonage(st), st); code != http.StatusOK {
		t.Fatalf("status answered %d", code)
	}
	var got struct {
		Messages []struct {
			Direction string `json:"direction"`
			Status    string `json:"status"`
			ErrorCode int    `json:"error_code"`
			Error     string `json:"error"`
		}
	}
	Eventually(t, patience, "the answer recorded as failed with Vonage's code", func() bool {
		g.Admin(http.MethodGet, "/api/v1/contacts/"+fay+"/messages", nil, &got)
		return len(got.Messages) == 2 && got.Messages[0].Status == "failed"
	})
	if m := got.Messages[0]; m.ErrorCode != 1050 || !strings.Contains(m.Error, "Number barred") {
		t.Errorf("failed answer %+v, want code 1050 and Vonage's words", m)
	}

	startBy(t, g, "promo", fay)
	Eventually(t, patience, "the promotion suppressed", func() bool {
		for _, m := range storedMessages(t, g, fay) {
			if m.Body == "Deal of the week" {
				return m.Status == "suppressed"
			}
		}
		return false
	})
	if n := len(api.SentTo(strings.TrimPrefix(fay, "+"))); n != 1 {
		t.Errorf("%d texts sent to Fay, want the answer alone", n)
	}
}
