// Package providertest is the test harness every messaging provider passes,
// in the spirit of courier's handlertest. A provider package hands it a
// Suite: raw webhook requests (bodies and headers as the provider posts
// them, signed, badly signed or unsigned) with the messages, statuses and
// HTTP answers keyway must make of them, and sends with the fake API's
// answers, the API requests each send must make and what each answer means
// to keyway (sent, retry later, failed, opted out, outside the WhatsApp
// window, throttled). Run drives every case through the provider's real
// routes and parsing (providers.ParseWebhook, as the gateway calls it) and
// its real sender, pointed at a fake API on loopback.
//
//	func TestHarness(t *testing.T) {
//		providertest.Run(t, providertest.Suite{New: build, Sign: sign, SignatureHeader: "X-Acme-Signature",
//			Webhooks: webhookCases, Sends: sendCases})
//	}
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// DefaultPublicURL is server.public_url the webhooks of a Suite without
// one reach and are signed for.
const DefaultPublicURL = "https://keyway.example"

// APIBase is the API base URL the provider of a webhook case is built with:
// nothing is sent to it (a closed port), but what a provider derives from
// it, e.g. a media URL, shows in the messages it parses.
const APIBase = "http://127.0.0.1:1"

// Suite is a provider under test and its cases.
type Suite struct {
	// New builds the provider under test with its API at apiBase (the
	// harness's fake API, on loopback), with credentials, or without
	// them (dev mode) when dev is set.
	New func(t *testing.T, apiBase string, dev bool) providers.Provider
	// PublicURL is where the provider calls keyway: webhooks reach it
	// plus their path; DefaultPublicURL when empty.
	PublicURL string
	// Sign signs r (its URL, Header and Body set) as the provider does,
	// with the credentials New gives it, setting SignatureHeader.
	Sign            func(r *providers.Request)
	SignatureHeader string
	Webhooks        []WebhookCase
	Sends           []SendCase
	// Lacks are the kinds of case (Kinds) the provider has no such thing
	// for, each with why (e.g. OutsideWindow: "SMS only, no WhatsApp
	// window"). Run fails when a kind has no case and is not here, or is
	// here and has one.
	Lacks map[Kind]string
}

// Signature says how the harness signs a webhook case.
type Signature int

// The ways a webhook case is signed.
const (
	// Signed: as the provider signs, with the provider's secret.
	Signed Signature = iota
	// BadSignature: signed, then one character of the signature changed.
	BadSignature
	// NoSignature: without the signature header.
	NoSignature
)

// WebhookCase is one webhook request and what keyway must make of it.
type WebhookCase struct {
	Label string
	// Source says where the payload comes from (e.g. "Meta WhatsApp Cloud
	// API docs, Webhooks > Messages > Text").
	Source string
	Dev    bool   // the provider runs without credentials
	Method string // http.MethodPost when empty
	// Path is the route's path, with a query when the request has one;
	// the route must be one the provider declares.
	Path      string
	Header    map[string]string
	Body      string
	Signature Signature
	// SignURL, when set, is the URL signed instead of the request's.
	SignURL string
	// Tamper, when set, changes the body after it was signed.
	Tamper func(body string) string
	// Repeat posts the request a second time: it must parse the same, so
	// that keyway, which handles a message id once, drops the repeat.
	Repeat bool

	// Status is the HTTP answer keyway gives (200 when zero); ErrContains
	// a part of the error text when it is not 200.
	Status      int
	ErrContains string
	// Refusal, when set, is a part of the body keyway answers a refused
	// request with (providers.WebhookRefusal), which the caller reads.
	Refusal string
	// Messages and Statuses are what the request carries, in order. A
	// message's Provider defaults to the provider's name; its Fields are
	// compared only when set.
	Messages []providers.Inbound
	Statuses []providers.Status
	// Ignored are the kinds of the items keyway ignores, in order;
	// IgnoredBecause, when set, a part of each one's reason.
	Ignored, IgnoredBecause []string
	// Answer, when set, is the body of a 200 answer.
	Answer string
}

// Outcome is what a send's result means to keyway.
type Outcome string

// The outcomes of a send.
const (
	Sent            Outcome = "sent"
	RetryLater      Outcome = "retry later"
	Failed          Outcome = "failed"
	OptedOut        Outcome = "opted out"
	MarketingOptOut Outcome = "opted out of messages that are not answers"
	OutsideWindow   Outcome = "outside the WhatsApp window"
	Throttled       Outcome = "throttled"
)

