// Package providers defines what keyway needs of a messaging provider:
// inbound and outbound message types, the Provider interface, and typed send
// errors that say whether a retry can help.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	// SentAt is when the contact sent the message, when the provider says
	// (Meta's timestamp); zero when it does not.
	SentAt time.Time
	// Compliance is the compliance word the provider itself recognised in
	// the message and acted on (Twilio's Advanced Opt-Out: OptOutType):
	// ComplianceOptOut, ComplianceOptIn or ComplianceHelp; empty when it
	// says nothing. keyway takes the message as that word even when its
	// own list lacks it.
	Compliance string
}

// The compliance words a provider may recognise itself (Inbound.Compliance).
const (
	ComplianceOptOut = "opt_out"
	ComplianceOptIn  = "opt_in"
	ComplianceHelp   = "help"
)

// Batch is what one webhook request carries: a provider may deliver several
// messages and delivery statuses in one request (Meta does), and keyway
// handles all of them in one commit.
type Batch struct {
	Messages []Inbound
	Statuses []Status
	// Ignored are the items of the request keyway does not handle (a
	// reaction, a system message, a field it does not subscribe to): they
	// are recorded at debug level and the request is answered as taken.
	Ignored []Ignored
	// Answer, when set, is the body to answer the request with instead of
	// its route's Answer, as text/plain (a verification handshake's
	// challenge).
	Answer string
}

// Ignored is one item of a webhook that keyway does not handle.
type Ignored struct {
	Kind   string // what it is, e.g. "reaction", "system", "field account_update"
	ID     string // the provider's id of it, when it has one
	Reason string // why it is not handled
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
	// Template, when set, sends an approved WhatsApp template by name, as
	// the WhatsApp Cloud API takes it, instead of Body.
	Template *Template
	// Choices are the reply buttons or list the message offers; nil for
	// none. A provider gets them only when it sends them natively (see
	// ChoiceSender and Deliverable); any other gets them as numbered lines
	// in Body.
	Choices *Choices
}

