package test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// Both Twilio webhooks, a message and a status callback, are answered 200
// with an empty TwiML document, <Response/>, as text/xml: nothing more.
func TestTwilioWebhooksAnswerAnEmptyResponse(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/webhooks/twilio", g.Form(Inbound{From: "+15551230301", Body: "hello"})},
		{"/webhooks/twilio/status", url.Values{"MessageSid": {"SM00000000000000000000000000000301"}, "MessageStatus": {"delivered"}}},
	} {
		req, err := http.NewRequest(http.MethodPost, g.URL+c.path, strings.NewReader(c.form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(g.Twilio.AuthToken, PublicURL+c.path, c.form))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/xml" || string(body) != "<Response/>" {
			t.Errorf("POST %s answered %d %q %q, want 200 text/xml %q", c.path, res.StatusCode, res.Header.Get("Content-Type"), body, "<Response/>")
		}
	}
}
