// Package httpstep is the http step, with the guard that keeps its
// requests off private addresses. It registers itself with the engine.
package httpstep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("http", compileHTTP) }

// HTTPStep calls another system: a CRM, a webhook, a sheet. The scheme and
// host of its url are written out; templates may fill the path and the
// query, and what they output there is escaped, so a contact's message can
// neither reach another host nor add a parameter. `query` adds parameters;
// `body` is one of json (any structure, string leaves are templates), form,
// multipart, xml (outputs XML-escaped), yaml or text, and sets the
// Content-Type, which `headers` may override.
//
//   - id: crm
//     type: http
//     method: POST
//     url: "https://crm.example.com/api/contacts/{{ contact.phone }}"
//     headers: { Authorization: "Bearer ${CRM_KEY}" }
//     query: { source: sms }
//     body: { json: { phone: "{{ contact.phone }}", name: "{{ vars.name }}" } }
//     timeout: 5s        # each attempt; default 10s
//     retries: 2         # on a timeout, a connection error, 5xx or 429, after 0.5s, 1s...
//     save_as: crm       # {{ vars.crm.status }} instead of {{ http.status }}
//     on_error: sorry    # any status but 2xx, a timeout, a refused address
//
// The call runs outside any transaction once the step is committed; its
// response is kept as status, headers (first values, lower-case names),
// body (at most 64 KiB), json (when the response is JSON), error (why the
// call failed) and duration_ms. A 2xx goes on; anything else goes to
// on_error, or ends the enrollment with the reason. Loopback, private,
// link-local and metadata addresses are refused unless the config's
// `http.allow_private` or `http.allow_hosts` allows them.
type HTTPStep struct {
	Method  string
	URL     *urlTemplate
	Headers []httpHeader // sorted by name
	Query   []bodyField  // sorted by name
	Body    *httpBody
	Timeout time.Duration
	Retries int
	SaveAs  string
	OnError string
	guard   *httpGuard
}

type httpHeader struct {
	name string // canonical
	tpl  *engine.Template
}

type httpFields struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	Body    *httpBodyFields   `yaml:"body"`
	Timeout *config.Duration  `yaml:"timeout"`
	Retries int               `yaml:"retries"`
	SaveAs  string            `yaml:"save_as"`
	OnError string            `yaml:"on_error"`
}

// Limits of an http step.
const (
	// HTTPDefaultTimeout bounds each attempt of an http step without a
	// timeout of its own.
	HTTPDefaultTimeout = 10 * time.Second
	// HTTPMaxResponseBody is how much of a response body is kept.
	HTTPMaxResponseBody = 64 << 10
	// httpFirstBackoff is the pause before the first retry; it doubles.
	httpFirstBackoff = 500 * time.Millisecond
	// httpMaxTotal bounds all attempts and pauses of a call: it must end
	// well within the I/O lease, or the call would start again meanwhile.
	httpMaxTotal = engine.IOLease - 10*time.Second
)

var httpMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