// OutcomeOf classifies the result of a send: nil is Sent; a
// *providers.SendError is the outcome its flags say; any other error can be
// retried.
func OutcomeOf(err error) Outcome {
	var se *providers.SendError
	switch {
	case err == nil:
		return Sent
	case !errors.As(err, &se):
		return RetryLater
	case se.Throttled:
		return Throttled
	case se.OutsideWindow:
		return OutsideWindow
	case se.MarketingOptOut:
		return MarketingOptOut
	case se.OptedOut:
		return OptedOut
	case se.Retryable:
		return RetryLater
	}
	return Failed
}

// Answer is one answer of the fake API.
type Answer struct {
	Status int // 200 when zero
	Header map[string]string
	Body   string
}

// APIRequest is a request the fake API must receive.
type APIRequest struct {
	Method string
	// Path is the request's path, with its query when it has one.
	Path string
	// Header holds headers the request must carry (others may be there).
	Header map[string]string
	// Body is compared as JSON when the request is JSON, as a form when it
	// is a form, else byte for byte.
	Body string
}

// SendCase is one send, the fake API's answers, and what keyway must make
// of them.
type SendCase struct {
	Label   string
	Source  string // where the error answers come from
	Dev     bool
	Message providers.Outbound
	// Answers are the fake API's answers, in order (the last repeats);
	// none is 200 with an empty JSON object.
	Answers []Answer
	// Unreachable points the provider at a closed port instead: the send
	// must fail as SendError.Unreached.
	Unreachable bool
	// Requests are the requests the send must make, in order.
	Requests []APIRequest
	// ProviderID is the id a successful send returns; ProviderIDPattern a
	// regular expression it must match instead.
	ProviderID        string
	ProviderIDPattern string
	Outcome           Outcome // Sent when empty
	// Status and Code are those of the *providers.SendError, when checked
	// (CheckCode).
	Status, Code int
	CheckCode    bool
	ErrContains  string
	// Reason, when set, is what providers.Reason must say of the send's
	// error: the words a person reads on the dashboard.
	Reason string
}

// Run runs every case of s as a subtest, after checking that s has a case
// of every kind the provider has (Kinds, Lacks).
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.New == nil || s.Sign == nil || s.SignatureHeader == "" {
		t.Fatal("providertest: a Suite needs New, Sign and SignatureHeader")
	}
	if s.PublicURL == "" {
		s.PublicURL = DefaultPublicURL
	}
	for _, msg := range s.coverage() {
		t.Errorf("providertest: %s", msg)
	}
	t.Run("webhooks", func(t *testing.T) {
		for _, c := range s.Webhooks {
			t.Run(c.Label, func(t *testing.T) { s.webhook(t, c) })
		}
	})
	t.Run("sends", func(t *testing.T) {
		for _, c := range s.Sends {
			t.Run(c.Label, func(t *testing.T) { s.send(t, c) })
		}
	})
}

// webhook runs one webhook case.
func (s Suite) webhook(t *testing.T, c WebhookCase) {
	p := s.New(t, APIBase, c.Dev)
	method := c.Method
	if method == "" {
		method = http.MethodPost
	}
	path, _, _ := strings.Cut(c.Path, "?")
	var route providers.Route
	found := false
	for _, r := range p.Routes() {
		if r.Method == method && r.Path == path {
			route, found = r, true
		}
	}
	if !found {
		t.Fatalf("%s does not declare %s %s", p.Name(), method, path)
	}
	req := &providers.Request{URL: strings.TrimRight(s.PublicURL, "/") + c.Path, Header: http.Header{}, Body: []byte(c.Body)}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	signed := *req
	if c.SignURL != "" {
		signed.URL = c.SignURL
	}
	s.Sign(&signed)
	switch c.Signature {
	case Signed:
		req.Header = signed.Header
	case BadSignature:
		req.Header = signed.Header
		req.Header.Set(s.SignatureHeader, corrupt(signed.Header.Get(s.SignatureHeader)))
	case NoSignature:
		req.Header = signed.Header
		req.Header.Del(s.SignatureHeader)
	}
	if c.Tamper != nil {
		req.Body = []byte(c.Tamper(c.Body))
	}
	first := s.checkWebhook(t, p, route, req, c)
	if c.Repeat {
		again := s.checkWebhook(t, p, route, req, c)
		if !reflect.DeepEqual(first, again) {
			t.Errorf("the same request parsed twice differs:\n%+v\n%+v", first, again)
		}
	}
}

