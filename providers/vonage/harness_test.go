package vonage_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/providertest"
	"github.com/keyway-sms/keyway/providers/vonage"
)

const (
	apiKey    = "abcd1234"
	apiSecret = "s3cr3t-api"
	sigSecret = "sig-secret-0123456789"
	ours      = "+447700900000"
	contact   = "+447700900001"
	uuid      = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
)

func build(t *testing.T, apiBase string, dev bool) providers.Provider {
	t.Helper()
	set := vonage.Settings{APIKey: apiKey, APISecret: apiSecret, SignatureSecret: sigSecret, APIBaseURL: apiBase}
	if dev {
		set = vonage.Settings{APIBaseURL: apiBase}
	}
	return vonage.New(set, "US", zerolog.New(io.Discard))
}

// sign signs as Vonage does, issued now.
func sign(r *providers.Request) {
	r.Header.Set("Authorization", vonage.Sign(sigSecret, r.Body, time.Now()))
}

// inboundSMS is shaped like the Vonage Messages API reference, Inbound
// message webhook, SMS example (channel, message_uuid, to, from, timestamp,
// text, sms, usage, message_type, origin).
const inboundSMS = `{"channel":"sms","message_uuid":"` + uuid + `","to":"447700900000","from":"447700900001",` +
	`"timestamp":"2025-02-03T12:14:25Z","text":"Hello From Vonage!","sms":{"num_messages":"2","keyword":"HELLO"},` +
	`"usage":{"price":"0.0333","currency":"EUR"},"message_type":"text","origin":{"network_code":"12345"}}`

// statusOf is shaped like the Vonage Messages API reference, Message status
// webhook, SMS example, with status st and an error object when errObj is
// set.
func statusOf(st, errObj string) string {
	s := `{"message_uuid":"` + uuid + `","to":"447700900001","from":"447700900000","timestamp":"2025-02-03T12:14:25Z",` +
		`"status":"` + st + `","channel":"sms","client_ref":"msg_01J","usage":{"currency":"EUR","price":"0.0333"},` +
		`"destination":{"network_code":"12345"},"sms":{"count_total":"2"}`
	if errObj != "" {
		s += `,"error":` + errObj
	}
	return s + `}`
}

