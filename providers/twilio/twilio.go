// Package twilio is keyway's Twilio provider: it verifies and parses Twilio's
// SMS and WhatsApp webhooks and sends messages through Twilio's Messages API
// with twilio-go. Without credentials it runs in dev mode: signatures are not
// checked and sends are logged instead of made.
package twilio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Name is the provider's name, as in providers.Inbound.Provider.
const Name = "twilio"

// sendTimeout bounds one call to the Messages API; twilio-go takes no context.
const sendTimeout = 15 * time.Second

// codeOptedOut is Twilio's error for a recipient who replied STOP to the
// sender: "Attempt to send to unsubscribed recipient".
const codeOptedOut = 21610

// codeQueueOverflow is Twilio's error, in a status callback, for a message
// it took and then dropped because the number's queue overflowed: "try
// sending your message again after waiting some time".
const codeQueueOverflow = 30001

// codeOutsideWindow is Twilio's error for a free-form WhatsApp message
// outside the 24-hour window, reported in the status callback: "Failed to
// send freeform message because you are outside the allowed window".
const codeOutsideWindow = 63016

// Twilio is the Twilio provider. It is safe for concurrent use.
type Twilio struct {
	dev        bool
	accountSID string
	authToken  string
	region     string
	log        zerolog.Logger
	rest       *twiliogo.RestClient
	base       *url.URL // api_base_url; nil for Twilio's own API
	signer     signer   // checks webhook signatures (inbound.go)
}

// defaultIdleConns is how many idle connections to the Messages API the
// provider keeps unless told otherwise: the outbox's default workers.
const defaultIdleConns = 64

// Option changes how New builds the provider.
type Option func(*options)

type options struct {
	idleConns int
}

// WithIdleConns keeps up to n idle connections to the Messages API (default
// 64): one per send that may be under way at once, so that sends reuse
// their connections instead of opening one each.
func WithIdleConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.idleConns = n
		}
	}
}

// New returns the Twilio provider for account c. region reads numbers that
// Twilio sends without a country code (defaults.region). Credentials come
// from c only, never from TWILIO_* environment variables, and requests go to
// c.APIBaseURL (https://api.twilio.com when empty). With no account sid or no
// auth token the provider is in dev mode.
func New(c config.Twilio, region string, log zerolog.Logger, opts ...Option) (*Twilio, error) {
	o := options{idleConns: defaultIdleConns}
	for _, opt := range opts {
		opt(&o)
	}
	base, err := parseBase(c.APIBaseURL)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Go keeps 2 idle connections per host by default: with more sends at
	// once, most would open a new connection (and TLS session) each.
	transport.MaxIdleConns = o.idleConns
	transport.MaxIdleConnsPerHost = o.idleConns
	httpClient := &http.Client{
		Transport: &apiTransport{base: base, next: transport, user: c.AccountSID, pass: c.AuthToken},
		Timeout:   sendTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	api := &client.Client{
		Credentials: client.NewCredentials(placeholderAuth, placeholderAuth),
		HTTPClient:  httpClient,
	}
	api.SetAccountSid(c.AccountSID)
	rest := twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: api})
	// The request handler reads TWILIO_EDGE and TWILIO_REGION; keyway's
	// destination is api_base_url alone.
	rest.SetEdge("")
	rest.SetRegion("")
	return &Twilio{
		dev:        c.DevMode(),
		accountSID: c.AccountSID,
		authToken:  c.AuthToken,
		region:     region,
		log:        log.With().Str("provider", Name).Logger(),
		rest:       rest,
		base:       base,
	}, nil
}

// Name returns "twilio".
func (t *Twilio) Name() string { return Name }

// DevMode reports whether the provider runs without credentials: signatures
// are not checked and Send logs messages instead of sending them.
func (t *Twilio) DevMode() bool { return t.dev }

