// Package fakes holds stand-ins for the outside services keyway talks to, for
// tests that run the real keyway binary against them on loopback.
package fakes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// Default credentials of a fake Twilio account.
const (
	// DefaultAccountSID is the account sid a new fake Twilio accepts.
	DefaultAccountSID = "AC00000000000000000000000000000000"
	// DefaultAuthToken is the auth token a new fake Twilio accepts.
	DefaultAuthToken = "testtoken"
)

// Message is one message the fake Twilio accepted.
type Message struct {
	SID            string // "SM" followed by 32 hex digits
	To             string // as posted, e.g. "+15005550006" or "whatsapp:+15005550006"
	From           string
	Body           string
	Media          []string // the MediaUrl values, in order
	StatusCallback string
	At             time.Time // when it was accepted

	// ContentSID and ContentVariables are a template send's (Twilio's
	// Content API): the sid and the variables' JSON object, as posted.
	ContentSID       string
	ContentVariables string
}

// Twilio is a fake of Twilio's Messages API: it accepts
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json with basic auth,
// records each message and answers like Twilio. Failures can be scripted
// with FailNext.
//
// The server starts on the first call to URL; set AccountSID and AuthToken
// before that. The other methods are safe for concurrent use.
type Twilio struct {
	// AccountSID is the account the fake accepts, in the path and as the
	// basic auth user. It defaults to DefaultAccountSID.
	AccountSID string
	// AuthToken is the basic auth password the fake accepts. It defaults to
	// DefaultAuthToken.
	AuthToken string

	srv   *httptest.Server
	start sync.Once

	mu         sync.Mutex
	sent       []Message
	requests   int
	failLeft   int
	failStatus int
	failCode   int
}

// NewTwilio returns a fake Twilio with the default credentials. It is closed
// when the test ends.
func NewTwilio(t testing.TB) *Twilio {
	t.Helper()
	f := &Twilio{AccountSID: DefaultAccountSID, AuthToken: DefaultAuthToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", f.createMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	f.srv = httptest.NewUnstartedServer(f.scripted(mux))
	t.Cleanup(f.srv.Close)
	return f
}

// URL starts the server if it is not running yet and returns its base URL,
// for providers.twilio.api_base_url.
func (f *Twilio) URL() string {
	f.start.Do(f.srv.Start)
	return f.srv.URL
}

// FailNext makes the next n requests fail with HTTP status and a Twilio JSON
// error body carrying code, e.g. FailNext(1, 400, 21610) for an opted-out
// recipient or FailNext(2, 503, 0) for an outage. It replaces any failure
// still scripted.
func (f *Twilio) FailNext(n, status, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLeft, f.failStatus, f.failCode = n, status, code
}

// Requests counts every request the fake received, failed ones included.
func (f *Twilio) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Sent returns a copy of the messages accepted so far, oldest first.
func (f *Twilio) Sent() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Message, len(f.sent))
	for i, m := range f.sent {
		m.Media = append([]string(nil), m.Media...)
		out[i] = m
	}
	return out
}

// WaitSent waits until at least n messages have been accepted and returns
// them all; after timeout it fails the test, listing what it has. Call it from
// the test's goroutine.
func (f *Twilio) WaitSent(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		sent := f.Sent()
		if len(sent) >= n {
			return sent
		}
		select {
		case <-poll.C:
			continue
		case <-deadline:
		}
		if sent = f.Sent(); len(sent) >= n {
			return sent
		}
		var b strings.Builder
		for i, m := range sent {
			fmt.Fprintf(&b, "\n  %d: %s -> %s: %q media=%v content=%s %s", i, m.From, m.To, m.Body, m.Media, m.ContentSID, m.ContentVariables)
		}
		t.Fatalf("fakes: waited %v for %d Twilio messages, got %d (%d requests):%s", timeout, n, len(sent), f.Requests(), b.String())
		return sent
	}
}

// scripted counts every request and fails those FailNext asked for.
func (f *Twilio) scripted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		fail := f.failLeft > 0
		status, code := f.failStatus, f.failCode
		if fail {
			f.failLeft--
		}
		f.mu.Unlock()
		if fail {
			writeError(w, status, code, fmt.Sprintf("fakes: scripted failure (HTTP %d, code %d)", status, code))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// createMessage is POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
func (f *Twilio) createMessage(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.AccountSID || pass != f.AuthToken {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if sid := r.PathValue("AccountSid"); sid != f.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 21600, "Invalid form: "+err.Error())
		return
	}
	m := Message{
		SID:            newSID(),
		To:             r.PostForm.Get("To"),
		From:           r.PostForm.Get("From"),
		Body:           r.PostForm.Get("Body"),
		Media:          r.PostForm["MediaUrl"],
		StatusCallback: r.PostForm.Get("StatusCallback"),
		At:             time.Now(),
	}
	m.ContentSID, m.ContentVariables = r.PostForm.Get("ContentSid"), r.PostForm.Get("ContentVariables")
	switch {
	case m.To == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case m.From == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case m.ContentVariables != "" && !json.Valid([]byte(m.ContentVariables)):
		writeError(w, http.StatusBadRequest, 21656, "The ContentVariables Parameter is invalid.")
		return
	case m.Body == "" && len(m.Media) == 0 && m.ContentSID == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()

	date := m.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + m.SID
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid":                   m.SID,
		"account_sid":           f.AccountSID,
		"to":                    m.To,
		"from":                  m.From,
		"body":                  m.Body,
		"status":                "queued",
		"direction":             "outbound-api",
		"num_media":             strconv.Itoa(len(m.Media)),
		"num_segments":          "1",
		"api_version":           "2010-04-01",
		"date_created":          date,
		"date_updated":          date,
		"date_sent":             nil,
		"error_code":            nil,
		"error_message":         nil,
		"price":                 nil,
		"price_unit":            "USD",
		"messaging_service_sid": nil,
		"uri":                   uri + ".json",
		"subresource_uris":      map[string]any{"media": uri + "/Media.json"},
	})
}

// writeError answers like Twilio does when a request fails.
func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newSID returns a Twilio-like message sid: "SM" and 32 hex digits.
func newSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "SM" + hex.EncodeToString(b[:])
}

// SignedForm encodes form as a webhook body and signs it the way Twilio signs
// a request to publicURL+path (path may carry a query string). Send body with
// Content-Type application/x-www-form-urlencoded and signature in the
// X-Twilio-Signature header.
func SignedForm(authToken, publicURL, path string, form url.Values) (body string, signature string) {
	if path != "" && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "?") {
		path = "/" + path
	}
	return form.Encode(), twilio.Sign(authToken, strings.TrimRight(publicURL, "/")+path, form)
}
