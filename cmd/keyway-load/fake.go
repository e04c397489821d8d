package main

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Credentials of the fake Twilio account the tool configures keyway with.
const (
	fakeAccountSID = "AC10ad00000000000000000000000000ad"
	fakeAuthToken  = "loadtoken"
)

// fakeTwilio is a fast fake of Twilio's Messages API. It answers
// POST /2010-04-01/Accounts/{sid}/Messages.json with basic auth and counts
// each accepted message by its tag (the last word of its body, which the
// tool's automations copy from the inbound message) and recipient.
type fakeTwilio struct {
	srv  *http.Server
	ln   net.Listener
	sids atomic.Int64

	mu     sync.Mutex
	counts map[sendKey]int
	total  int
	bad    int // requests refused (auth, path, form)
}

// sendKey is what the fake counts sends by.
type sendKey struct {
	Tag string // the inbound MessageSid the reply answers
	To  string
}

// startFake starts the fake on addr ("127.0.0.1:0" for any free port).
func startFake(addr string) (*fakeTwilio, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake twilio: listen %s: %w", addr, err)
	}
	f := &fakeTwilio{ln: ln, counts: map[sendKey]int{}}
	prefix := "/2010-04-01/Accounts/" + fakeAccountSID + "/Messages.json"
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != prefix {
			f.refuse(w, http.StatusNotFound, 20404, "not found: "+r.URL.Path)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != fakeAccountSID || p != fakeAuthToken {
			f.refuse(w, http.StatusUnauthorized, 20003, "Authenticate")
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
		key := sendKey{Tag: lastWord(body), To: to}
		f.mu.Lock()
		f.counts[key]++
		f.total++
		f.mu.Unlock()
		sid := fmt.Sprintf("SM%032x", f.sids.Add(1))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":%q,"account_sid":%q,"to":%q,"from":%q,"status":"queued","direction":"outbound-api","num_segments":"1","api_version":"2010-04-01"}`,
			sid, fakeAccountSID, to, from)
	})}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// URL is the base URL for providers.twilio.api_base_url.
func (f *fakeTwilio) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the fake.
func (f *fakeTwilio) Close() { _ = f.srv.Close() }

// Reset forgets every count, for the next run.
func (f *fakeTwilio) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts, f.total, f.bad = map[sendKey]int{}, 0, 0
}

// Total counts the messages accepted so far.
func (f *fakeTwilio) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// Snapshot returns a copy of the counts and the number of refused requests.
func (f *fakeTwilio) Snapshot() (map[sendKey]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[sendKey]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out, f.bad
}

// refuse answers like Twilio does when a request fails, and counts it.
func (f *fakeTwilio) refuse(w http.ResponseWriter, status, code int, msg string) {
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
