package config

import (
	"slices"
	"strings"
	"testing"
)

func TestAddress(t *testing.T) {
	tests := []struct {
		name, raw, channel string
		want               string
		kind               AddressKind // "" for an error
	}{
		{"e164", "+15005550006", ChannelSMS, "+15005550006", AddressPhone},
		{"national, read in the region", "(500) 555-0006", ChannelSMS, "+15005550006", AddressPhone},
		{"phone on whatsapp", "+14155238886", ChannelWhatsApp, "+14155238886", AddressPhone},
		{"phone, any channel", " +14155238886 ", "", "+14155238886", AddressPhone},
		{"US short code", "55123", ChannelSMS, "55123", AddressShortCode},
		{"three-digit short code", "911", ChannelSMS, "911", AddressShortCode},
		{"eight-digit short code", "12345678", ChannelSMS, "12345678", AddressShortCode},
		{"short code, any channel", "55123", "", "55123", AddressShortCode},
		{"alphanumeric sender", "MyBrand", ChannelSMS, "MyBrand", AddressAlphanumeric},
		{"alphanumeric with digits and a space", "Shop 24", ChannelSMS, "Shop 24", AddressAlphanumeric},
		{"eleven characters", "ACME1234567", ChannelSMS, "ACME1234567", AddressAlphanumeric},
		{"vanity letters are no phone number", "1800FLOWERS", ChannelSMS, "1800FLOWERS", AddressAlphanumeric},
		{"whatsapp user id", "US.13491208655302741918", ChannelWhatsApp, "US.13491208655302741918", AddressWhatsAppUser},
		{"whatsapp parent user id", "US.ENT.13491208655302741918", ChannelWhatsApp, "US.ENT.13491208655302741918", AddressWhatsAppUser},
		{"whatsapp user id, any channel", "GB.1234", "", "GB.1234", AddressWhatsAppUser},

		{"empty", " ", ChannelSMS, "", ""},
		{"plus signs", "+++", ChannelSMS, "", ""},
		{"words and punctuation", "not a number!", ChannelSMS, "", ""},
		{"impossible phone", "+1555", ChannelSMS, "", ""},
		{"two digits", "12", ChannelSMS, "", ""},
		{"nine digits", "123456789", ChannelSMS, "", ""},
		{"twelve characters", "ACME12345678", ChannelSMS, "", ""},
		{"dash in a sender id", "My-Brand", ChannelSMS, "", ""},
		{"vanity number written with dashes", "1-800-FLOWERS", ChannelSMS, "", ""},
		{"short code on whatsapp", "55123", ChannelWhatsApp, "", ""},
		{"sender id on whatsapp", "MyBrand", ChannelWhatsApp, "", ""},
		{"whatsapp user id on sms", "US.1234", ChannelSMS, "", ""},
		{"user id without a country", "1234.5678", ChannelWhatsApp, "", ""},
		{"user id with a dash", "US.12-34", ChannelWhatsApp, "", ""},
		{"user id far too long", "US." + strings.Repeat("1", 200), ChannelWhatsApp, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind, err := Address(tt.raw, "US", tt.channel)
			if tt.kind == "" {
				if err == nil {
					t.Fatalf("Address(%q, %q) = %q (%s), want an error", tt.raw, tt.channel, got, kind)
				}
				if !strings.HasPrefix(err.Error(), "config: ") {
					t.Errorf("error %q does not start with \"config: \"", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Address(%q, %q): %v", tt.raw, tt.channel, err)
			}
			if got != tt.want || kind != tt.kind {
				t.Errorf("Address(%q, %q) = %q (%s), want %q (%s)", tt.raw, tt.channel, got, kind, tt.want, tt.kind)
			}
			if k := KindOf(got); k != tt.kind {
				t.Errorf("KindOf(%q) = %q, want %q", got, k, tt.kind)
			}
		})
	}
}

func TestAddressPrefersAPhoneNumberOfTheRegion(t *testing.T) {
	// Eight digits are a Danish phone number before they are a short code.
	if got, kind, err := Address("20123456", "DK", ChannelSMS); err != nil || got != "+4520123456" || kind != AddressPhone {
		t.Errorf("Address(20123456, DK) = %q, %s, %v; want +4520123456, a phone", got, kind, err)
	}
	if got, kind, err := Address("1234", "DK", ChannelSMS); err != nil || got != "1234" || kind != AddressShortCode {
		t.Errorf("Address(1234, DK) = %q, %s, %v; want 1234, a short code", got, kind, err)
	}
}

func TestKindOfNone(t *testing.T) {
	for _, s := range []string{"", "whatsapp:+1", "12", "ann@example.com", strings.Repeat("A", 21)} {
		if k := KindOf(s); k != "" {
			t.Errorf("KindOf(%q) = %q, want none", s, k)
		}
	}
}

func TestShortCodeSenderNumbers(t *testing.T) {
	src := `providers:
  twilio:
    numbers:
      - { number: "+15005550006", channel: sms }
      - { number: "55123", channel: sms }
      - { number: " 98765 " }
      - { number: "55123", channel: whatsapp }
      - { number: "MyBrand", channel: sms }
      - { number: "55123" }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:7:19: providers.twilio.numbers[3]: "55123" is not a valid phone number (a WhatsApp sender is one)`,
		`k.yaml:8:19: providers.twilio.numbers[4]: "MyBrand" is not a valid phone number nor a short code (3 to 8 digits)`,
		`k.yaml:9:19: providers.twilio.numbers[5]: duplicate sms number "55123" (first at k.yaml:5:19)`,
	})
	var got []string
	for _, n := range c.Providers.Twilio.Numbers[:3] {
		got = append(got, n.Number)
	}
	if want := []string{"+15005550006", "55123", "98765"}; !slices.Equal(got, want) {
		t.Errorf("numbers %q, want %q", got, want)
	}
}

