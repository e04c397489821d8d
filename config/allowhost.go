package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// AllowHost is one entry of http.allow_hosts: a host name, an IP address
// or a CIDR range that http steps may reach although it is private, and
// the one port they may reach on it, if the entry names one. A bare host
// ("crm.internal", "10.1.2.3", "10.1.0.0/16") allows every port of it,
// also when a redirect leads there; "crm.internal:8443" or
// "[fd00::5]:8080" allows that port only.
type AllowHost struct {
	// Name is a host name, in lower case without a trailing dot; empty for
	// an address or a range.
	Name string
	// Prefix is the address (a /32 or /128 range) or the range; not valid
	// for a name.
	Prefix netip.Prefix
	// Port is the only port allowed, or 0 for every port.
	Port int
}

// ParseAllowHost reads an http.allow_hosts entry: a host name, an IP
// address or a CIDR range, the first two optionally with ":port" (an IPv6
// address with a port in brackets: "[fd00::5]:8080").
func ParseAllowHost(s string) (AllowHost, error) {
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		host, _, _ := strings.Cut(rest, "/")
		return AllowHost{}, fmt.Errorf("config: %q is a URL; write its host alone (%q), without %s:// or a path", s, host, scheme)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return AllowHost{}, fmt.Errorf("config: %q is not a valid CIDR range such as 10.1.0.0/16", s)
		}
		return AllowHost{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return AllowHost{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	host, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return AllowHost{}, fmt.Errorf("config: %q: port %q is not a number from 1 to 65535", s, p)
		}
		host, port = h, n
		if a, err := netip.ParseAddr(host); err == nil {
			a = a.Unmap()
			return AllowHost{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: port}, nil
		}
	}
	if !hostname.MatchString(host) {
		return AllowHost{}, fmt.Errorf("config: %q is not a hostname, an IP address or a CIDR range, with or without :port", s)
	}
	return AllowHost{Name: strings.TrimSuffix(strings.ToLower(host), "."), Port: port}, nil
}

// Allows reports whether the entry lets a call reach host (a name or an
// address, as a URL or a dialler writes it) on port.
func (a AllowHost) Allows(host string, port int) bool {
	if a.Port != 0 && a.Port != port {
		return false
	}
	if a.Name != "" {
		return a.Name == strings.TrimSuffix(strings.ToLower(host), ".")
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Prefix.Contains(ip.Unmap())
}
