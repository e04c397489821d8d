package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials of the fake Twilio account the tool configures keyway with.
const (
	fakeAccountSID = "AC10ad00000000000000000000000000ad"
	fakeAuthToken  = "loadtoken"
)

// fakeProvider is a fast fake of Twilio's Messages API and of the Graph
// API's messages endpoint (meta.go). It answers
// POST /2010-04-01/Accounts/{sid}/Messages.json with basic auth and counts
// each accepted message by its tag (the last word of its body, which the
// tool's automations copy from the inbound message) and recipient. GET of
// the same path lists its message log, filtered by To and From, newest
// first, as Twilio does. Sends through the Graph API are counted the same
// way.
type fakeProvider struct {
	srv  *http.Server
	ln   net.Listener
	sids atomic.Int64
	// latency delays each answer after the message is accepted, as a
	// real provider's round trip does: a process killed meanwhile never
	// learns that its send was taken.
	latency time.Duration

	mu      sync.Mutex
	counts  map[sendKey]int
	log     map[[2]string][]logEntry // by To and From, oldest first
	total   int
	lookups int
	bad     int // requests refused (auth, path, form)
}

// logEntry is one accepted message in the fake's log.
type logEntry struct {
	SID  string
	Body string
	At   time.Time
}

// sendKey is what the fake counts sends by.
type sendKey struct {
	Tag string // the inbound MessageSid the reply answers
	To  string
}

// startFake starts the fake on addr ("127.0.0.1:0" for any free port).
func startFake(addr string) (*fakeProvider, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake provider: listen %s: %w", addr, err)
	}
	f := &fakeProvider{ln: ln, counts: map[sendKey]int{}, log: map[[2]string][]logEntry{}}
	prefix := "/2010-04-01/Accounts/" + fakeAccountSID + "/Messages.json"
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == graphMessagesPath {
			f.graphSend(w, r)
			return
		}
		if (r.Method != http.MethodPost && r.Method != http.MethodGet) || r.URL.Path != prefix {
			f.refuse(w, http.StatusNotFound, 20404, "not found: "+r.URL.Path)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != fakeAccountSID || p != fakeAuthToken {
			f.refuse(w, http.StatusUnauthorized, 20003, "Authenticate")
			return
		}
		if r.Method == http.MethodGet {
			f.list(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			f.refuse(w, http.StatusBadRequest, 21600, "invalid form")
			return
		}
		to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
		if to == "" || from == "" || body == "" {
			f.refuse(w, http.StatusBadRequest, 21602, "To, From and Body are required")
			return
		}
		sid := fmt.Sprintf("SM%032x", f.sids.Add(1))
		f.take(to, from, sid, body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":%q,"account_sid":%q,"to":%q,"from":%q,"status":"queued","direction":"outbound-api","num_segments":"1","api_version":"2010-04-01"}`,
			sid, fakeAccountSID, to, from)
	})}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// take counts an accepted message and logs it, then waits the provider's
// latency.
func (f *fakeProvider) take(to, from, id, body string) {
	key := sendKey{Tag: lastWord(body), To: to}
	f.mu.Lock()
	f.counts[key]++
	f.total++
	f.log[[2]string{to, from}] = append(f.log[[2]string{to, from}], logEntry{SID: id, Body: body, At: time.Now()})
	f.mu.Unlock()
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
}

// list answers a GET of the Messages list: one page of PageSize (default
// 50) of the messages To and From, newest first.
func (f *fakeProvider) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("PageSize"))
	if err != nil || size < 1 {
		size = 50
	}
	type resource struct {
		SID         string `json:"sid"`
		To          string `json:"to"`
		From        string `json:"from"`
		Body        string `json:"body"`
		Status      string `json:"status"`
		DateCreated string `json:"date_created"`
	}
	page := []resource{}
	to, from := q.Get("To"), q.Get("From")
	f.mu.Lock()
	f.lookups++
	entries := f.log[[2]string{to, from}]
	for i := len(entries) - 1; i >= 0 && len(page) < size; i-- {
		e := entries[i]
		page = append(page, resource{SID: e.SID, To: to, From: from, Body: e.Body, Status: "sent", DateCreated: e.At.UTC().Format(time.RFC1123Z)})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": page, "page": 0, "page_size": size, "next_page_uri": nil, "uri": r.URL.RequestURI()})
}

// Lookups counts the requests for the message log.
func (f *fakeProvider) Lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

// URL is the base URL for providers.twilio.api_base_url.
func (f *fakeProvider) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the fake.
func (f *fakeProvider) Close() { _ = f.srv.Close() }

// Reset forgets every count, for the next run.
func (f *fakeProvider) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts, f.total, f.bad, f.lookups = map[sendKey]int{}, 0, 0, 0
	f.log = map[[2]string][]logEntry{}
}

// Total counts the messages accepted so far.
func (f *fakeProvider) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// Snapshot returns a copy of the counts and the number of refused requests.
func (f *fakeProvider) Snapshot() (map[sendKey]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[sendKey]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out, f.bad
}

// refuse answers like Twilio does when a request fails, and counts it.
func (f *fakeProvider) refuse(w http.ResponseWriter, status, code int, msg string) {
	f.mu.Lock()
	f.bad++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":%q,"status":%s}`, code, msg, strconv.Itoa(status))
}

// lastWord is the last space-separated word of s.
func lastWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		return s[i+1:]
	}
	return s
}
