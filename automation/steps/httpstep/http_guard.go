package httpstep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
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

func newHTTPGuard(s config.HTTP) *httpGuard {
	plain := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	dial := plain.DialContext
	if !s.AllowPrivate {
		names := map[string]bool{}
		var v4, v6 []netip.Prefix
		for _, h := range s.AllowHosts {
			p, ok := parseAllowedRange(h)
			switch {
			case !ok:
				names[canonicalHost(h)] = true
			case p.Addr().Is4():
				v4 = append(v4, p)
			default:
				v6 = append(v6, p)
			}
		}
		guardian := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
		guarded := &net.Dialer{Timeout: plain.Timeout, KeepAlive: plain.KeepAlive, Control: guardian.Safe}
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The transport dials the URL's host:port (no proxy is used),
			// so an allowed host name is checked against the URL's host;
			// every other host has each resolved address checked.
			host, _, err := net.SplitHostPort(addr)
			if err == nil && names[canonicalHost(host)] {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the address dialled from the guard
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
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

// parseAllowedRange reads an allow_hosts entry that is an IP address or a
// CIDR range; ok is false for a host name.
func parseAllowedRange(h string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(h); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

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