var (
	httpHeaderName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	httpSaveAsName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func compileHTTP(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f httpFields
	c.Decode(s, &f)
	st := &HTTPStep{
		Method:  strings.ToUpper(f.Method),
		URL:     compileURL(c, s, "url", f.URL),
		Body:    compileBody(c, s, f.Body),
		Timeout: HTTPDefaultTimeout,
		Retries: f.Retries,
		SaveAs:  f.SaveAs,
		OnError: f.OnError,
		guard:   guardFor(c.Config.HTTP),
	}
	if st.Method == "" {
		st.Method = http.MethodGet
	}
	if !slices.Contains(httpMethods, st.Method) {
		c.Problemf(s, "method", "unknown method %q (use one of %s)", f.Method, strings.Join(httpMethods, ", "))
	} else if st.Body != nil && (st.Method == http.MethodGet || st.Method == http.MethodHead) && !c.Refused(s, "method") {
		c.Warnf(s, "body", "a %s request with a body: most servers ignore it (set method: POST?)", st.Method)
	}
	seen := map[string]string{}
	for _, name := range sortedMapKeys(f.Headers) {
		field := "headers." + name
		canonical := http.CanonicalHeaderKey(name)
		twin, dup := seen[canonical]
		seen[canonical] = name
		switch {
		case dup:
			c.Problemf(s, field, "header %q is also given as %q", name, twin)
		case !httpHeaderName.MatchString(name):
			c.Problemf(s, field, "%q is not a valid header name", name)
		case strings.EqualFold(name, "Host"), strings.EqualFold(name, "Content-Length"):
			c.Problemf(s, field, "the %s header is set from the url and body", http.CanonicalHeaderKey(name))
		default:
			st.Headers = append(st.Headers, httpHeader{name: canonical, tpl: c.Template(s, field, f.Headers[name])})
		}
	}
	for _, name := range sortedMapKeys(f.Query) {
		st.Query = append(st.Query, bodyField{name: name, tpl: c.Template(s, "query."+name, f.Query[name])})
	}
	if f.Timeout != nil {
		st.Timeout = f.Timeout.D()
		if st.Timeout <= 0 {
			c.Problemf(s, "timeout", "timeout must be more than 0")
		}
	}
	if st.Retries < 0 {
		c.Problemf(s, "retries", "retries must be 0 or more")
	} else if total := st.worstCase(); total > httpMaxTotal {
		c.Problemf(s, "timeout", "timeout %v × %d attempts plus pauses between retries may take %v; keep it within %v", st.Timeout, st.Retries+1, total, httpMaxTotal)
	}
	if st.SaveAs != "" && !httpSaveAsName.MatchString(st.SaveAs) {
		c.Problemf(s, "save_as", "save_as %q must be a name of letters, digits and _ (used as vars.%s)", st.SaveAs, st.SaveAs)
	}
	c.Target(s, "on_error", st.OnError)
	return st, nil
}

// worstCase is the longest a call may take: every attempt timing out, and
// the pauses between them.
func (st *HTTPStep) worstCase() time.Duration {
	total, pause := time.Duration(0), httpFirstBackoff
	for i := 0; i <= st.Retries; i++ {
		total += st.Timeout
		if i < st.Retries {
			total += pause
			pause *= 2
		}
		if total > httpMaxTotal {
			break // no need to count further, nor to overflow
		}
	}
	return total
}

// Execute pauses the enrollment; the engine calls Perform once that is
// committed.
func (st *HTTPStep) Execute(context.Context, *engine.Run) (engine.Outcome, error) {
	return engine.Pending(), nil
}

// httpRequest is a rendered request, ready to send any number of times.
type httpRequest struct {
	url    *url.URL
	header http.Header
	body   []byte
}

// request renders the request from bindings b.
func (st *HTTPStep) request(b map[string]any) (*httpRequest, error) {
	var extra url.Values
	for _, q := range st.Query {
		v, err := q.tpl.Render(b)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.name, err)
		}
		if extra == nil {
			extra = url.Values{}
		}
		extra.Add(q.name, v)
	}
	u, err := st.URL.render(b, extra)
	if err != nil {
		return nil, err
	}
	req := &httpRequest{url: u, header: http.Header{}}
	req.header.Set("User-Agent", "keyway")
	if st.Body != nil {
		var contentType string
		if req.body, contentType, err = st.Body.render(b); err != nil {
			return nil, err
		}
		req.header.Set("Content-Type", contentType)
	}
	for _, h := range st.Headers { // the admin's headers win
		v, err := h.tpl.Render(b)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", h.name, err)
		}
		req.header.Set(h.name, v)
	}
	return req, nil
}

// Perform makes the call, with its retries, and returns the response as
// the step keeps it. A call that fails is a result with an error, not an
// error: Perform fails only when ctx ends (the engine is stopping).
func (st *HTTPStep) Perform(ctx context.Context, r *engine.RunView) (map[string]any, error) {
	start := time.Now()
	req, err := st.request(r.Bindings())
	if err != nil {
		return map[string]any{"status": 0, "error": err.Error(), "duration_ms": int64(0)}, nil
	}
	pause := httpFirstBackoff
	var res map[string]any
	for attempt := 0; ; attempt++ {
		var retry bool
		res, retry = st.attempt(ctx, req)
		if !retry || attempt >= st.Retries {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("http step: %w", ctx.Err())
		case <-t.C:
		}
		pause *= 2
	}
	res["duration_ms"] = time.Since(start).Milliseconds()
	return res, nil
}

