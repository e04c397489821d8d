package vonage_test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers/vonage"
)

// providers.vonage is checked at load with places: all three credentials
// or none, an absolute api_base_url, numbers on sms only; a number listed
// under two providers is refused.
func TestConfig(t *testing.T) {
	parse := func(src string) (*config.Config, string) {
		t.Helper()
		cfg, ps := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
		var lines []string
		for _, p := range ps.Errors() {
			lines = append(lines, p.String())
		}
		return cfg, strings.Join(lines, "\n")
	}
	cfg, problems := parse(`providers:
  vonage:
    api_key: k
    api_secret: s
    signature_secret: x
    numbers:
      - { number: "+447700900123", channel: sms, mps: 10 }
      - { number: "+447700900125" }
`)
	if problems != "" {
		t.Fatalf("a good section has problems:\n%s", problems)
	}
	n := cfg.Numbers()
	if len(n) != 2 || n[0].Provider != "vonage" || n[0].Channel != config.ChannelSMS || n[0].MPS != 10 ||
		n[1].Channel != config.ChannelSMS || n[1].MPS != vonage.DefaultMPS {
		t.Errorf("numbers = %+v, want two sms numbers of vonage, at 10 mps and at the default 30", n)
	}

	_, problems = parse(`providers:
  twilio:
    numbers:
      - { number: "+447700900123", channel: sms }
  vonage:
    api_key: k
    api_base_url: "api.nexmo.com"
    numbers:
      - { number: "+447700900123", channel: sms }
      - { number: "+447700900124", channel: whatsapp }
`)
	for _, want := range []string{
		"k.yaml:6:", "api_secret and signature_secret empty",
		"k.yaml:7:", "api_base_url",
		"k.yaml:9:", `"+447700900123"`,
		"k.yaml:10:", "sms only",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems do not mention %q:\n%s", want, problems)
		}
	}
}
