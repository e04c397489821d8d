package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// isDecodeError reports whether err says an answer was not the JSON
// expected.
func isDecodeError(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}

// lookupLimit bounds the messages FindSent reads from Twilio's log. The
// outbox sends to one recipient one message at a time, so a send in doubt
// is the last one keyway asked Twilio for between these two numbers.
const lookupLimit = 100

// FindSent looks in Twilio's message log (the Messages list, filtered by
// To and From) for m: a message created at or after since with m's body,
// or, for a template send (m.ContentSID), any message, since Twilio stores
// the rendered text. It returns their MessageSids, oldest first.
//
// The list is not filtered by DateSent: a message that Twilio has accepted
// but still holds in its queue has no date_sent yet, and it is exactly the
// one that must not be sent twice. DateCreated, which Twilio sets when it
// accepts the message, is compared instead. In dev mode nothing was sent,
// so nothing is found.
func (t *Twilio) FindSent(ctx context.Context, m providers.Outbound, since time.Time) ([]string, error) {
	if t.dev {
		return nil, nil
	}
	to, from := m.To, m.From
	if m.Channel == config.ChannelWhatsApp {
		to, from = whatsappPrefix+to, whatsappPrefix+from
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("twilio: look up a message to %s: %w", config.MaskAddress(m.To), err)
	}
	params := &openapi.ListMessageParams{}
	params.SetTo(to).SetFrom(from).SetPageSize(50).SetLimit(lookupLimit)
	list, err := t.rest.Api.ListMessage(params)
	if err != nil {
		scrubbed := &scrubbedError{text: providers.NumberMasker(m.To, m.From).Replace(err.Error()), err: err}
		var rest *client.TwilioRestError
		if errors.As(err, &rest) && rest.Status != http.StatusTooManyRequests && rest.Status < 500 ||
			!errors.As(err, &rest) && isDecodeError(err) {
			// Not a passing fault: this API has no log to read.
			return nil, fmt.Errorf("twilio: look up a message to %s: %w: %w", config.MaskAddress(m.To), providers.ErrNoMessageLog, scrubbed)
		}
		return nil, fmt.Errorf("twilio: look up a message to %s: %w", config.MaskAddress(m.To), scrubbed)
	}
	var found []sentRecord
	for _, r := range slices.Backward(list) { // Twilio lists newest first
		if r.Sid == nil || r.DateCreated == nil {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, *r.DateCreated)
		if err != nil || created.Before(since) {
			continue
		}
		if m.ContentSID == "" && (r.Body == nil || *r.Body != m.Body) {
			continue
		}
		found = append(found, sentRecord{sid: *r.Sid, created: created})
	}
	slices.SortStableFunc(found, func(a, b sentRecord) int { return a.created.Compare(b.created) })
	sids := make([]string, len(found))
	for i, r := range found {
		sids[i] = r.sid
	}
	t.log.Debug().Str("id", m.ID).Str("to", config.MaskAddress(m.To)).Int("read", len(list)).Int("found", len(sids)).
		Msg("twilio: looked in the message log for an earlier attempt")
	return sids, nil
}

// sentRecord is a message of Twilio's log that matches a lookup.
type sentRecord struct {
	sid     string
	created time.Time
}

var _ providers.SentFinder = (*Twilio)(nil)
