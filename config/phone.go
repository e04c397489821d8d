package config

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// E164 normalises a phone number to E.164 ("+15005550006"), reading numbers
// not written in international form as numbers of region (e.g. "US").
func E164(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("config: empty phone number")
	}
	if region == "" {
		region = "US"
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil {
		return "", fmt.Errorf("config: phone number %q: %w", raw, err)
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("config: phone number %q is not a possible number", raw)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}
