package twilio_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/providertest"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// The Twilio provider through the provider test harness. Webhook bodies are
// shaped like Twilio's documented examples (Twilio docs, Messaging >
// Webhooks > "Your response to Twilio's request": the SMS parameters; and
// "Track the message status of outbound messages": the status callback
// parameters); error answers like Twilio's REST API errors (Twilio docs,
// API Reference > Errors: {code, message, more_info, status}).
func TestHarness(t *testing.T) {
	const (
		sid     = "SM11111111111111111111111111111111"
		inPath  = "/webhooks/twilio"
		stPath  = "/webhooks/twilio/status"
		apiPath = "/2010-04-01/Accounts/" + testSID + "/Messages.json"
	)
	form := func(f url.Values) string { return f.Encode() }
	base := inboundForm()
	whatsapp := with(base, "From", "whatsapp:+14155552671", "To", "whatsapp:+14155238886", "ProfileName", "Ana María", "WaId", "14155552671")
	media := with(base, "NumMedia", "2",
		"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
		"MediaContentType0", "image/jpeg",
		"MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
		"MediaContentType1", "image/png")
	sms := providers.Inbound{ID: sid, Channel: config.ChannelSMS, From: "+14155552671", To: "+15005550006", Body: "Join now"}
	status := url.Values{
		"AccountSid": {testSID}, "MessageSid": {"SM22222222222222222222222222222222"}, "SmsSid": {"SM22222222222222222222222222222222"},
		"MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"}, "ErrorCode": {"30003"},
		"ErrorMessage": {"Unreachable destination handset"}, "To": {"+14155552671"}, "From": {"+15005550006"}, "ApiVersion": {"2010-04-01"},
	}
	undelivered := providers.Status{ProviderID: "SM22222222222222222222222222222222", Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"}
	formHeader := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	tamper := func(kv ...string) func(string) string {
		return func(body string) string {
			f, _ := url.ParseQuery(body)
			return with(f, kv...).Encode()
		}
	}
	webhooks := []providertest.WebhookCase{
		{Label: "sms", Path: inPath, Header: formHeader, Body: form(base), Messages: []providers.Inbound{withFields(sms, base)}, Answer: `<Response/>`},
		{Label: "duplicate delivery parses to the same id", Path: inPath, Header: formHeader, Body: form(base), Repeat: true, Messages: []providers.Inbound{sms}},
		{Label: "whatsapp with profile name", Path: inPath, Header: formHeader, Body: form(whatsapp), Messages: []providers.Inbound{
			{ID: sid, Channel: config.ChannelWhatsApp, From: "+14155552671", To: "+14155238886", Body: "Join now", ProfileName: "Ana María"}}},
		{Label: "media in order", Path: inPath, Header: formHeader, Body: form(media), Messages: []providers.Inbound{{
			ID: sid, Channel: config.ChannelSMS, From: "+14155552671", To: "+15005550006", Body: "Join now",
			Media: []string{"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2"}}}},
		{Label: "a keyword Advanced Opt-Out recognised", Source: "Twilio Help Center, Track opt-out, opt-in and help messages using the OptOutType parameter", Path: inPath, Header: formHeader,
			Body: form(with(base, "Body", "BAJA", "OptOutType", "STOP")), Messages: []providers.Inbound{func() providers.Inbound {
				i := sms
				i.Body, i.Compliance = "BAJA", providers.ComplianceOptOut
				return i
			}()}},
		{Label: "opt-in and help recognised, any case", Path: inPath, Header: formHeader,
			Body: form(with(base, "Body", "ALTA", "OptOutType", "start")), Messages: []providers.Inbound{func() providers.Inbound {
				i := sms
				i.Body, i.Compliance = "ALTA", providers.ComplianceOptIn
				return i
			}()}},
		{Label: "an OptOutType keyway does not know says nothing", Path: inPath, Header: formHeader,
			Body: form(with(base, "OptOutType", "UNKNOWN")), Messages: []providers.Inbound{sms}},
		{Label: "a shared location becomes text with its coordinates", Source: "Twilio docs, Messaging > Webhooks > request to your incoming message webhook URL (WhatsApp location: Latitude, Longitude, Address, Label)",
			Path: inPath, Header: formHeader,
			Body: form(with(whatsapp, "Body", "", "MessageType", "location", "Latitude", "37.7879277", "Longitude", "-122.3937508", "Label", "Twilio HQ", "Address", "375 Beale St")),
			Messages: []providers.Inbound{{ID: sid, Channel: config.ChannelWhatsApp, From: "+14155552671", To: "+14155238886", ProfileName: "Ana María",
				Body: "37.7879277,-122.3937508 (Twilio HQ, 375 Beale St)"}}},
		{Label: "a location without a place", Path: inPath, Header: formHeader,
			Body: form(with(whatsapp, "Body", "", "Latitude", "37.7879277", "Longitude", "-122.3937508")),
			Messages: []providers.Inbound{{ID: sid, Channel: config.ChannelWhatsApp, From: "+14155552671", To: "+14155238886", ProfileName: "Ana María",
				Body: "37.7879277,-122.3937508"}}},
		{Label: "SmsSid when MessageSid is missing", Path: inPath, Header: formHeader, Body: form(with(base, "MessageSid", "")), Messages: []providers.Inbound{sms}},
		{Label: "national number read in the default region", Path: inPath, Header: formHeader, Body: form(with(base, "From", "4155552671")), Messages: []providers.Inbound{sms}},
		{Label: "url with a query string", Path: inPath + "?tenant=acme&v=2", Header: formHeader, Body: form(base), Messages: []providers.Inbound{sms}},
		{Label: "dev mode skips the signature", Dev: true, Path: inPath, Header: formHeader, Body: form(base), Signature: providertest.NoSignature, Messages: []providers.Inbound{sms}},
		{Label: "missing signature", Path: inPath, Body: form(base), Signature: providertest.NoSignature, Status: http.StatusForbidden, ErrContains: "X-Twilio-Signature"},
		{Label: "wrong signature", Path: inPath, Body: form(base), Signature: providertest.BadSignature, Status: http.StatusForbidden},
		{Label: "body changed after signing", Path: inPath, Body: form(base), Tamper: tamper("Body", "STOP"), Status: http.StatusForbidden},
		{Label: "field added after signing", Path: inPath, Body: form(base), Tamper: tamper("Extra", "1"), Status: http.StatusForbidden},
		{Label: "signed without the query string", Path: inPath + "?tenant=acme", SignURL: providertest.DefaultPublicURL + inPath, Body: form(base), Status: http.StatusForbidden},
		{Label: "signed for another host", Path: inPath, SignURL: "https://evil.example.com" + inPath, Body: form(base), Status: http.StatusForbidden},
		{Label: "broken body with signature is malformed", Path: inPath, Body: "Body=%zz&From=%2B1", Status: http.StatusBadRequest, ErrContains: "not a form"},
		{Label: "broken body in dev mode", Dev: true, Path: inPath, Body: "Body=%zz&From=%2B1", Signature: providertest.NoSignature, Status: http.StatusBadRequest, ErrContains: "not a form"},
		{Label: "no MessageSid nor SmsSid", Path: inPath, Body: form(with(base, "MessageSid", "", "SmsSid", "")), Status: http.StatusBadRequest, ErrContains: "MessageSid"},
		{Label: "no From", Path: inPath, Body: form(with(base, "From", "")), Status: http.StatusBadRequest, ErrContains: "From"},
		{Label: "no To", Path: inPath, Body: form(with(base, "To", "")), Status: http.StatusBadRequest, ErrContains: "To"},
		{Label: "From not a number", Path: inPath, Body: form(with(base, "From", "+++")), Status: http.StatusBadRequest, ErrContains: "From"},
		{Label: "To not a number", Path: inPath, Body: form(with(base, "To", "whatsapp:x")), Status: http.StatusBadRequest, ErrContains: "To"},
		{Label: "NumMedia not a count", Path: inPath, Body: form(with(base, "NumMedia", "two")), Status: http.StatusBadRequest, ErrContains: "NumMedia"},
		{Label: "NumMedia larger than the media", Path: inPath, Body: form(with(media, "NumMedia", "3")), Status: http.StatusBadRequest, ErrContains: "MediaUrl2"},
		{Label: "NumMedia huge", Path: inPath, Body: form(with(base, "NumMedia", "1000000000")), Status: http.StatusBadRequest, ErrContains: "NumMedia"},

		{Label: "status undelivered with error", Path: stPath, Body: form(status), Statuses: []providers.Status{undelivered}},
		{Label: "status carries keyway's id from the callback", Path: stPath + "?msg=01KEYWAY", Body: form(status), Statuses: []providers.Status{{
			ProviderID: undelivered.ProviderID, Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset", MessageID: "01KEYWAY"}}},
		{Label: "status delivered without error code", Path: stPath, Body: form(with(status, "MessageStatus", "delivered", "SmsStatus", "delivered", "ErrorCode", "", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "delivered"}}},
		{Label: "status with old field names only", Path: stPath, Body: form(with(status, "MessageSid", "", "MessageStatus", "", "SmsStatus", "sent", "ErrorCode", "", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "sent"}}},
		{Label: "status opted out (21610)", Path: stPath, Body: form(with(status, "MessageStatus", "failed", "ErrorCode", "21610", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "failed", ErrorCode: 21610, ErrorMessage: "Attempt to send to unsubscribed recipient", OptedOut: true}}},
		{Label: "status with a code alone gets the code's name", Path: stPath, Body: form(with(status, "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"}}},
		{Label: "status with an unknown code keeps the code alone", Path: stPath, Body: form(with(status, "ErrorCode", "39999", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "undelivered", ErrorCode: 39999}}},
		{Label: "status outside the WhatsApp window (63016)", Source: "Twilio Error and Warning Dictionary, 63016", Path: stPath,
			Body: form(with(status, "MessageStatus", "failed", "ErrorCode", "63016", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "failed", ErrorCode: 63016,
				ErrorMessage: "Failed to send freeform message because you are outside the allowed window", OutsideWindow: true}}},
		{Label: "status dropped for a queue overflow (30001) is sent again", Source: "Twilio Error and Warning Dictionary, 30001", Path: stPath,
			Body:     form(with(status, "MessageStatus", "failed", "ErrorCode", "30001", "ErrorMessage", "")),
			Statuses: []providers.Status{{ProviderID: undelivered.ProviderID, Status: "failed", ErrorCode: 30001, ErrorMessage: "Queue overflow", Throttled: true}}},
		{Label: "status in dev mode skips the signature", Dev: true, Path: stPath, Body: form(status), Signature: providertest.NoSignature, Statuses: []providers.Status{undelivered}},
		{Label: "status missing signature", Path: stPath, Body: form(status), Signature: providertest.NoSignature, Status: http.StatusForbidden},
		{Label: "status wrong signature", Path: stPath, Body: form(status), Signature: providertest.BadSignature, Status: http.StatusForbidden},
		{Label: "status changed after signing", Path: stPath, Body: form(status), Tamper: tamper("MessageStatus", "delivered"), Status: http.StatusForbidden},
		{Label: "status without MessageSid", Path: stPath, Body: form(with(status, "MessageSid", "", "SmsSid", "")), Status: http.StatusBadRequest, ErrContains: "MessageSid"},
		{Label: "status without status", Path: stPath, Body: form(with(status, "MessageStatus", "", "SmsStatus", "")), Status: http.StatusBadRequest, ErrContains: "MessageStatus"},
		{Label: "status ErrorCode not a number", Path: stPath, Body: form(with(status, "ErrorCode", "3000x")), Status: http.StatusBadRequest, ErrContains: "ErrorCode"},
		{Label: "status broken body in dev mode", Dev: true, Path: stPath, Body: "%", Signature: providertest.NoSignature, Status: http.StatusBadRequest},
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testSID+":"+testToken))
	created := providertest.Answer{Status: http.StatusCreated, Body: `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`}
	post := func(body url.Values) []providertest.APIRequest {
		return []providertest.APIRequest{{Method: http.MethodPost, Path: apiPath, Header: map[string]string{"Authorization": auth}, Body: body.Encode()}}
	}
	hi := providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "hi"}
	hiForm := url.Values{"To": {contact}, "From": {ourSMS}, "Body": {"hi"}}
	twErr := func(status, code int, msg string) providertest.Answer {
		return providertest.Answer{Status: status, Body: `{"code":` + itoa(code) + `,"message":"` + msg + `","more_info":"https://www.twilio.com/docs/errors/` + itoa(code) + `","status":` + itoa(status) + `}`}
	}
	sends := []providertest.SendCase{
		{Label: "sms", Message: providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "Welcome!"}, Answers: []providertest.Answer{created},
			Requests: post(url.Values{"To": {contact}, "From": {ourSMS}, "Body": {"Welcome!"}}), ProviderID: "SM0123456789abcdef0123456789abcdef"},
		{Label: "channel unset is sms", Message: providers.Outbound{ID: "m1", From: ourSMS, To: contact, Body: "Hi"}, Answers: []providertest.Answer{created},
			Requests: post(url.Values{"To": {contact}, "From": {ourSMS}, "Body": {"Hi"}}), ProviderID: "SM0123456789abcdef0123456789abcdef"},
		{Label: "whatsapp with media and status callback", Message: providers.Outbound{
			ID: "m2", Channel: config.ChannelWhatsApp, From: ourWA, To: contact, Body: "Here you go",
			Media:          []string{"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"},
			StatusCallback: "https://sms.example.com/webhooks/twilio/status?msg=m2"}, Answers: []providertest.Answer{created},
			Requests: post(url.Values{"To": {"whatsapp:" + contact}, "From": {"whatsapp:" + ourWA}, "Body": {"Here you go"},
				"MediaUrl": {"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"}, "StatusCallback": {"https://sms.example.com/webhooks/twilio/status?msg=m2"}}),
			ProviderID: "SM0123456789abcdef0123456789abcdef"},
		{Label: "media only", Message: providers.Outbound{ID: "m3", Channel: config.ChannelSMS, From: ourSMS, To: contact, Media: []string{"https://cdn.example.com/a.jpg"}}, Answers: []providertest.Answer{created},
			Requests: post(url.Values{"To": {contact}, "From": {ourSMS}, "MediaUrl": {"https://cdn.example.com/a.jpg"}}), ProviderID: "SM0123456789abcdef0123456789abcdef"},
		{Label: "whatsapp template", Message: providers.Outbound{ID: "m4", Channel: config.ChannelWhatsApp, From: ourWA, To: contact,
			ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: map[string]string{"1": "Ann", "2": `say "hi"`}}, Answers: []providertest.Answer{created},
			Requests: post(url.Values{"To": {"whatsapp:" + contact}, "From": {"whatsapp:" + ourWA},
				"ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {`{"1":"Ann","2":"say \"hi\""}`}}),
			ProviderID: "SM0123456789abcdef0123456789abcdef"},
		{Label: "dev mode sends nothing", Dev: true, Message: hi, ProviderIDPattern: `^DEV[0-9a-f]{32}$`},
		{Label: "unknown channel fails", Message: providers.Outbound{Channel: "fax", From: ourSMS, To: contact, Body: "hi"}, Outcome: providertest.Failed, ErrContains: "unknown channel"},

		{Label: "503 retries later", Message: hi, Answers: []providertest.Answer{twErr(503, 0, "Service Unavailable")}, Requests: post(hiForm), Outcome: providertest.RetryLater, CheckCode: true, Status: 503},
		{Label: "429 retries later", Message: hi, Answers: []providertest.Answer{twErr(429, 20429, "Too Many Requests")}, Requests: post(hiForm), Outcome: providertest.RetryLater, CheckCode: true, Status: 429, Code: 20429},
		{Label: "400 invalid number fails", Message: hi, Answers: []providertest.Answer{twErr(400, 21211, "Invalid 'To' Phone Number")}, Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 400, Code: 21211,
			Reason: "Invalid 'To' Phone Number"},
		{Label: "400 unsubscribed recipient opts out", Message: hi, Answers: []providertest.Answer{twErr(400, 21610, "Attempt to send to unsubscribed recipient")}, Requests: post(hiForm), Outcome: providertest.OptedOut, CheckCode: true, Status: 400, Code: 21610},
		{Label: "an answer quoting the numbers shows them masked", Message: hi, Answers: []providertest.Answer{twErr(400, 21211, "The 'To' number "+contact+" is not valid (from "+strings.TrimPrefix(ourSMS, "+")+").")},
			Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 400, Code: 21211, ErrContains: "is not valid",
			Reason: "The 'To' number +14*******71 is not valid (from 15*******06)."},
		{Label: "401 fails", Message: hi, Answers: []providertest.Answer{twErr(401, 20003, "Authenticate")}, Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 401, Code: 20003},
		{Label: "non-JSON 502 retries later", Message: hi, Answers: []providertest.Answer{{Status: 502, Header: map[string]string{"Content-Type": "text/html"}, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"}},
			Requests: post(hiForm), Outcome: providertest.RetryLater, CheckCode: true, Status: 502, ErrContains: "502 Bad Gateway", Reason: "the provider answered 502 Bad Gateway"},
		{Label: "empty 504 retries later", Message: hi, Answers: []providertest.Answer{{Status: 504}}, Requests: post(hiForm), Outcome: providertest.RetryLater, CheckCode: true, Status: 504},
		{Label: "JSON 503 without status retries later", Message: hi, Answers: []providertest.Answer{{Status: 503, Body: `{"message":"down for maintenance"}`}}, Requests: post(hiForm), Outcome: providertest.RetryLater, CheckCode: true, Status: 503, ErrContains: "down for maintenance"},
		{Label: "JSON 400 that is not an object fails", Message: hi, Answers: []providertest.Answer{{Status: 400, Header: map[string]string{"Content-Type": "application/json"}, Body: `["bad"]`}}, Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 400,
			Reason: "the provider answered 400 Bad Request"},
		{Label: "JSON 400 with a code of the wrong type fails", Message: hi, Answers: []providertest.Answer{{Status: 400, Body: `{"code":"21211","status":400}`}}, Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 400},
		{Label: "connection refused retries later", Message: hi, Unreachable: true, Outcome: providertest.RetryLater, CheckCode: true, Reason: "keyway could not connect to the provider"},
		{Label: "redirect retries later", Message: hi, Answers: []providertest.Answer{{Status: 302, Header: map[string]string{"Location": "https://elsewhere.example/"}}}, Requests: post(hiForm), Outcome: providertest.RetryLater, ErrContains: "302"},
		{Label: "unreadable success is not retried", Message: hi, Answers: []providertest.Answer{{Status: 201, Header: map[string]string{"Content-Type": "text/html"}, Body: "<html>ok</html>"}}, Requests: post(hiForm), Outcome: providertest.Failed, ErrContains: "unreadable"},
		{Label: "success without sid fails", Message: hi, Answers: []providertest.Answer{{Status: 201, Body: `{"status":"queued"}`}}, Requests: post(hiForm), Outcome: providertest.Failed, CheckCode: true, Status: 201, ErrContains: "no message sid"},
	}
	providertest.Run(t, providertest.Suite{
		New: func(t *testing.T, apiBase string, dev bool) providers.Provider { return newProvider(t, dev, apiBase) },
		Sign: func(r *providers.Request) {
			f, _ := url.ParseQuery(string(r.Body))
			r.Header.Set(twilio.SignatureHeader, twilio.Sign(testToken, r.URL, f))
		},
		SignatureHeader: twilio.SignatureHeader,
		Webhooks:        webhooks,
		Sends:           sends,
		Lacks: map[providertest.Kind]string{
			providertest.SendKind(providertest.MarketingOptOut): "Twilio has no opt-out of marketing messages only",
			providertest.SendKind(providertest.OutsideWindow):   "keyway checks the WhatsApp window itself before sending through Twilio; no Twilio error is read as outside it",
			providertest.SendKind(providertest.Throttled):       "Twilio's 429 is retried later like any passing fault, not marked throttled",
		},
	})
}

// withFields returns in with the fields of form, as ParseInbound keeps them.
func withFields(in providers.Inbound, form url.Values) providers.Inbound {
	in.Fields = firsts(form)
	return in
}

func itoa(n int) string { return strconv.Itoa(n) }
