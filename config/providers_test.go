package config

import (
	"slices"
	"testing"
)

// acmeSettings are the keys of the test provider "acme" besides numbers.
type acmeSettings struct {
	APIKey  string `yaml:"api_key"`
	Retries int    `yaml:"retries"`
}

// acmeChecks counts the calls of acme's SectionCheck.
var acmeChecks int

func init() {
	RegisterProvider("acme", func(c *Config, s *ProviderSection) Problems {
		acmeChecks++
		var a acmeSettings
		ps := c.DecodeSection(s, &a)
		if a.APIKey == "" {
			ps = append(ps, c.Problemf(s.Path, "%s: missing api_key", s.Path))
		}
		return ps
	})
	RegisterProvider("bare", nil)
}

func TestProviderSection(t *testing.T) {
	src := `defaults: { region: GB }
providers:
  twilio:
    numbers:
      - { number: "+15005550006" }
  acme:
    api_key: "${ACME_KEY}"
    retries: 3
    numbers:
      - { number: "020 7183 8750", mps: 2 }
      - { number: "+447700900123", channel: whatsapp }
  bare:
`
	acmeChecks = 0
	c, ps := mustParse(t, src, map[string]string{"ACME_KEY": "k-123"})
	checkProblems(t, withoutHelpWarning(ps), nil)
	if acmeChecks != 1 {
		t.Errorf("acme's check ran %d times, want 1", acmeChecks)
	}
	s, ok := c.Providers.Section("acme")
	if !ok {
		t.Fatal("no acme section")
	}
	if s.Path != "providers.acme" || s.Node == nil {
		t.Errorf("section = %+v", s)
	}
	var a acmeSettings
	if ps := c.DecodeSection(s, &a); len(ps) != 0 || a.APIKey != "k-123" || a.Retries != 3 {
		t.Errorf("DecodeSection = %+v, %v", a, render(ps))
	}
	if b, ok := c.Providers.Section("bare"); !ok || b.Node != nil || len(b.Numbers) != 0 {
		t.Errorf("an empty section should be set up with nothing in it, got %+v, %v", b, ok)
	}
	if _, ok := c.Providers.Section("twilio"); ok {
		t.Error("twilio is typed, not a section")
	}
	want := []ProviderNumber{
		{Number: "+15005550006", Channel: ChannelSMS, Provider: "twilio", Path: "providers.twilio.numbers[0]"},
		{Number: "+442071838750", Channel: ChannelSMS, MPS: 2, Provider: "acme", Path: "providers.acme.numbers[0]"},
		{Number: "+447700900123", Channel: ChannelWhatsApp, Provider: "acme", Path: "providers.acme.numbers[1]"},
	}
	if got := c.Numbers(); !slices.Equal(got, want) {
		t.Errorf("Numbers() =\n  %+v\nwant\n  %+v", got, want)
	}
	if got := c.At("providers.acme.numbers[1].channel"); got != (Pos{Line: 11, Col: 45}) {
		t.Errorf("At(providers.acme.numbers[1].channel) = %v", got)
	}
}

// Numbers and NumberPaths list the providers in file order, Twilio's
// where the file has it: the first number of a channel is the one a send
// goes from when nothing names one.
func TestNumbersInFileOrder(t *testing.T) {
	src := `providers:
  acme:
    api_key: k
    numbers:
      - { number: "+447700900123" }
  twilio:
    numbers:
      - { number: "+15005550006" }
  bare:
    numbers:
      - { number: "+447700900124" }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	var got []string
	for _, n := range c.Numbers() {
		got = append(got, n.Provider+" "+n.Number)
	}
	if want := []string{"acme +447700900123", "twilio +15005550006", "bare +447700900124"}; !slices.Equal(got, want) {
		t.Errorf("Numbers() = %q, want %q", got, want)
	}
	if got, want := c.NumberPaths(), []string{"providers.acme.numbers", "providers.twilio.numbers", "providers.bare.numbers"}; !slices.Equal(got, want) {
		t.Errorf("NumberPaths() = %q, want %q", got, want)
	}
}

func TestProviderSectionProblems(t *testing.T) {
	src := `providers:
  twilio:
    numbers:
      - { number: "+15005550006" }
  acme:
    retries: many
    colour: red
    numbers:
      - { number: "+15005550006" }
      - { number: "+1555", channel: fax }
  acmee: { api_key: x }
  acme: { api_key: y }
  bare: [x]
`
	_, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:6:5: providers.acme: missing api_key`,
		`k.yaml:6:14: providers.acme.retries: expected a whole number, got "many"`,
		`k.yaml:7:5: unknown key "colour" in providers.acme (allowed: api_key, retries)`,
		`k.yaml:9:19: providers.acme.numbers[0]: duplicate sms number "+15005550006" (first at k.yaml:4:19)`,
		`k.yaml:10:19: providers.acme.numbers[1]: "+1555" is not a valid phone number nor a short code (3 to 8 digits)`,
		`k.yaml:10:37: providers.acme.numbers[1]: channel must be sms or whatsapp, not "fax"`,
		`k.yaml:11:3: unknown key "acmee" in providers (did you mean "acme"? allowed: twilio, acme, bare)`,
		`k.yaml:12:3: duplicate key "acme" in providers (first at k.yaml:5:3)`,
		`k.yaml:13:9: providers.bare: expected a mapping, got a list`,
	})
}

func TestProvidersNotAMapping(t *testing.T) {
	_, ps := mustParse(t, "providers: twilio\n", nil)
	checkProblems(t, withoutHelpWarning(ps), []string{`k.yaml:1:12: providers: expected a mapping, got "twilio"`})
}

func TestProvidersEqual(t *testing.T) {
	parse := func(src string) Providers {
		t.Helper()
		c, _ := mustParse(t, src, nil)
		return c.Providers
	}
	base := parse("providers:\n  acme: { api_key: k, numbers: [{ number: \"+15005550006\" }] }\n")
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{"keys in another order count as a change", "fields: [a]\nproviders:\n  acme:\n    numbers: [{ number: \"+15005550006\" }]\n    api_key: k\n", false},
		{"same settings in the same order, moved down", "fields: [a]\nproviders:\n  acme:\n    api_key: k\n    numbers: [{ number: \"+15005550006\" }]\n", true},
		{"another key", "providers:\n  acme: { api_key: other, numbers: [{ number: \"+15005550006\" }] }\n", false},
		{"another number", "providers:\n  acme: { api_key: k, numbers: [{ number: \"+15005550007\" }] }\n", false},
		{"twilio changed", "providers:\n  twilio: { account_sid: AC1, auth_token: t }\n  acme: { api_key: k, numbers: [{ number: \"+15005550006\" }] }\n", false},
		{"section gone", "providers:\n  twilio: {}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base.Equal(parse(tt.src)); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
	if !base.Equal(base) {
		t.Error("a Providers is not Equal to itself")
	}
}

func TestRegisterProviderPanics(t *testing.T) {
	RegisterProvider("twilio", nil) // typed: nothing to declare
	for name, register := range map[string]func(){
		"empty name":            func() { RegisterProvider("", nil) },
		"twice":                 func() { RegisterProvider("acme", nil) },
		"check for a typed key": func() { RegisterProvider("twilio", func(*Config, *ProviderSection) Problems { return nil }) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			register()
		})
	}
}
