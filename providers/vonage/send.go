package vonage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// message is the body of POST /v1/messages for a text on SMS.
type message struct {
	MessageType string `json:"message_type"`
	Text        string `json:"text"`
	To          string `json:"to"`
	From        string `json:"from"`
	Channel     string `json:"channel"`
	ClientRef   string `json:"client_ref,omitempty"`
}

// Messages API error codes keyway treats apart from "failed with the code
// recorded". Source: Vonage API Errors, Messages API
// (https://developer.vonage.com/en/api-errors/messages). Codes are read from
// a problem's title when it is a number (status webhooks) or from the
// "#code" fragment of its type URL (send answers, whose title is words).
//
// A recipient who opted out at Vonage (Opt-out Assist, "Messaging
// Opted-out Numbers",
// https://developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers)
// is not refused by the send: Vonage takes it (202) and reports it later as
// a rejected status with an error. keyway opts the contact out from the
// contact's own STOP, which Vonage passes on.
const (
	// codeThrottled: the account's submission capacity is exceeded; wait
	// and retry. Throttling whatever the HTTP status says.
	codeThrottled = 1000
	// codeBarred: the recipient's number is barred and may not receive
	// messages. Like WhatsApp's marketing opt-out, keyway stops sending it
	// what does not answer its own messages, and fails the message with
	// the code; an answer to the contact is still tried.
	codeBarred = 1050
)

// problem is Vonage's error answer (RFC 7807 problem details).
type problem struct {
	Type   string          `json:"type"`
	Title  json.RawMessage `json:"title"`
	Detail string          `json:"detail"`
}

// Send posts o to {api_base_url}/v1/messages with HTTP basic auth and
// returns the message_uuid Vonage answers 202 with. keyway's id goes as
// client_ref, which Vonage's status webhooks carry back. Errors are
// *providers.SendError: 429 or code 1000 is throttled (retried with
// backoff), code 1050 (a barred number) stops messages that are not
// answers to the contact, 5xx and network errors are retried, any other
// answer fails the message with Vonage's code. Choices arrive already written into the body as numbered
// lines (SMS has no buttons). In dev mode nothing is sent.
func (v *Vonage) Send(ctx context.Context, o providers.Outbound) (string, error) {
	masked := config.MaskAddress(o.To)
	if o.Channel != "" && o.Channel != config.ChannelSMS {
		return "", &providers.SendError{Reason: fmt.Sprintf("keyway sends through Vonage on sms only, not %q", o.Channel),
			Err: fmt.Errorf("vonage: send to %s: keyway sends through Vonage on sms only, not %q", masked, o.Channel)}
	}
	if len(o.Media) > 0 || o.ContentSID != "" {
		return "", &providers.SendError{Reason: "keyway sends text only through Vonage SMS (no media, no templates)",
			Err: fmt.Errorf("vonage: send to %s: keyway sends text only through Vonage SMS (no media, no templates)", masked)}
	}
	body, err := json.Marshal(message{MessageType: "text", Text: o.Body, To: wire(o.To), From: wire(o.From), Channel: "sms", ClientRef: o.ID})
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("vonage: send to %s: %w", masked, err)}
	}
	if v.dev {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := "dev-" + hex.EncodeToString(b[:])
		v.log.Info().Str("id", o.ID).Str("message_uuid", id).Str("from", config.MaskAddress(o.From)).Str("to", masked).Msg("vonage: dev mode, message not sent")
		v.log.Debug().Str("id", o.ID).Str("body", o.Body).Msg("vonage: dev mode message body")
		return id, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.base+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("vonage: send to %s: %w", masked, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(v.set.APIKey, v.set.APISecret)
	res, err := v.client.Do(req)
	if err != nil {
		return "", &providers.SendError{Retryable: true, Unreached: providers.Unreached(err),
			Err: fmt.Errorf("vonage: send to %s: %s", masked, strings.ReplaceAll(err.Error(), v.set.APISecret, "***"))}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		var a struct {
			MessageUUID string `json:"message_uuid"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || a.MessageUUID == "" {
			// Vonage took it (2xx) but we cannot tell which message it is:
			// sending again could send it twice, so it is not retried.
			return "", &providers.SendError{Status: res.StatusCode, Reason: providers.ReasonTakenUnknown,
				Err: fmt.Errorf("vonage: send to %s: answer %d without a message_uuid", masked, res.StatusCode)}
		}
		return a.MessageUUID, nil
	}
	var p problem
	_ = json.Unmarshal(raw, &p)
	title := strings.Trim(string(p.Title), `"`)
	// Vonage may quote the numbers of the message it refused.
	scrub := providers.NumberMasker(o.To, o.From)
	said := scrub.Replace(strings.TrimSpace(strings.TrimSuffix(title+": "+p.Detail, ": ")))
	what := said
	if what == "" {
		what = scrub.Replace(strings.TrimSpace(string(raw)))
	}
	se := &providers.SendError{Status: res.StatusCode, Code: errorCode(p.Type, p.Title), Reason: said,
		Err: fmt.Errorf("vonage: send to %s: answer %d: %s", masked, res.StatusCode, what)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests, se.Code == codeThrottled:
		se.Throttled, se.Retryable = true, true
	case se.Code == codeBarred:
		se.MarketingOptOut = true
	case res.StatusCode >= 500:
		se.Retryable = true
	}
	return "", se
}

// FindSent cannot tell: the Messages API has no endpoint that lists the
// messages sent, so a send in doubt after a crash is sent again (Vonage
// sends are at least once).
func (v *Vonage) FindSent(context.Context, providers.Outbound, time.Time) ([]string, error) {
	return nil, fmt.Errorf("vonage: %w", providers.ErrNoMessageLog)
}

// wire writes an address as Vonage takes it: a phone number's digits
// without "+", anything else as it is.
func wire(addr string) string { return strings.TrimPrefix(addr, "+") }

var _ providers.SentFinder = (*Vonage)(nil)
