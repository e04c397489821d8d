package test

import (
	"net/http"
	"testing"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// A value appended to a signed body is refused (403) and nothing is stored;
// a body with a repeated field, signed by Twilio's rule, is accepted.
func TestSignatureCoversEveryValue(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, addressesConfig)
	form := twilioSMS(g, sid(20), "+15551230201", OurSMS, "JOIN")
	sig := twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form)
	headers := map[string]string{"X-Twilio-Signature": sig}
	for _, tampered := range []string{"&Body=STOP", "&From=%2B15550000000", "&Extra=1"} {
		if code, body := g.PostRaw("/webhooks/twilio", form.Encode()+tampered, headers); code != http.StatusForbidden {
			t.Fatalf("body with %s appended after signing answered %d (%s), want 403", tampered, code, body)
		}
	}
	if code, body := g.PostRaw("/webhooks/twilio", form.Encode(), headers); code != http.StatusOK {
		t.Fatalf("the signed body answered %d (%s), want 200", code, body)
	}
	if got := repliesTo(t, g, "+15551230201", 1); got[0] != "Welcome!" {
		t.Fatalf("replies %q", got)
	}

	repeated := twilioSMS(g, sid(21), "+15551230202", OurSMS, "JOIN")
	repeated["Digits"] = []string{"5678", "1234"}
	post(t, g, repeated, http.StatusOK)
	repliesTo(t, g, "+15551230202", 1)
}
