package vonage

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// clockSkew is how far the JWT's exp, nbf and iat may be off our clock.
const clockSkew = 2 * time.Minute

// maxTokenAge is how long after its iat a webhook's JWT is taken (plus
// clockSkew), exp or not: a token carries no exp, so without a bound one
// seen once would be good forever. Vonage retries a webhook it could not
// deliver for 24 hours; its documents say it signs each attempt as it
// sends it (an attempt it could not sign is retried signed), but not that
// the JWT is new each time, so a day is allowed: a retry that carried the
// first attempt's token is still taken, rather than refused with a 401
// that Vonage would not retry. Within the day a replayed token only
// replays its own body (payload_hash), whose message_uuid is a duplicate.
const maxTokenAge = 24 * time.Hour

// claims are the claims of the JWT Vonage signs a webhook with.
type claims struct {
	PayloadHash string `json:"payload_hash"`
	jwt.RegisteredClaims
}

// Sign returns the Authorization header value Vonage puts on a webhook
// with body: a bearer JWT, HS256 with secret, whose payload_hash claim is
// the hex SHA-256 of body, issued at iat. Tests and tools sign with it.
func Sign(secret string, body []byte, iat time.Time) string {
	sum := sha256.Sum256(body)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		PayloadHash:      hex.EncodeToString(sum[:]),
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "Vonage", IssuedAt: jwt.NewNumericDate(iat), ID: strconv.FormatInt(iat.UnixNano(), 36)},
	})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		panic(fmt.Sprintf("vonage: signing a JWT: %v", err)) // HS256 with a []byte key does not fail
	}
	return "Bearer " + s
}

// verify checks the bearer JWT of r: HS256 with the signature secret, not
// expired, issued (iat) neither ahead of our clock nor more than
// maxTokenAge ago, and a payload_hash that is the SHA-256 of the body.
// Errors wrap providers.ErrUnauthorized.
func (v *Vonage) verify(r *providers.Request, kind string) error {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return fmt.Errorf("vonage: %s: no Authorization: Bearer JWT: %w", kind, providers.ErrUnauthorized)
	}
	var c claims
	_, err := jwt.ParseWithClaims(strings.TrimSpace(token), &c, func(*jwt.Token) (any, error) { return []byte(v.set.SignatureSecret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithLeeway(clockSkew), jwt.WithIssuedAt(), jwt.WithStrictDecoding(), jwt.WithTimeFunc(v.now))
	if err != nil {
		return fmt.Errorf("vonage: %s: JWT refused: %v: %w", kind, err, providers.ErrUnauthorized)
	}
	switch {
	case c.IssuedAt == nil:
		return fmt.Errorf("vonage: %s: the JWT has no iat: %w", kind, providers.ErrUnauthorized)
	case v.now().Sub(c.IssuedAt.Time) > maxTokenAge+clockSkew:
		return fmt.Errorf("vonage: %s: the JWT was issued at %s, more than %s ago: %w",
			kind, c.IssuedAt.UTC().Format(time.RFC3339), maxTokenAge, providers.ErrUnauthorized)
	}
	sum := sha256.Sum256(r.Body)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(c.PayloadHash)), []byte(hex.EncodeToString(sum[:]))) != 1 {
		return fmt.Errorf("vonage: %s: the JWT's payload_hash does not match the body: %w", kind, providers.ErrUnauthorized)
	}
	return nil
}

// inbound is an inbound message webhook (Messages API).
type inbound struct {
	Channel     string `json:"channel"`
	MessageUUID string `json:"message_uuid"`
	// To, From and Timestamp are strings; a number is taken as the
	// digits written, rather than refusing a message Vonage would not
	// send again once its retries run out.
	To          providers.NumericString `json:"to"`
	From        providers.NumericString `json:"from"`
	Timestamp   providers.NumericString `json:"timestamp"`
	Text        string                  `json:"text"`
	MessageType string                  `json:"message_type"`
}

// status is a message status webhook (Messages API).
type status struct {
	MessageUUID string `json:"message_uuid"`
	Status      string `json:"status"`
	ClientRef   string `json:"client_ref"`
	Timestamp   string `json:"timestamp"`
	Error       *struct {
		Type   string          `json:"type"`
		Title  json.RawMessage `json:"title"`
		Detail string          `json:"detail"`
	} `json:"error"`
}

// statuses maps Vonage's SMS statuses to keyway's. On SMS a message ends
// delivered or rejected (with an error object); undeliverable means Vonage
// could not reach the messaging provider at all, which is as final for
// that message (Vonage, "Messages API Status Callbacks",
// https://developer.vonage.com/en/messages/concepts/messages-status-callbacks).
var statuses = map[string]string{
	"submitted":     "sent",
	"delivered":     "delivered",
	"rejected":      "failed",
	"undeliverable": "undelivered",
	"accepted":      "accepted",
	"failed":        "failed",
}

// Parse verifies the JWT of a request (unless in dev mode), then parses an
// inbound SMS on the inbound route or a status on the status route.
// Errors wrap providers.ErrUnauthorized or providers.ErrMalformed.
func (v *Vonage) Parse(route providers.Route, r *providers.Request) (providers.Batch, error) {
	kind := string(route.Kind)
	if route.Kind != providers.RouteInbound && route.Kind != providers.RouteStatus {
		return providers.Batch{}, fmt.Errorf("vonage: no webhook of kind %q", route.Kind)
	}
	if !v.dev {
		if err := v.verify(r, kind); err != nil {
			return providers.Batch{}, err
		}
	}
	if route.Kind == providers.RouteStatus {
		return v.parseStatus(r.Body)
	}
	return v.parseInbound(r.Body)
}

