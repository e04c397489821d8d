// Package providers defines what keyway needs of a messaging provider:
// inbound and outbound message types, the Provider interface, and typed send
// errors that say whether a retry can help.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Inbound is one message a contact sent to one of our numbers.
type Inbound struct {
	Provider    string            // e.g. "twilio"
	ID          string            // the provider's message id (Twilio MessageSid)
	Channel     string            // config.ChannelSMS or config.ChannelWhatsApp
	From        string            // the contact: E.164, or as written (see config.Address)
	To          string            // our number: E.164, or a short code
	Body        string            // the text as sent
	Media       []string          // media URLs, in order
	ProfileName string            // the sender's display name, when the channel has one
	Fields      map[string]string // every field of the request, as received
	// Button is the id of the reply button, list row or template quick
	// reply the contact chose (Twilio's ButtonPayload), and Body then its
	// title as shown; empty for a typed message. A provider never drops
	// the id for the title: routing matches keywords against it first.
	Button string
}

// Outbound is one message to send.
type Outbound struct {
	ID             string // keyway's message id
	Channel        string
	From           string // our number: E.164, or a short code
	To             string // E.164, or as written (a WhatsApp user id)
	Body           string
	Media          []string
	StatusCallback string // URL the provider reports delivery status to; empty for none
	// ContentSID, when set, sends an approved template (Twilio's Content
	// API) instead of Body, with ContentVariables filling its placeholders.
	ContentSID       string
	ContentVariables map[string]string
	// Choices are the reply buttons or list the message offers; nil for
	// none. A provider gets them only when it sends them natively (see
	// ChoiceSender and Deliverable); any other gets them as numbered lines
	// in Body.
	Choices *Choices
}

// Status is a delivery status report for a message we sent.
type Status struct {
	ProviderID   string // the provider's message id
	Status       string // e.g. queued, sent, delivered, undelivered, failed
	ErrorCode    int
	ErrorMessage string
	// OptedOut says the provider refused the message because the recipient
	// opted out there (Twilio error 21610); the provider sets it from its
	// own codes, so that no one else needs to know them.
	OptedOut bool
}

// Request is a webhook request as a provider needs it to verify and parse it.
type Request struct {
	// URL is the full URL the provider called: server.public_url plus the
	// request's path and query. Forwarded headers are never consulted.
	URL    string
	Header http.Header
	Body   []byte
}

// Provider is a messaging provider. A provider package registers how to
// build it with Register; the gateway mounts its Routes and nothing else
// of it is known outside its package.
type Provider interface {
	// Name is the provider's short name, e.g. "twilio": its key under
	// providers in the config and the provider stored on messages.
	Name() string
	// Routes are the webhooks the provider calls us on.
	Routes() []Route
	// ParseInbound verifies the request's signature, then parses it. It
	// returns an error wrapping ErrSignature or ErrMalformed.
	ParseInbound(r *Request) (Inbound, error)
	// ParseStatus verifies and parses a delivery status callback; it sets
	// Status.OptedOut from the provider's own error codes.
	ParseStatus(r *Request) (Status, error)
	// Send sends one message and returns the provider's id for it. Errors
	// are *SendError when the provider answered, saying whether a retry
	// can help and whether the recipient opted out there.
	Send(ctx context.Context, m Outbound) (providerID string, err error)
	// DevNotice returns, when the provider runs in dev mode (without
	// credentials: sends are logged and stored instead of made, and
	// signatures are not checked), the warning to log at start, saying
	// what to set; it returns "" when the provider runs live.
	DevNotice() string
}

// SentFinder is implemented by a Provider that can look up the messages it
// accepted. The outbox asks it about a send whose outcome is unknown (the
// process died, or the network failed, while the provider was being
// asked), so that a message the provider took is recorded as sent instead
// of being sent twice.
type SentFinder interface {
	// FindSent returns the provider's ids of the messages it accepted from
	// m.From to m.To with m's content since since, oldest first; none when
	// it has no such message.
	FindSent(ctx context.Context, m Outbound, since time.Time) ([]string, error)
}

// ErrNoMessageLog is returned by a FindSent that cannot tell, e.g. because
// the message goes through a provider that keeps no log to look in: the
// caller sends again, at least once rather than at most once.
var ErrNoMessageLog = errors.New("the provider keeps no message log to look in")

// Sentinel errors of inbound parsing.
var (
	// ErrSignature marks a request whose signature is missing or wrong.
	ErrSignature = errors.New("bad or missing signature")
	// ErrMalformed marks a request that is not a well-formed message.
	ErrMalformed = errors.New("malformed request")
)

// SendError is a failed send, typed so that callers know whether to retry.
type SendError struct {
	Status    int  // HTTP status from the provider, 0 for network errors
	Code      int  // provider error code, e.g. Twilio 21610
	Retryable bool // a later attempt may succeed (429, 5xx, network)
	OptedOut  bool // the recipient has opted out at the provider (Twilio 21610)
	Err       error
}

// Error says what failed.
func (e *SendError) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("providers: %s send error (status %d, code %d): %v", kind, e.Status, e.Code, e.Err)
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth another attempt: a *SendError
// marked retryable, or any error that is not a *SendError (a fault on our
// side of the wire).
func IsRetryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	return err != nil
}

// Email is one email to send to staff.
type Email struct {
	ID      string // keyway's message id
	To      []string
	Subject string
	Body    string
}

// Mailer sends email. Errors are *SendError when the server answered, so
// that callers know whether to retry.
type Mailer interface {
	Mail(ctx context.Context, e Email) error
}
