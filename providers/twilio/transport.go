package twilio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// defaultAPIHost is the host twilio-go addresses every Messages API call to.
const defaultAPIHost = "api.twilio.com"

// maxErrorBody bounds how much of an error response is read to classify it.
const maxErrorBody = 64 << 10

// apiTransport sits between twilio-go and the network. It sends every request
// for api.twilio.com to the configured API base instead, refuses requests for
// any other host (so that an edge or region setting can never send traffic
// elsewhere), fails on redirects, and rewrites error answers that are not
// Twilio JSON into Twilio JSON, so that twilio-go reports them as
// *client.TwilioRestError with their HTTP status. It also signs each
// request with the account's credentials (user, pass): twilio-go refuses,
// before any request, credentials other than letters and digits, which a
// proxy or a test double in front of the API may well use, so it is given
// placeholders (placeholderAuth) and the real ones are set here.
type apiTransport struct {
	base       *url.URL // nil when the base is https://api.twilio.com itself
	next       http.RoundTripper
	user, pass string
}

// placeholderAuth is the user and password twilio-go is given, which
// apiTransport replaces with the account's own.
const placeholderAuth = "keyway"

// parseBase checks an api_base_url and returns it, or nil when it is Twilio's
// own API, which needs no rewriting.
func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("twilio: api_base_url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("twilio: api_base_url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("twilio: api_base_url %q: no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("twilio: api_base_url %q: must not hold credentials, a query or a fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if u.Scheme == "https" && strings.EqualFold(u.Host, defaultAPIHost) && u.Path == "" {
		return nil, nil
	}
	return u, nil
}

// RoundTrip redirects the request to the configured base and makes its error
// answer classifiable.
func (t *apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Hostname(), defaultAPIHost) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("twilio: refusing a request for host %q: only %s is expected (is an edge or region set?)", req.URL.Host, defaultAPIHost)
	}
	r := req.Clone(req.Context())
	if t.base != nil {
		r.URL = rebase(t.base, req.URL)
		r.Host = ""
	}
	r.SetBasicAuth(t.user, t.pass)
	req = r
	res, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return res, nil
	case res.StatusCode < 400:
		// twilio-go would take a redirect for a success; the Messages API
		// never redirects, so this is a proxy or a wrong api_base_url.
		res.Body.Close()
		return nil, fmt.Errorf("twilio: unexpected %d answer (Location %q) from %s", res.StatusCode, res.Header.Get("Location"), req.URL.Host)
	}
	return classifiable(res)
}

// rebase returns a copy of u, a URL of Twilio's API, on base instead.
func rebase(base, u *url.URL) *url.URL {
	c := *u
	c.Scheme = base.Scheme
	c.Host = base.Host
	c.Path = base.Path + u.Path
	c.RawPath = ""
	return &c
}

// classifiable makes the body of a non-2xx answer a Twilio error object
// with a non-zero "status": a body that does not decode as one becomes
// {"status": code, "message": "<its first 200 bytes>"}, and one without a
// status gets the HTTP status.
func classifiable(res *http.Response) (*http.Response, error) {
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("twilio: read %d answer: %w", res.StatusCode, err)
	}
	var e client.TwilioRestError
	trimmed := bytes.TrimSpace(raw)
	if !bytes.HasPrefix(trimmed, []byte("{")) || json.Unmarshal(trimmed, &e) != nil {
		msg := trimmed
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if len(msg) == 0 {
			msg = []byte(http.StatusText(res.StatusCode))
		}
		e = client.TwilioRestError{Message: string(msg)}
	}
	if e.Status == 0 {
		e.Status = res.StatusCode
	}
	body, err := json.Marshal(&e)
	if err != nil {
		return nil, fmt.Errorf("twilio: rewrite %d answer: %w", res.StatusCode, err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header = res.Header.Clone()
	if res.Header == nil {
		res.Header = http.Header{}
	}
	res.Header.Set("Content-Type", "application/json")
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.Header.Del("Content-Encoding")
	return res, nil
}