// parseInbound parses an inbound message: a text on SMS, or an item keyway
// ignores (another channel or message type).
func (v *Vonage) parseInbound(body []byte) (providers.Batch, error) {
	var m inbound
	if err := json.Unmarshal(body, &m); err != nil {
		return providers.Batch{}, fmt.Errorf("vonage: inbound: body is not a JSON message: %v: %w", err, providers.ErrMalformed)
	}
	if m.MessageUUID == "" {
		return providers.Batch{}, fmt.Errorf("vonage: inbound: no message_uuid: %w", providers.ErrMalformed)
	}
	if m.Channel != "" && m.Channel != "sms" {
		return providers.Batch{Ignored: []providers.Ignored{{Kind: "channel " + m.Channel, ID: m.MessageUUID, Reason: "keyway takes SMS from Vonage"}}}, nil
	}
	if m.MessageType != "" && m.MessageType != "text" {
		return providers.Batch{Ignored: []providers.Ignored{{Kind: m.MessageType, ID: m.MessageUUID, Reason: "not a text message"}}}, nil
	}
	in := providers.Inbound{Provider: Name, ID: m.MessageUUID, Channel: config.ChannelSMS, Body: m.Text}
	var err error
	if in.From, err = v.address(string(m.From)); err != nil {
		return providers.Batch{}, fmt.Errorf("vonage: inbound %s: from %s: %v: %w", m.MessageUUID, config.MaskAddress(string(m.From)), err, providers.ErrMalformed)
	}
	if in.To, err = v.address(string(m.To)); err != nil {
		return providers.Batch{}, fmt.Errorf("vonage: inbound %s: to %s: %v: %w", m.MessageUUID, config.MaskAddress(string(m.To)), err, providers.ErrMalformed)
	}
	in.SentAt = sentAt(string(m.Timestamp))
	return providers.Batch{Messages: []providers.Inbound{in}}, nil
}

// timestampLayouts are the ways Vonage writes a message's time: RFC 3339
// in the Messages API, "2025-02-03 12:14:25" (UTC, with or without its
// offset) in its older webhooks.
var timestampLayouts = []string{time.RFC3339, "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05"}

// sentAt reads an inbound message's timestamp; the zero time when it has
// none keyway can read. A message whose time is unreadable is still the
// contact's message: refusing it would lose it, as Vonage gives up after
// its retries.
func sentAt(ts string) time.Time {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, strings.TrimSpace(ts)); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// parseStatus parses a message status, with its error code when it has
// one: a rejected message's code is recorded, and 1050 (a barred number)
// stops messages that are not answers to the contact, as the same code
// does in a send's answer.
func (v *Vonage) parseStatus(body []byte) (providers.Batch, error) {
	var s status
	if err := json.Unmarshal(body, &s); err != nil {
		return providers.Batch{}, fmt.Errorf("vonage: status: body is not a JSON status: %v: %w", err, providers.ErrMalformed)
	}
	if s.MessageUUID == "" {
		return providers.Batch{}, fmt.Errorf("vonage: status: no message_uuid: %w", providers.ErrMalformed)
	}
	if s.Status == "" {
		return providers.Batch{}, fmt.Errorf("vonage: status %s: no status: %w", s.MessageUUID, providers.ErrMalformed)
	}
	st := providers.Status{ProviderID: s.MessageUUID, Status: s.Status, MessageID: s.ClientRef}
	if mapped, ok := statuses[s.Status]; ok {
		st.Status = mapped
	}
	if s.Error != nil {
		st.ErrorCode = errorCode(s.Error.Type, s.Error.Title)
		st.MarketingOptOut = st.ErrorCode == codeBarred
		st.Throttled = st.ErrorCode == codeThrottled
		st.ErrorMessage = s.Error.Detail
		if st.ErrorMessage == "" {
			st.ErrorMessage = strings.Trim(string(s.Error.Title), `"`)
		}
	}
	return providers.Batch{Statuses: []providers.Status{st}}, nil
}

// errorCode reads Vonage's numeric error code from a problem's title (a
// number, or a number in a string) or else the fragment of its type URL
// ("...api-errors/messages-olympus#1050"); 0 when neither holds one.
func errorCode(typ string, title json.RawMessage) int {
	if n, err := strconv.Atoi(strings.Trim(string(title), `" `)); err == nil {
		return n
	}
	if _, frag, ok := strings.Cut(typ, "#"); ok {
		if n, err := strconv.Atoi(frag); err == nil {
			return n
		}
	}
	return 0
}

// address reads a Vonage number: international digits without "+" are a
// phone number in E.164; a short code or an alphanumeric sender is kept as
// written.
func (v *Vonage) address(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) > 8 && allDigits(s) {
		s = "+" + s
	}
	a, _, err := config.InboundAddress(s, v.region, config.ChannelSMS)
	if err != nil {
		// config's error quotes the whole number: say what it is not instead.
		return "", errors.New("not a phone number, a short code nor an alphanumeric sender")
	}
	return a, nil
}

// allDigits reports whether s is ASCII digits only.
func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
