package httpstep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.dny.dev/ssrf"

	"github.com/keyway-sms/keyway/config"
)

// httpGuard is the HTTP client of http steps, with a dialer that refuses
// loopback, private, link-local and metadata addresses unless the config's
// `http` section allows them. It is built at load time from the settings,
// and shared by every step with the same settings, across reloads, so that
// connections are pooled.
type httpGuard struct {
	client *http.Client
}

var httpGuards struct {
	mu sync.Mutex
	by map[string]*httpGuard
}

// guardFor returns the guard for the http settings s.
func guardFor(s config.HTTP) *httpGuard {
	hosts := slices.Clone(s.AllowHosts)
	slices.Sort(hosts)
	key := fmt.Sprintf("%t|%s", s.AllowPrivate, strings.Join(hosts, ","))
	httpGuards.mu.Lock()
	defer httpGuards.mu.Unlock()
	if g := httpGuards.by[key]; g != nil {
		return g
	}
	if httpGuards.by == nil {
		httpGuards.by = map[string]*httpGuard{}
	}
	g := newHTTPGuard(s)
	httpGuards.by[key] = g
	return g
}

// GuardedClient returns the HTTP client of http steps for the settings
// s, shared with every step under the same settings: its dialer refuses
// loopback, private, link-local and metadata addresses unless s allows
// them. Event deliveries go through it too, so that `http.allow_private`
// and `http.allow_hosts` govern their URLs as they do the steps'.
func GuardedClient(s config.HTTP) *http.Client { return guardFor(s).client }

func newHTTPGuard(s config.HTTP) *httpGuard {
	plain := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	dial := plain.DialContext
	if !s.AllowPrivate {
		var allowed []config.AllowHost
		for _, h := range s.AllowHosts {
			if a, err := config.ParseAllowHost(h); err == nil { // validate reported the others
				allowed = append(allowed, a)
			}
		}
		guardian := ssrf.New(ssrf.WithAnyPort())
		// Each address a name resolves to is checked as it is dialled,
		// after resolution: an allowed address or range (on its port, if
		// the entry names one) passes, any other goes to the guard.
		control := func(network, address string, c syscall.RawConn) error {
			if host, port, ok := splitPort(address); ok && allowsAny(allowed, host, port, false) {
				return nil
			}
			return guardian.Safe(network, address, c)
		}
		guarded := &net.Dialer{Timeout: plain.Timeout, KeepAlive: plain.KeepAlive, Control: control}
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The transport dials the URL's host:port (no proxy is used),
			// so an allowed host name is checked against the URL's host
			// and port, also after a redirect; every other host has each
			// resolved address checked.
			if host, port, ok := splitPort(addr); ok && allowsAny(allowed, host, port, true) {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	transport := &http.Transport{
		Proxy:             nil, // a proxy would hide the address dialled from the guard
		DialContext:       dial,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      100,
		// Event deliveries post to one endpoint up to 32 at a time
		// (events.DefaultWorkers): with fewer idle connections kept per
		// host, most posts of a busy endpoint closed their connection and
		// the next one dialled a new one.
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errTooManyRedirects
			}
			return nil
		},
	}
	return &httpGuard{client: client}
}

var errTooManyRedirects = errors.New("stopped after 5 redirects")

// splitPort splits a dialled "host:port".
func splitPort(addr string) (string, int, bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	return host, port, err == nil
}

// allowsAny reports whether an http.allow_hosts entry lets a call reach
// host on port: among the names when names is true (the URL's host, before
// resolution), else among the addresses and ranges (each address dialled).
func allowsAny(allowed []config.AllowHost, host string, port int, names bool) bool {
	for _, a := range allowed {
		if (a.Name != "") == names && a.Allows(host, port) {
			return true
		}
	}
	return false
}

// describeHTTPError says why a call failed, in words for http.error and
// end reasons (without the URL, whose query may hold a key), and whether
// trying again may help.
func describeHTTPError(err error, timeout time.Duration) (msg string, retry bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	for _, sentinel := range []error{ssrf.ErrProhibitedIP, ssrf.ErrProhibitedPort, ssrf.ErrProhibitedNetwork, ssrf.ErrInvalidHostPort} {
		if errors.Is(err, sentinel) {
			return fmt.Sprintf("refused by the address guard: %v (allow it with http.allow_private or http.allow_hosts)", guardMessage(err, sentinel)), false
		}
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		return fmt.Sprintf("timeout after %v", timeout), true
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("dns lookup of %s failed: %s", dnsErr.Name, dnsErr.Err), !dnsErr.IsNotFound
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset", true
	case errors.Is(err, errTooManyRedirects):
		return errTooManyRedirects.Error(), false
	}
	return err.Error(), true
}

// guardMessage returns the error in err's chain that wraps sentinel
// directly: the guard's own message, without the dialler's "dial tcp
// ADDR:" prefix.
func guardMessage(err, sentinel error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if next := errors.Unwrap(e); next == sentinel {
			return e
		}
	}
	return err
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