func TestHarness(t *testing.T) {
	in := providers.Inbound{Provider: "vonage", ID: uuid, Channel: config.ChannelSMS, From: contact, To: ours,
		Body: "Hello From Vonage!", SentAt: time.Date(2025, 2, 3, 12, 14, 25, 0, time.UTC)}
	stop := strings.Replace(inboundSMS, "Hello From Vonage!", "STOP", 1)
	stopIn := in
	stopIn.Body = "STOP"
	st := func(s string) providers.Status {
		return providers.Status{ProviderID: uuid, Status: s, MessageID: "msg_01J"}
	}
	rejected := st("failed")
	rejected.ErrorCode, rejected.ErrorMessage, rejected.MarketingOptOut = 1050, "Number barred - the number you are trying to submit to is blacklisted", true
	invalid := st("failed")
	invalid.ErrorCode, invalid.ErrorMessage = 1040, "Invalid message - the Platform was unable to process your request"
	unreachable := st("undelivered")
	unreachable.ErrorCode, unreachable.ErrorMessage = 1100, "Communication failed"
	shortCode := strings.Replace(inboundSMS, `"to":"447700900000"`, `"to":"55123"`, 1)
	shortIn := in
	shortIn.To = "55123"
	spaced := strings.Replace(inboundSMS, "2025-02-03T12:14:25Z", "2025-02-03 12:14:25 +0000", 1)
	unreadable := strings.Replace(inboundSMS, "2025-02-03T12:14:25Z", "yesterday", 1)
	noTime := in
	noTime.SentAt = time.Time{}
	webhooks := []providertest.WebhookCase{
		{Label: "a timestamp written with a space is read", Path: vonage.InboundPath, Body: spaced, Messages: []providers.Inbound{in}},
		{Label: "a timestamp that is no time is left out, the message kept", Path: vonage.InboundPath, Body: unreadable, Messages: []providers.Inbound{noTime}},
		{Label: "numbers given as JSON numbers are read as Vonage's strings", Path: vonage.InboundPath,
			Body:     strings.NewReplacer(`"to":"447700900000"`, `"to":447700900000`, `"from":"447700900001"`, `"from":447700900001`).Replace(inboundSMS),
			Messages: []providers.Inbound{in}},
		{Label: "a timestamp given as a number is left out, the message kept", Path: vonage.InboundPath,
			Body: strings.Replace(inboundSMS, `"2025-02-03T12:14:25Z"`, `1738584865`, 1), Messages: []providers.Inbound{noTime}},
		{Label: "inbound SMS", Source: "Vonage Messages API reference, Inbound message webhook, SMS example", Path: vonage.InboundPath, Body: inboundSMS, Messages: []providers.Inbound{in}, Answer: "ok"},
		{Label: "inbound delivered twice parses to the same id", Path: vonage.InboundPath, Body: inboundSMS, Repeat: true, Messages: []providers.Inbound{in}},
		{Label: "STOP reaches keyway as text (Vonage does not filter it)", Path: vonage.InboundPath, Body: stop, Messages: []providers.Inbound{stopIn}},
		{Label: "to a short code, kept as written", Path: vonage.InboundPath, Body: shortCode, Messages: []providers.Inbound{shortIn}},
		{Label: "missing JWT", Path: vonage.InboundPath, Body: inboundSMS, Signature: providertest.NoSignature, Status: http.StatusUnauthorized, ErrContains: "Bearer"},
		{Label: "bad JWT signature", Path: vonage.InboundPath, Body: inboundSMS, Signature: providertest.BadSignature, Status: http.StatusUnauthorized, ErrContains: "JWT refused"},
		{Label: "body changed after signing", Path: vonage.InboundPath, Body: inboundSMS, Tamper: func(b string) string { return strings.Replace(b, "Hello", "Jello", 1) },
			Status: http.StatusUnauthorized, ErrContains: "payload_hash"},
		{Label: "status with a bad JWT", Path: vonage.StatusPath, Body: statusOf("delivered", ""), Signature: providertest.BadSignature, Status: http.StatusUnauthorized},
		{Label: "dev mode takes an unsigned inbound", Dev: true, Path: vonage.InboundPath, Body: inboundSMS, Signature: providertest.NoSignature, Messages: []providers.Inbound{in}},
		{Label: "not JSON", Path: vonage.InboundPath, Body: `channel=sms`, Status: http.StatusBadRequest, ErrContains: "not a JSON"},
		{Label: "no message_uuid", Path: vonage.InboundPath, Body: strings.Replace(inboundSMS, uuid, "", 1), Status: http.StatusBadRequest, ErrContains: "message_uuid"},
		{Label: "bad from", Path: vonage.InboundPath, Body: strings.Replace(inboundSMS, `"from":"447700900001"`, `"from":"+-+"`, 1), Status: http.StatusBadRequest, ErrContains: "from"},
		{Label: "an MMS image is ignored", Path: vonage.InboundPath, Body: strings.Replace(strings.Replace(inboundSMS, `"message_type":"text"`, `"message_type":"image"`, 1), `"channel":"sms"`, `"channel":"mms"`, 1),
			Ignored: []string{"channel mms"}},
		{Label: "submitted", Source: "Vonage Messages API reference, Message status webhook, SMS example", Path: vonage.StatusPath, Body: statusOf("submitted", ""), Statuses: []providers.Status{st("sent")}},
		{Label: "delivered", Path: vonage.StatusPath, Body: statusOf("delivered", ""), Statuses: []providers.Status{st("delivered")}},
		{Label: "undeliverable", Path: vonage.StatusPath, Body: statusOf("undeliverable", ""), Statuses: []providers.Status{st("undelivered")}},
		{Label: "rejected with an error", Source: "Vonage Messages API reference, Message status webhook, error object (type, title, detail, instance)", Path: vonage.StatusPath,
			Body:     statusOf("rejected", `{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1050","title":1050,"detail":"Number barred - the number you are trying to submit to is blacklisted","instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}`),
			Statuses: []providers.Status{rejected}},
		{Label: "rejected with another code records it", Path: vonage.StatusPath,
			Body:     statusOf("rejected", `{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1040","title":1040,"detail":"Invalid message - the Platform was unable to process your request","instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}`),
			Statuses: []providers.Status{invalid}},
		{Label: "undeliverable with a code in a string title", Path: vonage.StatusPath,
			Body:     statusOf("undeliverable", `{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1100","title":"1100","detail":"Communication failed"}`),
			Statuses: []providers.Status{unreachable}},
		{Label: "rejected for throttling (1000) is sent again", Path: vonage.StatusPath,
			Body: statusOf("rejected", `{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1000","title":1000,"detail":"Throttled - You have exceeded the submission capacity allowed on this account."}`),
			Statuses: []providers.Status{func() providers.Status {
				t := st("failed")
				t.ErrorCode, t.ErrorMessage, t.Throttled = 1000, "Throttled - You have exceeded the submission capacity allowed on this account.", true
				return t
			}()}},
		{Label: "status without status", Path: vonage.StatusPath, Body: strings.Replace(statusOf("delivered", ""), `"status":"delivered",`, "", 1), Status: http.StatusBadRequest, ErrContains: "no status"},
	}

	sendReq := func(text string) providertest.APIRequest {
		return providertest.APIRequest{Method: http.MethodPost, Path: "/v1/messages",
			Header: map[string]string{"Authorization": "Basic YWJjZDEyMzQ6czNjcjN0LWFwaQ==", "Content-Type": "application/json"},
			Body:   `{"message_type":"text","text":"` + text + `","to":"447700900001","from":"447700900000","channel":"sms","client_ref":"msg_01J"}`}
	}
	out := providers.Outbound{ID: "msg_01J", Channel: config.ChannelSMS, From: ours, To: contact, Body: "Thanks, you are in!"}
	accepted := providertest.Answer{Status: http.StatusAccepted, Body: `{"message_uuid":"` + uuid + `"}`}
	prob := func(status int, typ, title, detail string) providertest.Answer {
		return providertest.Answer{Status: status, Header: map[string]string{"Content-Type": "application/problem+json"},
			Body: `{"type":"` + typ + `","title":"` + title + `","detail":"` + detail + `","instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}`}
	}
	// The codes and their meanings: Vonage API Errors, Messages API
	// (https://developer.vonage.com/en/api-errors/messages).
	const errSrc = "Vonage Messages API reference, Errors (RFC 7807 problem details)"
	sends := []providertest.SendCase{
		{Label: "text", Source: "Vonage Messages API reference, Send a message, SMS text", Message: out, Answers: []providertest.Answer{accepted},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, ProviderID: uuid},
		{Label: "unauthorized", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(401, "https://developer.vonage.com/api-errors#unauthorized", "Unauthorized", "You did not provide correct credentials.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Failed, Status: 401, CheckCode: true, ErrContains: "Unauthorized"},
		{Label: "low balance", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(402, "https://developer.vonage.com/api-errors/#low-balance", "Low balance", "This request could not be performed due to your account balance being low.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Failed, Status: 402, CheckCode: true, ErrContains: "balance",
			Reason: "Low balance: This request could not be performed due to your account balance being low."},
		{Label: "invalid number", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(422, "https://developer.nexmo.com/api-errors/messages-olympus#1040", "Invalid message", "The Platform was unable to process your request, e.g. an unrecognised number prefix.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Failed, Status: 422, Code: 1040, CheckCode: true, ErrContains: "Invalid message"},
		{Label: "number barred stops messages that are not answers", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(422, "https://developer.nexmo.com/api-errors/messages-olympus#1050", "Number barred", "The number you are trying to submit to is blacklisted.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.MarketingOptOut, Status: 422, Code: 1050, CheckCode: true, ErrContains: "Number barred"},
		{Label: "code 1000 is throttling whatever the status", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(422, "https://developer.nexmo.com/api-errors/messages-olympus#1000", "Throttled", "You have exceeded the submission capacity allowed on this account.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Throttled, Status: 422, Code: 1000, CheckCode: true},
		{Label: "throttled", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(429, "https://developer.vonage.com/api-errors/#throttled", "Rate Limit Hit", "Please wait, then retry your request")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Throttled, Status: 429, CheckCode: true},
		{Label: "server error", Source: errSrc, Message: out, Answers: []providertest.Answer{prob(500, "https://developer.vonage.com/api-errors/messages#1030", "Internal Error", "The server encountered an error")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.RetryLater, Status: 500, Code: 1030, CheckCode: true},
		{Label: "an answer quoting the numbers shows them masked", Message: out, Answers: []providertest.Answer{prob(422, "https://developer.nexmo.com/api-errors/messages-olympus#1040", "Invalid message", "Cannot route 447700900001 from 447700900000.")},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Failed, Status: 422, Code: 1040, CheckCode: true, ErrContains: "Cannot route 44********01"},
		{Label: "network error", Message: out, Unreachable: true, Outcome: providertest.RetryLater},
		{Label: "202 without a message_uuid is not sent twice", Message: out, Answers: []providertest.Answer{{Status: http.StatusAccepted, Body: `{}`}},
			Requests: []providertest.APIRequest{sendReq("Thanks, you are in!")}, Outcome: providertest.Failed, ErrContains: "message_uuid", Reason: providers.ReasonTakenUnknown},
		{Label: "dev mode sends nothing", Dev: true, Message: out, ProviderIDPattern: `^dev-[0-9a-f]{32}$`},
		{Label: "whatsapp refused", Message: providers.Outbound{ID: "msg_01J", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "hi"}, Outcome: providertest.Failed, ErrContains: "sms only"},
	}
	providertest.Run(t, providertest.Suite{New: build, Sign: sign, SignatureHeader: "Authorization", Webhooks: webhooks, Sends: sends,
		Lacks: map[providertest.Kind]string{
			providertest.KindMedia:                            "keyway takes Vonage SMS only; an MMS is ignored",
			providertest.KindSendMedia:                        "keyway sends through Vonage on SMS only",
			providertest.SendKind(providertest.OptedOut):      "no Vonage send error is read as an opt-out; STOP arrives as text and keyway handles it",
			providertest.SendKind(providertest.OutsideWindow): "SMS has no WhatsApp window",
		}})
}
