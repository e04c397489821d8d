// Package fakeprovider is a messaging provider that exists only to prove
// the providers seam: a provider plugs into keyway through the providers
// registry alone, with its own config section, routes, wire format and
// error mapping, and nothing else in keyway knows it. The end-to-end tests
// build keyway with -tags keywaytest, which compiles it in
// (cmd/keyway/providers_keywaytest.go); the released binary never has it.
//
// Its wire format is deliberately unlike Twilio's. Webhooks are JSON
// (InboundMessage, StatusReport) signed in SignatureHeader with Sign; each
// send is a SentMessage posted as signed JSON to send_url, which answers
// 200 with {"id": "..."} or an error answer whose reason
// "recipient_opted_out" marks an opt-out; a signed GET of send_url?id=ID
// lists the ids of the sends that carried keyway's message id ID (FindSent):
//
//	providers:
//	  fake:
//	    secret: "s3cret"
//	    send_url: "http://127.0.0.1:9000/send"
//	    numbers:
//	      - { number: "+15005550077", channel: sms }
package fakeprovider

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Name is the provider's name and its key under providers.
const Name = "fake"

// Webhook paths and the signature header.
const (
	InboundPath     = "/webhooks/fake"
	StatusPath      = "/webhooks/fake/status"
	SignatureHeader = "X-Fake-Signature"
)

// ReasonOptedOut is the reason a status report or a send's answer gives
// for a recipient who opted out at the provider.
const ReasonOptedOut = "recipient_opted_out"

// answer is what a webhook the gateway took is answered with.
const answer = `{"ok":true}`

// Settings are the keys of providers.fake besides numbers.
type Settings struct {
	Secret  string `yaml:"secret"`   // signs webhooks and sends
	SendURL string `yaml:"send_url"` // where sends are posted
}

// InboundMessage is the body of an inbound webhook.
type InboundMessage struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Text    string `json:"text"`
	Channel string `json:"channel,omitempty"` // sms (default) or whatsapp
}

// StatusReport is the body of a status webhook.
type StatusReport struct {
	ID     string `json:"id"`     // the id send_url gave the message
	State  string `json:"state"`  // e.g. delivered, failed
	Reason string `json:"reason"` // why it failed; ReasonOptedOut for an opt-out
}