// attempt sends req once. It reports whether the failure, if any, is one
// to retry: a timeout, a connection error, a 5xx or a 429.
func (st *HTTPStep) attempt(ctx context.Context, req *httpRequest) (map[string]any, bool) {
	actx, cancel := context.WithTimeout(ctx, st.Timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(actx, st.Method, req.url.String(), body)
	if err != nil {
		return map[string]any{"status": 0, "error": err.Error()}, false
	}
	hr.Header = req.header.Clone()
	resp, err := st.clientFor(ctx).Do(hr)
	if err != nil {
		msg, retry := describeHTTPError(err, st.Timeout)
		return map[string]any{"status": 0, "error": msg}, retry
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, HTTPMaxResponseBody+1))
	res := map[string]any{"status": resp.StatusCode, "headers": firstValues(resp.Header)}
	if err != nil {
		msg, retry := describeHTTPError(err, st.Timeout)
		res["error"] = "reading the response: " + msg
		return res, retry
	}
	truncated := len(raw) > HTTPMaxResponseBody
	if truncated {
		raw = raw[:HTTPMaxResponseBody]
	}
	res["body"] = string(raw)
	if !truncated && isJSON(resp.Header.Get("Content-Type"), raw) {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			res["json"] = v
		}
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return res, retry
}

func firstValues(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

// isJSON reports whether a response with contentType and body is to be
// read as JSON (the caller still checks that it parses).
func isJSON(contentType string, body []byte) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return true
	}
	// Many systems answer JSON without saying so: with no Content-Type, or
	// with text/plain (what Go's and others' servers sniff for it). An
	// object or array there is JSON too.
	if contentType != "" && (err != nil || mt != "text/plain") {
		return false
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// Resume keeps the response in http (or vars.<save_as>) and goes on after
// a 2xx; anything else goes to on_error, or ends the enrollment.
func (st *HTTPStep) Resume(_ context.Context, r *engine.Run, ev engine.Event) (engine.Outcome, error) {
	if ev.Kind != engine.EventIO {
		return engine.End(fmt.Sprintf("http: resumed by a %s instead of the call's result", ev.Kind)), nil
	}
	// The URL as the call saw it, before the response changes the bindings.
	where := st.URL.src
	if u, err := st.URL.render(r.Bindings(), nil); err == nil {
		where = redactedURL(u)
	}
	res := maps.Clone(ev.Result)
	if ev.Err != nil || res == nil {
		res = map[string]any{"status": 0, "error": fmt.Sprintf("the call did not complete: %v", ev.Err)}
	}
	if st.SaveAs != "" {
		r.SetVar(st.SaveAs, res)
	} else {
		r.Enrollment.HTTP = res
	}
	status, _ := res["status"].(int)
	errMsg, _ := res["error"].(string)
	if errMsg == "" && status >= 200 && status < 300 {
		r.Trace(fmt.Sprintf("http %s %s → %d", st.Method, where, status))
		return engine.Continue(), nil
	}
	what := fmt.Sprintf("status %d", status)
	if errMsg != "" {
		what = errMsg
	}
	if st.OnError != "" {
		r.Trace(fmt.Sprintf("http %s %s → %s; on_error: %s", st.Method, where, what, st.OnError))
	} else {
		r.Trace(fmt.Sprintf("http %s %s → %s", st.Method, where, what))
	}
	return engine.OnError(st.OnError, fmt.Sprintf("http: %s %s: %s", st.Method, where, what)), nil
}

// Flow says an http call goes on after a 2xx, and otherwise goes to
// on_error (a declared jump) or, with none, ends the enrollment. Neither
// is a way out of a loop: its pause for the call is no stop, since the run
// goes on once it answers, and a loop left only when the call fails would
// call the other system for as long as it answers (each answer resumes the
// run under a fresh step count, so the step limit never ends it).
func (st *HTTPStep) Flow() engine.StepFlow {
	return engine.StepFlow{Continues: true}
}

var (
	_ engine.Step      = (*HTTPStep)(nil)
	_ engine.Flowing   = (*HTTPStep)(nil)
	_ engine.Performer = (*HTTPStep)(nil)
	_ engine.Resumer   = (*HTTPStep)(nil)
)
