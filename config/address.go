package config

import (
	"fmt"
	"regexp"
	"strings"
)

// AddressKind says what kind of address a message comes from or goes to.
type AddressKind string

// Kinds of address.
const (
	// AddressPhone is a phone number, kept in E.164 ("+15005550006").
	AddressPhone AddressKind = "phone"
	// AddressShortCode is a short code: 3 to 8 digits, no "+" ("55123").
	AddressShortCode AddressKind = "short_code"
	// AddressAlphanumeric is an alphanumeric sender id ("MyBrand"): up to
	// 11 letters, digits and spaces, at least one a letter. It sends but
	// cannot receive.
	AddressAlphanumeric AddressKind = "alphanumeric"
	// AddressWhatsAppUser is a WhatsApp business-scoped user id, written
	// for a user who shows a username instead of a phone number: a
	// two-letter country code, a dot and letters or digits
	// ("US.13491208655302741918"). It lives on WhatsApp only.
	AddressWhatsAppUser AddressKind = "whatsapp_user"
)

// Limits of the addresses that are not phone numbers.
const (
	minShortCode    = 3
	maxShortCode    = 8
	maxAlphanumeric = 11  // Twilio's and the carriers' limit for a sender id
	maxWhatsAppUser = 128 // far above the ~25 characters of Meta's ids
	maxSenderID     = 20  // an inbound sender id as some carriers pass it on
)

// whatsappUser matches a WhatsApp business-scoped user id: "US.1349…", and
// the dotted forms of parent ids ("US.ENT.1349…").
var whatsappUser = regexp.MustCompile(`^[A-Za-z]{2}(\.[A-Za-z0-9]+)+$`)

// Address reads raw as the address of a contact or of one of our senders on
// channel (ChannelSMS, ChannelWhatsApp, or "" for either), without a
// "whatsapp:" prefix. A phone number is normalised to E.164, numbers not
// written in international form read as numbers of region. Anything else
// is kept as written (spaces around it trimmed) when it is, on SMS, a short
// code or an alphanumeric sender id, or on WhatsApp a business-scoped user
// id. A value with a letter in it is never read as a phone number ("1-800-
// FLOWERS" is not one). Any other value is an error.
func Address(raw, region, channel string) (string, AddressKind, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", fmt.Errorf("config: empty address")
	}
	sms := channel == "" || channel == ChannelSMS
	whatsapp := channel == "" || channel == ChannelWhatsApp
	if !hasLetter(s) {
		if n, err := E164(s, region); err == nil {
			return n, AddressPhone, nil
		}
	}
	switch {
	case sms && isShortCode(s):
		return s, AddressShortCode, nil
	case sms && isAlphanumericID(s):
		return s, AddressAlphanumeric, nil
	case whatsapp && isWhatsAppUser(s):
		return s, AddressWhatsAppUser, nil
	}
	switch channel {
	case ChannelSMS:
		return "", "", fmt.Errorf("config: %q is not a phone number, a short code (3 to 8 digits) nor an alphanumeric sender id (up to 11 letters, digits and spaces)", raw)
	case ChannelWhatsApp:
		return "", "", fmt.Errorf("config: %q is not a phone number nor a WhatsApp user id (such as US.1234567890)", raw)
	}
	return "", "", fmt.Errorf("config: %q is not a phone number, a short code, an alphanumeric sender id nor a WhatsApp user id", raw)
}

// InboundAddress reads raw as the sender or recipient of an inbound
// message on channel, as Address does, except that on SMS (or channel "",
// either) a sender id that
// carriers pass on beyond the 11 letters, digits and spaces of the rule
// (India's "VM-HDFCBK", "AcmeCorpInfo", "Acme.com") is kept as written too,
// as an alphanumeric sender: up to 20 printable ASCII characters, at least
// one a letter, without ":" or "@" and not starting with "+". A message is
// never refused for who sent it; what such a sender cannot do (receive) is
// decided where KindOf is asked.
func InboundAddress(raw, region, channel string) (string, AddressKind, error) {
	a, kind, err := Address(raw, region, channel)
	if err == nil || channel == ChannelWhatsApp {
		return a, kind, err
	}
	if s := strings.TrimSpace(raw); isSenderID(s) {
		return s, AddressAlphanumeric, nil
	}
	return "", "", err
}

// KindOf says what kind of address addr is, addr being an address as
// Address returns it (a phone in E.164, or kept as written); "" when it is
// none of them.
func KindOf(addr string) AddressKind {
	switch {
	case strings.HasPrefix(addr, "+"):
		return AddressPhone
	case isShortCode(addr):
		return AddressShortCode
	case isAlphanumericID(addr):
		return AddressAlphanumeric
	case isWhatsAppUser(addr):
		return AddressWhatsAppUser
	case isSenderID(addr):
		return AddressAlphanumeric
	}
	return ""
}

// SenderNumber reads raw as one of our sender numbers on channel: a phone
// number, normalised to E.164, or on SMS a short code, kept as written.
func SenderNumber(raw, region, channel string) (string, error) {
	n, kind, err := Address(raw, region, channel)
	if err == nil && (kind == AddressPhone || kind == AddressShortCode) {
		return n, nil
	}
	if channel == ChannelWhatsApp {
		return "", fmt.Errorf("config: %q is not a phone number", raw)
	}
	return "", fmt.Errorf("config: %q is not a phone number nor a short code (3 to 8 digits)", raw)
}

// isShortCode reports whether s is 3 to 8 ASCII digits.
func isShortCode(s string) bool {
	if len(s) < minShortCode || len(s) > maxShortCode {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isAlphanumericID reports whether s is an alphanumeric sender id: 1 to 11
// ASCII letters, digits and spaces, at least one a letter, not starting or
// ending with a space.
func isAlphanumericID(s string) bool {
	if s == "" || len(s) > maxAlphanumeric || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for _, c := range s {
		if !isASCIILetter(c) && (c < '0' || c > '9') && c != ' ' {
			return false
		}
	}
	return hasLetter(s)
}

// isSenderID reports whether s is a sender id as InboundAddress keeps it:
// 1 to maxSenderID printable ASCII characters, at least one a letter, no
// ":" (a channel's prefix) or "@" (an email address), not starting with
// "+" (a phone number) nor starting or ending with a space.
func isSenderID(s string) bool {
	if s == "" || len(s) > maxSenderID || s[0] == ' ' || s[0] == '+' || s[len(s)-1] == ' ' {
		return false
	}
	for _, c := range s {
		if c < ' ' || c > '~' || c == ':' || c == '@' {
			return false
		}
	}
	return hasLetter(s)
}

// isWhatsAppUser reports whether s is a WhatsApp business-scoped user id.
func isWhatsAppUser(s string) bool {
	return len(s) <= maxWhatsAppUser && whatsappUser.MatchString(s)
}

// hasLetter reports whether s holds an ASCII letter.
func hasLetter(s string) bool {
	for _, c := range s {
		if isASCIILetter(c) {
			return true
		}
	}
	return false
}

func isASCIILetter(c rune) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