// checkWebhook parses req on route as the gateway does and checks what it
// carries and how keyway answers.
func (s Suite) checkWebhook(t *testing.T, p providers.Provider, route providers.Route, req *providers.Request, c WebhookCase) providers.Batch {
	t.Helper()
	b, err := providers.ParseWebhook(p, route, req)
	wantStatus := c.Status
	if wantStatus == 0 {
		wantStatus = http.StatusOK
	}
	if got := providers.WebhookStatus(err); got != wantStatus {
		t.Fatalf("answered %d (error %v), want %d", got, err, wantStatus)
	}
	if err != nil {
		if !strings.HasPrefix(err.Error(), p.Name()+": ") {
			t.Errorf("error %q does not start with %q", err, p.Name()+": ")
		}
		if !strings.Contains(err.Error(), c.ErrContains) {
			t.Errorf("error %q does not mention %q", err, c.ErrContains)
		}
		if body := providers.WebhookRefusal(err); !strings.Contains(body, c.Refusal) {
			t.Errorf("refused with the body %q, want one that says %q", body, c.Refusal)
		}
		if wantStatus == http.StatusBadRequest && errors.Is(err, providers.ErrSignature) {
			t.Errorf("error %v is both malformed and a signature error", err)
		}
		return b
	}
	answer := route.Answer
	if b.Answer != "" {
		answer = b.Answer
	}
	if c.Answer != "" && answer != c.Answer {
		t.Errorf("answer = %q, want %q", answer, c.Answer)
	}
	if len(b.Messages) != len(c.Messages) {
		t.Errorf("got %d messages, want %d:\n%+v", len(b.Messages), len(c.Messages), b.Messages)
	}
	for i := range min(len(b.Messages), len(c.Messages)) {
		got, want := b.Messages[i], c.Messages[i]
		if want.Provider == "" {
			want.Provider = p.Name()
		}
		if want.Fields == nil {
			got.Fields = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d =\n%#v\nwant\n%#v", i, got, want)
		}
	}
	if !reflect.DeepEqual(b.Statuses, c.Statuses) && (len(b.Statuses) > 0 || len(c.Statuses) > 0) {
		t.Errorf("statuses =\n%+v\nwant\n%+v", b.Statuses, c.Statuses)
	}
	var ignored []string
	for _, ig := range b.Ignored {
		ignored = append(ignored, ig.Kind)
	}
	if !reflect.DeepEqual(ignored, c.Ignored) && (len(ignored) > 0 || len(c.Ignored) > 0) {
		t.Errorf("ignored = %q, want %q", ignored, c.Ignored)
	}
	for i, why := range c.IgnoredBecause {
		if i >= len(b.Ignored) || !strings.Contains(b.Ignored[i].Reason, why) {
			t.Errorf("ignored = %+v, want item %d's reason to say %q", b.Ignored, i, why)
		}
	}
	return b
}

// corrupt changes one character of a signature, keeping its form.
func corrupt(sig string) string {
	b := []byte(sig)
	for i := len(b) - 1; i >= 0; i-- {
		switch {
		case b[i] == '=':
			continue
		case b[i] == '0':
			b[i] = '1'
		default:
			b[i] = '0'
		}
		return string(b)
	}
	return "0"
}