// Send sends m through Twilio's Messages API and returns its MessageSid. On
// the WhatsApp channel both numbers get Twilio's "whatsapp:" prefix. A failed
// send is a *providers.SendError: retryable on 429, 5xx and network errors,
// permanent on other 4xx, and marked OptedOut on Twilio error 21610. In dev
// mode nothing is sent and the id is "DEV" followed by 32 hex digits.
func (t *Twilio) Send(ctx context.Context, m providers.Outbound) (string, error) {
	maskedTo := config.MaskAddress(m.To)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("twilio: send to %s: %w", maskedTo, err)
	}
	to, from := m.To, m.From
	switch m.Channel {
	case config.ChannelSMS, "":
	case config.ChannelWhatsApp:
		to, from = whatsappPrefix+to, whatsappPrefix+from
	default:
		return "", &providers.SendError{Reason: fmt.Sprintf("keyway sends through Twilio on sms and whatsapp, not %q", m.Channel),
			Err: fmt.Errorf("twilio: send to %s: unknown channel %q", maskedTo, m.Channel)}
	}
	if m.Template != nil && m.ContentSID == "" {
		return "", &providers.SendError{Reason: "Twilio sends WhatsApp templates by content_sid, and this one has a name and language (a WhatsApp Cloud API template)",
			Err: fmt.Errorf("twilio: send to %s: template %q is a WhatsApp Cloud API template (name and language); Twilio sends templates by content_sid", maskedTo, m.Template.Name)}
	}
	if t.dev {
		return t.devSend(m)
	}

	params := &openapi.CreateMessageParams{}
	params.SetTo(to).SetFrom(from)
	if m.Body != "" {
		params.SetBody(m.Body)
	}
	if len(m.Media) > 0 {
		params.SetMediaUrl(m.Media)
	}
	if m.ContentSID != "" {
		params.SetContentSid(m.ContentSID)
		if len(m.ContentVariables) > 0 {
			vars, err := json.Marshal(m.ContentVariables)
			if err != nil {
				return "", &providers.SendError{Err: fmt.Errorf("twilio: send to %s: content variables: %w", maskedTo, err)}
			}
			params.SetContentVariables(string(vars))
		}
	}
	if m.StatusCallback != "" {
		params.SetStatusCallback(m.StatusCallback)
	}
	res, err := t.rest.Api.CreateMessageWithMetadata(params)
	if err != nil {
		return "", classify(t.apiError(err), m)
	}
	if code := res.GetStatusCode(); code < 200 || code > 299 {
		return "", &providers.SendError{Status: code, Err: fmt.Errorf("twilio: send to %s: unexpected HTTP status %d", maskedTo, code)}
	}
	msg := res.GetResource()
	if msg.Sid == nil || *msg.Sid == "" {
		return "", &providers.SendError{Status: res.GetStatusCode(), Reason: providers.ReasonTakenUnknown,
			Err: fmt.Errorf("twilio: send to %s: answer has no message sid", maskedTo)}
	}
	t.log.Debug().Str("id", m.ID).Str("sid", *msg.Sid).Str("channel", channelOf(m)).
		Str("from", config.MaskAddress(m.From)).Str("to", maskedTo).Msg("twilio: message sent")
	return *msg.Sid, nil
}

// devSend logs m instead of sending it and returns a fake MessageSid.
func (t *Twilio) devSend(m providers.Outbound) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("twilio: dev send to %s: %w", config.MaskAddress(m.To), err)
	}
	sid := "DEV" + hex.EncodeToString(b[:])
	// The body is not logged here: the outbox logs every sent body once, at
	// debug level, in dev mode as in live.
	t.log.Info().Str("id", m.ID).Str("sid", sid).Str("channel", channelOf(m)).
		Str("from", config.MaskAddress(m.From)).Str("to", config.MaskAddress(m.To)).
		Int("media", len(m.Media)).Str("content_sid", m.ContentSID).Msg("twilio: dev mode, message not sent")
	return sid, nil
}

// apiError returns err with the URL it names moved to api_base_url: the
// HTTP client names the request as twilio-go made it, for api.twilio.com,
// although apiTransport sent it to the configured base, and a log that
// blames api.twilio.com for a proxy's refusal misleads.
func (t *Twilio) apiError(err error) error {
	var ue *url.Error
	if t.base == nil || !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return err
	}
	c := *ue
	c.URL = rebase(t.base, u).String()
	return &c
}

// channelOf names the channel of m, sms when unset.
func channelOf(m providers.Outbound) string {
	if m.Channel == "" {
		return config.ChannelSMS
	}
	return m.Channel
}

// classify turns an error of twilio-go into a *providers.SendError. Twilio's
// error text is kept, with m's numbers masked in it.
func classify(err error, m providers.Outbound) error {
	where := "twilio: send to " + config.MaskAddress(m.To)
	scrub := providers.NumberMasker(m.To, m.From)
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return &providers.SendError{
			Status:    rest.Status,
			Code:      rest.Code,
			Retryable: rest.Code != codeOptedOut && (rest.Status == http.StatusTooManyRequests || rest.Status >= 500),
			OptedOut:  rest.Code == codeOptedOut,
			Reason:    said(scrub.Replace(rest.Message)),
			Err:       &scrubbedError{text: where + ": " + scrub.Replace(rest.Error()), err: err},
		}
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) {
		// Only a 2xx or 3xx answer gets this far: error answers are made
		// decodable by apiTransport. Twilio may have taken the message, so
		// another attempt could send it twice.
		return &providers.SendError{
			Reason: providers.ReasonTakenUnknown,
			Err:    &scrubbedError{text: where + ": unreadable answer (not retried, the message may have been taken): " + scrub.Replace(err.Error()), err: err},
		}
	}
	return &providers.SendError{
		Retryable: true,
		Unreached: providers.Unreached(err),
		Err:       &scrubbedError{text: where + ": " + scrub.Replace(err.Error()), err: err},
	}
}

// said is Twilio's message as the Reason of a send error: empty when it
// is not Twilio's words but the start of a body that was not a Twilio
// error (a proxy's HTML page, some other JSON), which tells a person
// nothing.
func said(message string) string {
	message = strings.TrimSpace(message)
	if message == "" || strings.ContainsAny(message[:1], "<[{") {
		return ""
	}
	return message
}

// scrubbedError is an error whose text has been cleaned of phone numbers; it
// unwraps to the original.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

var _ providers.Provider = (*Twilio)(nil)