// Template is an approved WhatsApp template sent by name: its language
// code (e.g. "en_US") and the values of its body parameters, in order.
type Template struct {
	Name      string   `json:"name"`
	Language  string   `json:"language"`
	Variables []string `json:"variables,omitempty"`
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
	// MarketingOptOut says the provider refused the message because the
	// recipient stopped messages that do not answer its own (Meta 131050);
	// keyway then stops sending the contact anything that is not an
	// answer, as it does when a send is refused so (SendError).
	MarketingOptOut bool
	// OutsideWindow says the provider refused a free-form message outside
	// the WhatsApp 24-hour window (Meta 131047, Twilio 63016): keyway
	// closes the recipient's window, unless it has written since.
	OutsideWindow bool
	// Throttled says the provider took the message and then dropped it for
	// its rate limits (Meta 130429 and the other throttling codes, Vonage
	// 1000, Twilio 30001 "queue overflow"): keyway sends it again later,
	// with backoff, as it does a send refused so.
	Throttled bool
	// MessageID is keyway's id of the message, when the report carries it
	// (the status callback keyway asks for has it in its query as msg).
	MessageID string
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
	// Parse verifies the signature of a request on route (one of Routes),
	// then parses everything it carries: messages, delivery statuses
	// (Status.OptedOut set from the provider's own error codes) and the
	// items keyway ignores. It returns an error wrapping ErrSignature or
	// ErrMalformed. Callers go through ParseWebhook.
	Parse(route Route, r *Request) (Batch, error)
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

// ConsoleLinker is implemented by a Provider whose web console has a page
// for each message: the dashboard links a message's provider id there. A
// provider without such a page does not implement it, and the id shows as
// plain text.
type ConsoleLinker interface {
	// ConsoleURL returns the console page of the message whose provider id
	// is id, or "" when there is none (dev mode, or an id the provider did
	// not give).
	ConsoleURL(id string) string
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
	// ErrUnauthorized marks a request whose bearer token is missing or
	// wrong (Vonage's signed JWT). It wraps ErrSignature, so that it is
	// one, and is answered 401 instead of 403.
	ErrUnauthorized = fmt.Errorf("%w: bad or missing bearer token", ErrSignature)
	// ErrVerifyToken marks a verification handshake (Meta's GET with
	// hub.verify_token) whose token is missing or is not the one
	// configured. It wraps ErrSignature, so that it is answered 403, with
	// a body that says the token does not match.
	ErrVerifyToken = fmt.Errorf("%w: the verify token does not match", ErrSignature)
	// ErrNotHandshake marks a request on a verification route that is not
	// a subscription handshake (no subscribe mode, or no challenge to
	// answer). It wraps ErrMalformed, so that it is answered 400.
	ErrNotHandshake = fmt.Errorf("%w: not a subscription handshake", ErrMalformed)
)

// SendError is a failed send, typed so that callers know whether to retry
// and what else it means. The provider maps its own error codes onto these
// outcomes, so that nobody else needs to know them.
type SendError struct {
	Status    int  // HTTP status from the provider, 0 for network errors
	Code      int  // provider error code, e.g. Twilio 21610
	Retryable bool // a later attempt may succeed (429, 5xx, network)
	OptedOut  bool // the recipient has opted out at the provider (Twilio 21610)
	// Throttled says the provider refused the send for its rate (Meta
	// 130429): it is also Retryable, and the sender number should slow
	// down.
	Throttled bool
	// OutsideWindow says the provider refused a free-form message outside
	// the WhatsApp 24-hour window (Meta 131047): not retryable; keyway
	// closes the contact's window as if it had seen it closed itself.
	OutsideWindow bool
	// MarketingOptOut says the recipient stopped messages that do not
	// answer their own (Meta 131050): not retryable; keyway stops sending
	// the contact anything that is not an answer.
	MarketingOptOut bool
	// Unreached says the request never reached the provider: the
	// connection to it could not be made (refused, no route, no such
	// host), so it cannot have the message. It is Retryable, and unlike
	// other network errors leaves no doubt about whether the message went.
	Unreached bool
	// Reason is why the send failed in words for the people who sent it:
	// the provider's own explanation (Twilio's message, Meta's error
	// details, Vonage's problem title and detail, the mail server's
	// reply), or keyway's when it refused the send itself, with phone
	// numbers masked; empty when neither says more than Err. Err keeps
	// the whole story, for the log and the admin API.
	Reason string
	Err    error
}

// Unreached reports whether err, from sending a request over HTTP, says
// the request never left: its connection could not be made. A failure
// after the connection was made (reset, timeout, a broken kept-alive
// connection) may have come after the provider took the request.
func Unreached(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Error says what failed.
func (e *SendError) Error() string {
	kind := "permanent"
	switch {
	case e.Throttled:
		kind = "throttled"
	case e.Retryable:
		kind = "retryable"
	case e.OutsideWindow:
		kind = "outside the WhatsApp window"
	case e.OptedOut || e.MarketingOptOut:
		kind = "opted out"
	}
	return fmt.Sprintf("providers: %s send error (status %d, code %d): %v", kind, e.Status, e.Code, e.Err)
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.Err }

// ReasonTakenUnknown is the Reason of a send the provider may have taken
// but answered without saying which message it is: keyway cannot follow
// it, and does not send it again lest it go twice.
const ReasonTakenUnknown = "the provider may have taken it but did not say which message it is, so it is not sent again"

// Reason says why a send failed with err, in plain words for the people
// who look at it (the dashboard): the provider's own reason when it gave
// one, else what keyway knows of the failure. The error itself, with
// where it came from, is for the log and the admin API.
func Reason(err error) string {
	var se *SendError
	if !errors.As(err, &se) {
		return "keyway could not send it (its log says why)"
	}
	switch {
	case se.Reason != "":
		return se.Reason
	case se.Unreached:
		return "keyway could not connect to the provider"
	case se.Status != 0 && http.StatusText(se.Status) != "":
		return fmt.Sprintf("the provider answered %d %s", se.Status, http.StatusText(se.Status))
	case se.Status != 0:
		return fmt.Sprintf("the provider answered %d", se.Status)
	case se.Retryable:
		return "no answer from the provider"
	}
	return "keyway could not send it (its log says why)"
}

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
