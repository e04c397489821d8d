package fakes

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Vonage is a fake of the Vonage Messages API's send endpoint, POST
// /v1/messages, on loopback. It checks HTTP basic auth with the API key and
// secret, records each send and answers 202 with a message_uuid, or with
// the error answers a test scripts (Answer).
type Vonage struct {
	APIKey    string
	APISecret string

	srv *httptest.Server

	mu      sync.Mutex
	sent    []VonageSend
	answers []VonageAnswer
	refused int // requests refused for their credentials
}

// VonageSend is one send the fake took (answered 202).
type VonageSend struct {
	From      string // digits without "+", as Vonage takes them
	To        string
	Text      string
	Channel   string
	ClientRef string // keyway's message id
	UUID      string // the message_uuid answered
}

// VonageAnswer is a scripted error answer: an HTTP status and a problem
// (RFC 7807) whose type ends in "#" and the code, as the Messages API
// answers.
type VonageAnswer struct {
	Status int
	Code   int
	Title  string
}

// NewVonage starts a fake Messages API that accepts key and secret; it is
// closed when the test ends.
func NewVonage(t testing.TB, key, secret string) *Vonage {
	v := &Vonage{APIKey: key, APISecret: secret}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

// URL is the fake's base, for providers.vonage.api_base_url.
func (v *Vonage) URL() string { return v.srv.URL }

// Answer queues error answers: the next sends get them in order, each send
// one, before sends are taken again.
func (v *Vonage) Answer(answers ...VonageAnswer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.answers = append(v.answers, answers...)
}

// Sent returns the sends taken so far, in order.
func (v *Vonage) Sent() []VonageSend {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]VonageSend(nil), v.sent...)
}

// SentTo returns the texts taken for to (digits without "+"), in order.
func (v *Vonage) SentTo(to string) []string {
	var out []string
	for _, s := range v.Sent() {
		if s.To == to {
			out = append(out, s.Text)
		}
	}
	return out
}

// Refused returns how many requests were refused for their credentials.
func (v *Vonage) Refused() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refused
}

func (v *Vonage) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		v.problem(w, http.StatusNotFound, "https://developer.vonage.com/api-errors#not-found", "Not Found")
		return
	}
	if key, secret, ok := r.BasicAuth(); !ok || key != v.APIKey || secret != v.APISecret {
		v.mu.Lock()
		v.refused++
		v.mu.Unlock()
		v.problem(w, http.StatusUnauthorized, "https://developer.vonage.com/api-errors#unauthorized", "Unauthorized")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var m struct {
		MessageType string `json:"message_type"`
		Text        string `json:"text"`
		To          string `json:"to"`
		From        string `json:"from"`
		Channel     string `json:"channel"`
		ClientRef   string `json:"client_ref"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.MessageType != "text" || m.To == "" || m.From == "" {
		v.problem(w, http.StatusUnprocessableEntity, "https://developer.nexmo.com/api-errors/messages-olympus#1020", "Invalid params")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.answers) > 0 {
		a := v.answers[0]
		v.answers = v.answers[1:]
		v.problem(w, a.Status, fmt.Sprintf("https://developer.nexmo.com/api-errors/messages-olympus#%d", a.Code), a.Title)
		return
	}
	s := VonageSend{From: m.From, To: m.To, Text: m.Text, Channel: m.Channel, ClientRef: m.ClientRef,
		UUID: fmt.Sprintf("aaaaaaaa-bbbb-4ccc-8ddd-%012d", len(v.sent)+1)}
	v.sent = append(v.sent, s)
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"message_uuid":%q}`, s.UUID)
}

// problem answers an RFC 7807 problem, as the Messages API does.
func (v *Vonage) problem(w http.ResponseWriter, status int, typ, title string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":%q,"title":%q,"detail":"answered by the fake Vonage API","instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}`, typ, title)
}
