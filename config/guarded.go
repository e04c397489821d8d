package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// addressGuard is the guard http steps and event deliveries dial through
// (loopback, private, link-local and metadata addresses refused), here
// for validate to tell what it will refuse before anything is dialled.
var addressGuard = ssrf.New(ssrf.WithAnyPort())

// Refuses says why the address guard, under these settings, refuses every
// call to rawURL (an http step's or an event endpoint's URL, its scheme
// and host written out): its host is an IP address the guard refuses, or
// localhost, and neither allow_private nor allow_hosts lets it through.
// It returns "" when the guard lets the URL through, or cannot tell
// before its host name is resolved.
func (h HTTP) Refuses(rawURL string) string {
	if h.AllowPrivate {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 80
		if strings.EqualFold(u.Scheme, "https") {
			port = 443
		}
	}
	addr, err := netip.ParseAddr(host)
	switch {
	case host == "localhost":
		addr = netip.MustParseAddr("127.0.0.1")
	case err != nil:
		return "" // a name: the guard checks what it resolves to
	}
	addr = addr.Unmap()
	if addressGuard.SafeAddr(addr) == nil {
		return ""
	}
	for _, entry := range h.AllowHosts {
		a, err := ParseAllowHost(entry)
		if err == nil && (a.Allows(host, port) || a.Allows(addr.String(), port)) {
			return ""
		}
	}
	return fmt.Sprintf("%s is a loopback, private or link-local address: keyway refuses to call it unless http.allow_private is true or http.allow_hosts lists it", u.Hostname())
}
