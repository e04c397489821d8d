package config

import "strings"

// MaskAddress hides most of an address (a phone number, short code or
// sender id) so that it can go into logs and error messages: it keeps a
// leading "+", the first two and the last two characters and puts a star
// in place of each one between, so "+15005550006" becomes "+15*******06".
// A channel prefix such as "whatsapp:" is kept. Addresses of six
// characters or fewer are starred entirely. MaskAddress is safe on any
// input; it never returns more than two characters at either end of what
// it was given.
func MaskAddress(phone string) string {
	prefix, rest := "", phone
	if i := strings.LastIndexByte(rest, ':'); i > 0 && isWord(rest[:i]) {
		prefix, rest = rest[:i+1], rest[i+1:]
	}
	if strings.HasPrefix(rest, "+") {
		prefix, rest = prefix+"+", rest[1:]
	}
	r := []rune(rest)
	if len(r) <= 6 {
		return prefix + strings.Repeat("*", len(r))
	}
	return prefix + string(r[:2]) + strings.Repeat("*", len(r)-4) + string(r[len(r)-2:])
}

// isWord reports whether s is a channel name such as "whatsapp": ASCII
// letters only.
func isWord(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return s != ""
}
