package vonage_test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers/providertest"
	"github.com/keyway-sms/keyway/providers/vonage"
)

// providers.vonage is checked at load with places: all three credentials
// or none, an absolute api_base_url, numbers on sms only; a number listed
// under two providers is refused.
func TestConfig(t *testing.T) {
	cfg, problems := providertest.ParseConfig(t, `providers:
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

	_, problems = providertest.ParseConfig(t, `providers:
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

// A credential whose variable is unset, beside one that is set, is warned
// of without promising dev mode: the section is refused for it instead.
func TestConfigHalfCredentialsIsNoDevMode(t *testing.T) {
	_, ps := config.Parse("k.yaml", []byte("providers:\n  vonage:\n    api_key: k\n    api_secret: \"${VONAGE_SECRET}\"\n    signature_secret: x\n"),
		func(string) (string, bool) { return "", false })
	var warned bool
	for _, p := range ps.Warnings() {
		if strings.Contains(p.Message, "VONAGE_SECRET") {
			warned = true
			if strings.Contains(p.Message, "dev mode") {
				t.Errorf("the warning promises dev mode, yet the section is refused: %s", p)
			}
		}
	}
	if !warned || ps.Errors().Err() == nil || !strings.Contains(ps.Errors().Err().Error(), "api_secret empty") {
		t.Errorf("problems %v, want the unset variable warned of and the section refused", ps)
	}
}

// api_base_url is checked as Twilio's and Meta's are: a fragment, a query
// or credentials in it are refused too.
func TestConfigAPIBaseURL(t *testing.T) {
	for _, u := range []string{"https://api.nexmo.com/#v1", "https://api.nexmo.com/?a=1", "https://u:p@api.nexmo.com"} {
		_, problems := providertest.ParseConfig(t, "providers:\n  vonage:\n    api_base_url: \""+u+"\"\n")
		if want := `k.yaml:3:19: providers.vonage.api_base_url: "` + u + `" must not hold credentials, a query or a fragment`; problems != want {
			t.Errorf("%s: problems\n%s\nwant\n%s", u, problems, want)
		}
	}
}
