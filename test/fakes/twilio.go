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
// records each message and answers like Twilio, and lists what it accepted
// on GET of the same path (the message log, filtered by To, From and
// DateSent, newest first). Failures can be scripted with FailNext, answers
// lost on the wire with HangUpNext, and sends left hanging with HoldNext.
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
	lookups    int
	failLeft   int
	failStatus int
	failCode   int
	hangUps    int
	hold       *hold // the next send to leave hanging, nil for none
	held       int   // sends hanging now
	release    chan struct{}
}

// hold is a send HoldNext asked to leave hanging.
type hold struct {
	accept bool // record the message before hanging
}

// NewTwilio returns a fake Twilio with the default credentials. It is closed
// when the test ends.
func NewTwilio(t testing.TB) *Twilio {
	t.Helper()
	f := &Twilio{AccountSID: DefaultAccountSID, AuthToken: DefaultAuthToken, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", f.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/Messages.json", f.listMessages)
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

// HangUpNext makes the next n sends be accepted and recorded, then their
// connections closed without an answer: the sender cannot know that Twilio
// took them.
func (f *Twilio) HangUpNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hangUps = n
}

// HoldNext leaves the next send hanging, unanswered, until Release is
// called or its client goes away (e.g. is killed). With accept, the message
// is recorded first (Twilio took it); without, it is never recorded.
func (f *Twilio) HoldNext(accept bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = &hold{accept: accept}
}

// Held counts the sends hanging now.
func (f *Twilio) Held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// Release ends every send left hanging; they get no answer.
func (f *Twilio) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.release)
	f.release = make(chan struct{})
}

// Lookups counts the requests for the message log.
func (f *Twilio) Lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
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
	h, release := f.hold, f.release
	f.hold = nil
	if h == nil || h.accept {
		f.sent = append(f.sent, m)
	}
	hangUp := h == nil && f.hangUps > 0
	if hangUp {
		f.hangUps--
	}
	if h != nil {
		f.held++
	}
	f.mu.Unlock()
	switch {
	case h != nil:
		select {
		case <-release:
		case <-r.Context().Done():
		}
		f.mu.Lock()
		f.held--
		f.mu.Unlock()
		hangUpOn(w)
		return
	case hangUp:
		hangUpOn(w)
		return
	}
	writeJSON(w, http.StatusCreated, f.resource(m))
}

// hangUpOn closes the request's connection without an answer.
func hangUpOn(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// listMessages is GET /2010-04-01/Accounts/{AccountSid}/Messages.json: the
// accepted messages, newest first, filtered by To, From and DateSent (its
// date_sent is when the fake accepted it), one page of PageSize (50 by
// default).
func (f *Twilio) listMessages(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.AccountSID || pass != f.AuthToken {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if sid := r.PathValue("AccountSid"); sid != f.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	q := r.URL.Query()
	size := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
			return
		}
		size = n
	}
	var after, before, on time.Time
	for key, at := range map[string]*time.Time{"DateSent>": &after, "DateSent<": &before, "DateSent": &on} {
		v := q.Get(key)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				writeError(w, http.StatusBadRequest, 20001, "Invalid "+key)
				return
			}
		}
		*at = t
	}
	f.mu.Lock()
	f.lookups++
	var page []map[string]any
	for i := len(f.sent) - 1; i >= 0 && len(page) < size; i-- {
		m := f.sent[i]
		day := m.At.UTC().Truncate(24 * time.Hour)
		switch {
		case q.Has("To") && m.To != q.Get("To"), q.Has("From") && m.From != q.Get("From"),
			!after.IsZero() && day.Before(after.UTC().Truncate(24*time.Hour)),
			!before.IsZero() && day.After(before.UTC().Truncate(24*time.Hour)),
			!on.IsZero() && !day.Equal(on.UTC().Truncate(24*time.Hour)):
			continue
		}
		res := f.resource(m)
		res["status"], res["date_sent"] = "sent", m.At.UTC().Format(time.RFC1123Z)
		page = append(page, res)
	}
	f.mu.Unlock()
	uri := r.URL.RequestURI()
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": page, "page": 0, "page_size": size, "start": 0, "end": max(len(page)-1, 0),
		"first_page_uri": uri, "uri": uri, "next_page_uri": nil, "previous_page_uri": nil,
	})
}

// resource is m as Twilio's API shows a message just accepted.
func (f *Twilio) resource(m Message) map[string]any {
	date := m.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + m.SID
	return map[string]any{
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
	}
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
