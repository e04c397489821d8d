package fakes

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Graph is a fake of the Graph API's WhatsApp Cloud API send endpoint,
// POST /{phone_number_id}/messages, on loopback. It checks the bearer
// token, records each send and answers with a wamid, or with a scripted
// Graph error.
type Graph struct {
	AccessToken string

	srv *httptest.Server

	mu       sync.Mutex
	sent     []GraphSend
	failLeft int
	failCode int
}

// GraphSend is one send the fake Graph API took.
type GraphSend struct {
	PhoneNumberID string         // from the path
	To            string         // the request's "to": digits without "+"
	Recipient     string         // the request's "recipient": a business-scoped user id
	Type          string         // text, image, template, interactive...
	Body          map[string]any // the whole request
	ID            string         // the wamid answered
}

// Text returns the text body of a text send, or the body of an interactive one.
func (s GraphSend) Text() string {
	if t, ok := s.Body["text"].(map[string]any); ok {
		b, _ := t["body"].(string)
		return b
	}
	if i, ok := s.Body["interactive"].(map[string]any); ok {
		if b, ok := i["body"].(map[string]any); ok {
			t, _ := b["text"].(string)
			return t
		}
	}
	return ""
}

// NewGraph starts a fake Graph API that accepts token; it is closed when
// the test ends.
func NewGraph(t testing.TB, token string) *Graph {
	g := &Graph{AccessToken: token}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the fake's base, for providers.meta.api_base_url.
func (g *Graph) URL() string { return g.srv.URL + "/v21.0" }

// FailNext makes the next n sends fail with Graph error code (HTTP 400).
func (g *Graph) FailNext(n, code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failLeft, g.failCode = n, code
}

// Sent returns the sends taken so far, in order.
func (g *Graph) Sent() []GraphSend {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GraphSend(nil), g.sent...)
}

func (g *Graph) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v21.0/"), "/messages")
	if r.Method != http.MethodPost || !ok || strings.Contains(id, "/") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+g.AccessToken {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"Invalid JSON","type":"OAuthException","code":100}}`)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failLeft > 0 {
		g.failLeft--
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"(#%d) refused","type":"OAuthException","code":%d,"error_data":{"messaging_product":"whatsapp","details":"refused by the fake"}}}`, g.failCode, g.failCode)
		return
	}
	s := GraphSend{PhoneNumberID: id, Body: body, ID: fmt.Sprintf("wamid.OUT%d", len(g.sent)+1)}
	s.To, _ = body["to"].(string)
	s.Recipient, _ = body["recipient"].(string)
	s.Type, _ = body["type"].(string)
	if s.To == "" && s.Recipient == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"(#100) The parameter to or recipient is required.","type":"OAuthException","code":100}}`)
		return
	}
	g.sent = append(g.sent, s)
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, s.To, s.To, s.ID)
}
