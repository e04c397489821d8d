package config

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// sameAsFullParser checks that E164, fast path included, answers raw as the
// full parser does: the same number, or an error both ways. It reports
// whether the fast path took it.
func sameAsFullParser(t *testing.T, raw, region string) bool {
	t.Helper()
	got, gotErr := E164(raw, region)
	want, wantErr := e164Parse(raw, strings.TrimSpace(raw), region)
	if (gotErr == nil) != (wantErr == nil) || got != want {
		t.Errorf("E164(%q, %q) = %q, %v; the full parser says %q, %v", raw, region, got, gotErr, want, wantErr)
	}
	return e164Fast(strings.TrimSpace(raw))
}

func TestE164FastPathEdgeCases(t *testing.T) {
	cases := []struct {
		raw  string
		fast bool // whether the fast path may take it
	}{
		{"+15005550006", true},
		{" +15005550006 ", true},
		{"+447911123456", true},
		{"+4407911123456", false},     // UK national prefix 0 after the country code: stripped
		{"+390612345678", false},      // Italian leading zero, kept apart by the parser
		{"+393123456789", true},       // Italian mobile
		{"+79161234567", true},        // Russia
		{"+78001234567", false},       // Russia's national prefix is 8: the parser decides
		{"+115005550006", false},      // NANP national prefix 1 after the country code
		{"+4930123456", true},         // Germany
		{"+80012345678", true},        // a non-geographic code (International Freephone)
		{"+1", false},                 // too short
		{"+12", false},                // too short
		{"+123", false},               // not a possible number
		{"+0123456789", false},        // no country code starts with 0
		{"+15005550006000000", false}, // too long for E.164
		{"+1 500 555 0006", false},    // spaces: the full parser
		{"++15005550006", false},
		{"15005550006", false},  // national form: the full parser, with the region
		{"+2421234567", false},  // 242 is a country code, but not a possible number
		{"+99912345678", false}, // 999 is no country code
		{"+1500555000a", false},
		{"+١٥٠٠٥٥٥٠٠٠٦", false}, // Arabic-Indic digits: the full parser reads them
	}
	for _, c := range cases {
		for _, region := range []string{"US", "", "gb", "IT", "XX"} {
			fast := sameAsFullParser(t, c.raw, region)
			if fast && !c.fast {
				t.Errorf("the fast path took %q, which it should leave to the parser", c.raw)
			}
			if c.fast && !fast {
				t.Errorf("the fast path left %q to the parser", c.raw)
			}
		}
	}
}

// TestE164FastPathAgreesWithTheParser compares the fast path with the full
// parser over every region's example numbers of every type, those numbers
// with a digit added or dropped or with the national prefix after the
// country code, and random digits after every known country code.
func TestE164FastPathAgreesWithTheParser(t *testing.T) {
	var numbers, examples []string
	add := func(n *phonenumbers.PhoneNumber) {
		if n == nil {
			return
		}
		e := phonenumbers.Format(n, phonenumbers.E164)
		cc := strconv.Itoa(int(n.GetCountryCode()))
		nsn := strings.TrimPrefix(e, "+"+cc)
		examples = append(examples, e)
		numbers = append(numbers, e, e+"5", e[:len(e)-1], "+"+cc+"0"+nsn, "+"+cc+"1"+nsn, "+"+cc+"8"+nsn)
		for r := range phonenumbers.GetSupportedRegions() {
			if p := phonenumbers.GetNddPrefixForRegion(r, true); p != "" && phonenumbers.GetCountryCodeForRegion(r) == int(n.GetCountryCode()) {
				numbers = append(numbers, "+"+cc+p+nsn)
			}
		}
	}
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	for r := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			add(phonenumbers.GetExampleNumberForType(r, typ))
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		add(phonenumbers.GetExampleNumberForNonGeoEntity(cc))
	}
	rng := rand.New(rand.NewPCG(12, 2026))
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for range 40 {
			var b strings.Builder
			b.WriteString("+" + strconv.Itoa(cc))
			for range 1 + rng.IntN(14) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			numbers = append(numbers, b.String())
		}
	}
	for range 5000 {
		var b strings.Builder
		b.WriteByte('+')
		for range 1 + rng.IntN(16) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		numbers = append(numbers, b.String())
	}

	fast := 0
	for _, n := range numbers {
		for _, region := range []string{"US", "DE"} {
			if sameAsFullParser(t, n, region) {
				fast++
			}
		}
	}
	// The comparison means something only if the fast path took many, and
	// it is worth having only if it takes nearly all real numbers (it
	// leaves those with a leading zero, as in Italy, to the parser).
	fastExamples := 0
	for _, e := range examples {
		if e164Fast(e) {
			fastExamples++
		}
	}
	if fastExamples < len(examples)*9/10 {
		t.Errorf("the fast path took %d of %d example numbers", fastExamples, len(examples))
	}
	t.Logf("%d checks, %d taken by the fast path; %d of %d example numbers", 2*len(numbers), fast, fastExamples, len(examples))
}

// FuzzE164 checks that the fast path never answers differently from the
// full parser.
func FuzzE164(f *testing.F) {
	for _, s := range []string{"+15005550006", "+4407911123456", "+390612345678", "+78001234567", "+80012345678", "+1", " +447911123456", "5005550006"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		if len(region) > 3 {
			return
		}
		sameAsFullParser(t, raw, region)
	})
}

func BenchmarkE164(b *testing.B) {
	for _, n := range []string{"+15005550006", "+447911123456", "+4407911123456"} {
		b.Run(n, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := E164(n, "US"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(n+"/parser", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e164Parse(n, n, "US"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
