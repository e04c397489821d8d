package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// E164 normalises a phone number to E.164 ("+15005550006"), reading numbers
// not written in international form as numbers of region (e.g. "US").
//
// A number already written as "+" and digits, which is how providers send
// every number, takes a fast path (e164Fast) that gives the same answer as
// the full parser without its regular expressions; anything else, and any
// such number the fast path is not sure of, goes to the full parser.
func E164(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("config: empty phone number")
	}
	if e164Fast(s) {
		return s, nil
	}
	return e164Parse(raw, s, region)
}

// e164Parse is E164 by the full parser: s is raw trimmed.
func e164Parse(raw, s, region string) (string, error) {
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

// e164Fast reports whether s is "+" and digits that the full parser
// (e164Parse) would accept and give back unchanged, whatever the region. It
// follows what phonenumbers.Parse does with such a number: the country
// calling code is the first 1 to 3 digits that name one (the codes are
// prefix-free), the rest is the national number, which the parser keeps as
// it is unless it starts with a zero (kept apart as an "Italian leading
// zero") or with the country's national prefix (which the parser may strip).
// Those cases, and any number that is not a possible one, are left to the
// full parser: false means "not sure", never "invalid".
func e164Fast(s string) bool {
	// 1 to 3 digits of country code and 2 to 15 of national number; E.164
	// allows 15 digits in all.
	if len(s) < 4 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if s[1] == '0' {
		return false // no country code starts with 0
	}
	prefixes := nationalPrefixes()
	for i := 2; i <= 4 && i < len(s); i++ {
		cc, _ := strconv.Atoi(s[1:i])
		np, ok := prefixes[cc]
		if !ok {
			continue
		}
		nsn := s[i:]
		if len(nsn) < 2 || nsn[0] == '0' || (np != nil && np.MatchString(nsn)) {
			return false
		}
		national, err := strconv.ParseUint(nsn, 10, 64)
		if err != nil {
			return false
		}
		code := int32(cc)
		return phonenumbers.IsPossibleNumber(&phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &national})
	}
	return false
}

// nationalPrefixes maps each country calling code phonenumbers knows to
// the pattern of the national prefix the parser may strip from a number of
// it (anchored as the parser anchors it), nil when it has none. The
// parser reads the metadata of the code's main region; so does this.
var nationalPrefixes = sync.OnceValue(func() map[int]*regexp.Regexp {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return map[int]*regexp.Regexp{} // every number goes to the full parser
	}
	out := map[int]*regexp.Regexp{}
	for _, md := range coll.GetMetadata() {
		cc := int(md.GetCountryCode())
		if phonenumbers.GetRegionCodeForCountryCode(cc) != md.GetId() {
			continue
		}
		var re *regexp.Regexp
		if p := md.GetNationalPrefixForParsing(); p != "" {
			if re, err = regexp.Compile("^(?:" + p + ")"); err != nil {
				continue // unknown to the fast path: the full parser decides
			}
		}
		out[cc] = re
	}
	return out
})