// An inbound message's sender is kept as written when carriers pass on a
// sender id beyond the 11 letters, digits and spaces of the rule; what is
// still refused is what is no address at all.
func TestInboundAddress(t *testing.T) {
	tests := []struct {
		raw, channel string
		want         string
		kind         AddressKind // "" for an error
	}{
		{"+15005550006", ChannelSMS, "+15005550006", AddressPhone},
		{"MyBrand", ChannelSMS, "MyBrand", AddressAlphanumeric},
		{"55123", ChannelSMS, "55123", AddressShortCode},
		{"VM-HDFCBK", ChannelSMS, "VM-HDFCBK", AddressAlphanumeric},
		{"AcmeCorpInfo", ChannelSMS, "AcmeCorpInfo", AddressAlphanumeric},
		{" Acme.com ", ChannelSMS, "Acme.com", AddressAlphanumeric},
		{"Yahoo!", ChannelSMS, "Yahoo!", AddressAlphanumeric},
		{"US.1234", ChannelSMS, "US.1234", AddressWhatsAppUser}, // what KindOf says of it, below
		{"US.13491208655302741918", ChannelWhatsApp, "US.13491208655302741918", AddressWhatsAppUser},

		{"", ChannelSMS, "", ""},
		{"+++", ChannelSMS, "", ""},
		{"+1 FLOWERS", ChannelSMS, "", ""},
		{"123-456", ChannelSMS, "", ""},
		{"ann@example.com", ChannelSMS, "", ""},
		{"whatsapp:MyBrand", ChannelSMS, "", ""},
		{strings.Repeat("A", 21), ChannelSMS, "", ""},
		{"Tab\tBrand", ChannelSMS, "", ""},
		{"VM-HDFCBK", ChannelWhatsApp, "", ""},
	}
	for _, tt := range tests {
		got, kind, err := InboundAddress(strings.ReplaceAll(tt.raw, `\t`, "\t"), "US", tt.channel)
		if tt.kind == "" {
			if err == nil {
				t.Errorf("InboundAddress(%q, %q) = %q (%s), want an error", tt.raw, tt.channel, got, kind)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("InboundAddress(%q, %q) = %q, %v; want %q", tt.raw, tt.channel, got, err, tt.want)
			continue
		}
		if k := KindOf(got); k != tt.kind {
			t.Errorf("KindOf(%q) = %q, want %q", got, k, tt.kind)
		}
	}
}