// fakeAPI answers with a case's answers and records every request.
type fakeAPI struct {
	mu       sync.Mutex
	answers  []Answer
	requests []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, recorded{method: r.Method, path: r.URL.RequestURI(), header: r.Header.Clone(), body: body})
	a := Answer{Body: "{}"}
	if len(f.answers) > 0 {
		a = f.answers[min(n, len(f.answers)-1)]
	}
	f.mu.Unlock()
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" && strings.HasPrefix(strings.TrimSpace(a.Body), "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// send runs one send case.
func (s Suite) send(t *testing.T, c SendCase) {
	api := &fakeAPI{answers: c.Answers}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	base := srv.URL
	if c.Unreachable {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base = "http://" + l.Addr().String()
		l.Close()
	}
	p := s.New(t, base, c.Dev)
	id, err := p.Send(context.Background(), c.Message)
	want := c.Outcome
	if want == "" {
		want = Sent
	}
	if got := OutcomeOf(err); got != want {
		t.Errorf("outcome = %s (error %v), want %s", got, err, want)
	}
	var se *providers.SendError
	switch {
	case err == nil:
		if c.ProviderIDPattern != "" && !regexp.MustCompile(c.ProviderIDPattern).MatchString(id) {
			t.Errorf("provider id = %q, want one matching %s", id, c.ProviderIDPattern)
		} else if c.ProviderIDPattern == "" && id != c.ProviderID {
			t.Errorf("provider id = %q, want %q", id, c.ProviderID)
		}
	case errors.As(err, &se):
		if c.CheckCode && (se.Status != c.Status || se.Code != c.Code) {
			t.Errorf("error status %d code %d, want %d and %d", se.Status, se.Code, c.Status, c.Code)
		}
		if (se.Throttled && !se.Retryable) || ((se.OutsideWindow || se.OptedOut || se.MarketingOptOut) && se.Retryable) {
			t.Errorf("error %+v: throttled must be retryable, refusals must not", *se)
		}
		// A send that could not connect never reached the provider, and
		// says so: any other may have.
		if se.Unreached != c.Unreachable || (se.Unreached && !se.Retryable) {
			t.Errorf("error %+v: unreached %v, want %v (and retryable)", *se, se.Unreached, c.Unreachable)
		}
	}
	if err != nil {
		if !strings.HasPrefix(err.Error(), p.Name()+": ") && !strings.Contains(err.Error(), " "+p.Name()+": ") {
			t.Errorf("error %q does not name %s", err, p.Name())
		}
		if !strings.Contains(err.Error(), c.ErrContains) {
			t.Errorf("error %q does not mention %q", err, c.ErrContains)
		}
		if n, ok := shownNumber(err.Error(), c.Message.To, c.Message.From); ok {
			t.Errorf("error %q shows the whole number %s", err, n)
		}
		// The reason shown to people is in plain words: not the error's
		// chain of where it came from.
		reason := providers.Reason(err)
		if reason == "" || strings.Contains(reason, p.Name()+": ") || strings.Contains(reason, "providers: ") {
			t.Errorf("reason %q of error %q is not in plain words", reason, err)
		}
		if c.Reason != "" && reason != c.Reason {
			t.Errorf("reason = %q, want %q", reason, c.Reason)
		}
		if n, ok := shownNumber(reason, c.Message.To, c.Message.From); ok {
			t.Errorf("reason %q shows the whole number %s", reason, n)
		}
	}
	api.mu.Lock()
	got := api.requests
	api.mu.Unlock()
	if len(got) != len(c.Requests) {
		t.Errorf("the API got %d requests, want %d", len(got), len(c.Requests))
	}
	for i := range min(len(got), len(c.Requests)) {
		if msg := c.Requests[i].check(got[i]); msg != "" {
			t.Errorf("request %d: %s", i, msg)
		}
	}
}

// shownNumber returns the first of numbers that text shows whole, as
// written or without its "+", and whether there is one. Numbers of 6
// characters or fewer (short codes) are not looked for: their digits can
// stand in other words.
func shownNumber(text string, numbers ...string) (string, bool) {
	for _, n := range numbers {
		bare := n
		if i := strings.LastIndexByte(bare, ':'); i >= 0 {
			bare = bare[i+1:] // whatsapp:+1555…
		}
		bare = strings.TrimPrefix(bare, "+")
		if len(bare) > 6 && strings.Contains(text, bare) {
			return n, true
		}
	}
	return "", false
}

// check says how r differs from the request wanted, or "".
func (w APIRequest) check(r recorded) string {
	var diffs []string
	if r.method != w.Method || r.path != w.Path {
		diffs = append(diffs, fmt.Sprintf("%s %s, want %s %s", r.method, r.path, w.Method, w.Path))
	}
	for k, v := range w.Header {
		if got := r.header.Get(k); got != v {
			diffs = append(diffs, fmt.Sprintf("header %s = %q, want %q", k, got, v))
		}
	}
	if !sameBody(r.header.Get("Content-Type"), r.body, []byte(w.Body)) {
		diffs = append(diffs, fmt.Sprintf("body\n%s\nwant\n%s", r.body, w.Body))
	}
	return strings.Join(diffs, "; ")
}

// sameBody compares two bodies as their content type reads them.
func sameBody(contentType string, got, want []byte) bool {
	switch {
	case strings.HasPrefix(contentType, "application/json"):
		var g, w any
		return json.Unmarshal(got, &g) == nil && json.Unmarshal(want, &w) == nil && reflect.DeepEqual(g, w)
	case strings.HasPrefix(contentType, "application/x-www-form-urlencoded"):
		g, gerr := url.ParseQuery(string(got))
		w, werr := url.ParseQuery(string(want))
		return gerr == nil && werr == nil && reflect.DeepEqual(g, w)
	}
	return string(got) == string(want)
}

// ParseConfig parses src as a config file k.yaml, with no environment,
// and returns it with its errors, one a line.
func ParseConfig(t *testing.T, src string) (*config.Config, string) {
	t.Helper()
	cfg, ps := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
	var lines []string
	for _, p := range ps.Errors() {
		lines = append(lines, p.String())
	}
	return cfg, strings.Join(lines, "\n")
}