// SentMessage is the body posted to send_url for each send.
type SentMessage struct {
	ID       string   `json:"id"` // keyway's message id
	Channel  string   `json:"channel"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Text     string   `json:"text"`
	Media    []string `json:"media,omitempty"`
	Callback string   `json:"callback,omitempty"` // the status webhook to report to
}

// SendAnswer is the body send_url answers with: the provider's id on
// success, a reason otherwise.
type SendAnswer struct {
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Sign returns the signature of a request with body to url: the hex
// HMAC-SHA256, keyed with secret, of the URL, a newline and the body.
func Sign(secret, url string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(url + "\n"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func init() {
	providers.Register(providers.Registration{Name: Name, New: fromConfig, CheckConfig: check})
}

// check checks providers.fake at load: both settings are needed.
func check(c *config.Config, s *config.ProviderSection) config.Problems {
	var set Settings
	ps := c.DecodeSection(s, &set)
	if set.Secret == "" {
		ps = append(ps, c.Problemf(s.Path, "%s: missing secret", s.Path))
	}
	if u, err := url.Parse(set.SendURL); set.SendURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps = append(ps, c.Problemf(s.Path+".send_url", "%s: send_url must be an absolute http(s) URL, got %q", s.Path, set.SendURL))
	}
	return ps
}

// Fake is the fake provider. It is safe for concurrent use.
type Fake struct {
	set    Settings
	region string
	log    zerolog.Logger
	client *http.Client
}

// fromConfig builds the provider when the config has providers.fake.
func fromConfig(cfg *config.Config, log zerolog.Logger) (providers.Provider, error) {
	set, _, ok, err := providers.DecodeSettings[Settings](cfg, Name)
	if !ok || err != nil {
		return nil, err
	}
	return &Fake{
		set: set, region: cfg.Defaults.Region,
		log:    log.With().Str("provider", Name).Logger(),
		client: &http.Client{Timeout: 10 * time.Second},
	}, nil
}

// Name returns "fake".
func (f *Fake) Name() string { return Name }

// Routes returns the inbound and status webhooks, answered with JSON.
func (f *Fake) Routes() []providers.Route {
	return []providers.Route{
		{Method: http.MethodPost, Path: InboundPath, Kind: providers.RouteInbound, ContentType: "application/json", Answer: answer},
		{Method: http.MethodPost, Path: StatusPath, Kind: providers.RouteStatus, ContentType: "application/json", Answer: answer},
	}
}

// DevNotice returns "": the fake always runs live.
func (f *Fake) DevNotice() string { return "" }

// Parse verifies and parses a request on one of the fake's routes: one
// message on the inbound route, one status on the status route.
func (f *Fake) Parse(route providers.Route, r *providers.Request) (providers.Batch, error) {
	switch route.Kind {
	case providers.RouteInbound:
		in, err := f.ParseInbound(r)
		if err != nil {
			return providers.Batch{}, err
		}
		return providers.Batch{Messages: []providers.Inbound{in}}, nil
	case providers.RouteStatus:
		s, err := f.ParseStatus(r)
		if err != nil {
			return providers.Batch{}, err
		}
		return providers.Batch{Statuses: []providers.Status{s}}, nil
	}
	return providers.Batch{}, fmt.Errorf("fake: no webhook of kind %q", route.Kind)
}

// ParseInbound verifies the signature, then reads an InboundMessage.
func (f *Fake) ParseInbound(r *providers.Request) (providers.Inbound, error) {
	var m InboundMessage
	if err := f.verifiedJSON(r, "inbound", &m); err != nil {
		return providers.Inbound{}, err
	}
	if m.ID == "" || m.From == "" || m.To == "" {
		return providers.Inbound{}, fmt.Errorf("fake: inbound: id, from and to are required: %w", providers.ErrMalformed)
	}
	in := providers.Inbound{
		Provider: Name, ID: m.ID, Channel: config.ChannelSMS, Body: m.Text,
		Fields: map[string]string{"id": m.ID, "from": m.From, "to": m.To, "text": m.Text},
	}
	switch m.Channel {
	case "", config.ChannelSMS:
	case config.ChannelWhatsApp:
		in.Channel = config.ChannelWhatsApp
	default:
		return providers.Inbound{}, fmt.Errorf("fake: inbound %s: unknown channel %q: %w", m.ID, m.Channel, providers.ErrMalformed)
	}
	var err error
	if in.From, err = config.E164(m.From, f.region); err != nil {
		return providers.Inbound{}, fmt.Errorf("fake: inbound %s: from: %v: %w", m.ID, err, providers.ErrMalformed)
	}
	if in.To, err = config.E164(m.To, f.region); err != nil {
		return providers.Inbound{}, fmt.Errorf("fake: inbound %s: to: %v: %w", m.ID, err, providers.ErrMalformed)
	}
	return in, nil
}

// ParseStatus verifies the signature, then reads a StatusReport; the
// reason ReasonOptedOut sets Status.OptedOut.
func (f *Fake) ParseStatus(r *providers.Request) (providers.Status, error) {
	var s StatusReport
	if err := f.verifiedJSON(r, "status", &s); err != nil {
		return providers.Status{}, err
	}
	if s.ID == "" || s.State == "" {
		return providers.Status{}, fmt.Errorf("fake: status: id and state are required: %w", providers.ErrMalformed)
	}
	return providers.Status{ProviderID: s.ID, Status: s.State, ErrorMessage: s.Reason, OptedOut: s.Reason == ReasonOptedOut}, nil
}

// verifiedJSON checks the signature of r, then decodes its body into v.
func (f *Fake) verifiedJSON(r *providers.Request, kind string, v any) error {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return fmt.Errorf("fake: %s: no %s header: %w", kind, SignatureHeader, providers.ErrSignature)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(f.set.Secret, r.URL, r.Body))) {
		return fmt.Errorf("fake: %s: signature does not match %s: %w", kind, r.URL, providers.ErrSignature)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("fake: %s: body is not JSON: %v: %w", kind, err, providers.ErrMalformed)
	}
	return nil
}

// SentIDs is the body send_url answers a lookup with: the ids it gave the
// sends that carried keyway's message id.
type SentIDs struct {
	IDs []string `json:"ids"`
}

// FindSent asks send_url which sends carried m's keyway id: a signed GET
// of send_url?id=ID (the signature covers that URL and an empty body),
// answered with SentIDs. Unlike Twilio's log, the fake's is keyed by the id
// each send carries, so since is not needed.
func (f *Fake) FindSent(ctx context.Context, m providers.Outbound, _ time.Time) ([]string, error) {
	u, err := url.Parse(f.set.SendURL)
	if err != nil {
		return nil, fmt.Errorf("fake: look up %s: %w", m.ID, err)
	}
	q := u.Query()
	q.Set("id", m.ID)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fake: look up %s: %w", m.ID, err)
	}
	req.Header.Set(SignatureHeader, Sign(f.set.Secret, u.String(), nil))
	res, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fake: look up %s: %w", m.ID, err)
	}
	defer res.Body.Close()
	var a SentIDs
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fake: look up %s: status %d", m.ID, res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&a); err != nil {
		return nil, fmt.Errorf("fake: look up %s: %w", m.ID, err)
	}
	return a.IDs, nil
}

var _ providers.SentFinder = (*Fake)(nil)

// Send posts m to send_url as a signed SentMessage. A network error, 429
// and 5xx can be retried; an answer with ReasonOptedOut is a permanent
// opt-out; any other error answer is permanent.
func (f *Fake) Send(ctx context.Context, m providers.Outbound) (string, error) {
	body, err := json.Marshal(SentMessage{ID: m.ID, Channel: m.Channel, From: m.From, To: m.To, Text: m.Body, Media: m.Media, Callback: m.StatusCallback})
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("fake: send %s: %w", m.ID, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.set.SendURL, bytes.NewReader(body))
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("fake: send %s: %w", m.ID, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(f.set.Secret, f.set.SendURL, body))
	res, err := f.client.Do(req)
	if err != nil {
		return "", &providers.SendError{Retryable: true, Unreached: providers.Unreached(err), Err: fmt.Errorf("fake: send %s: %w", m.ID, err)}
	}
	defer res.Body.Close()
	var a SendAnswer
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if err == nil {
		err = json.Unmarshal(raw, &a)
	}
	switch {
	case res.StatusCode/100 == 2 && err == nil && a.ID != "":
		f.log.Debug().Str("id", m.ID).Str("provider_id", a.ID).Msg("fake: message sent")
		return a.ID, nil
	case res.StatusCode/100 == 2:
		// The message may have been taken: another attempt could repeat it.
		return "", &providers.SendError{Status: res.StatusCode, Err: fmt.Errorf("fake: send %s: answer without an id: %q", m.ID, raw)}
	}
	return "", &providers.SendError{
		Status:    res.StatusCode,
		Retryable: a.Reason != ReasonOptedOut && (res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500),
		OptedOut:  a.Reason == ReasonOptedOut,
		Err:       fmt.Errorf("fake: send %s: %d %s", m.ID, res.StatusCode, cmp.Or(a.Reason, http.StatusText(res.StatusCode))),
	}
}

var _ providers.Provider = (*Fake)(nil)
