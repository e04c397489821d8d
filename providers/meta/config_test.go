package meta_test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers/providertest"
)

// providers.meta is checked at load with places, its numbers default to
// WhatsApp at 80 per second, and a number listed under two providers is
// refused naming both places.
func TestConfig(t *testing.T) {
	cfg, problems := providertest.ParseConfig(t, `providers:
  meta:
    app_secret: s
    verify_token: v
    access_token: a
    numbers:
      - { number: "+15550001234", phone_number_id: "106540352242922" }
`)
	if problems != "" {
		t.Fatalf("a good section has problems:\n%s", problems)
	}
	n := cfg.Numbers()
	if len(n) != 1 || n[0].Provider != "meta" || n[0].Channel != config.ChannelWhatsApp || n[0].MPS != 80 {
		t.Errorf("numbers = %+v, want one whatsapp number of meta at 80 mps", n)
	}

	_, problems = providertest.ParseConfig(t, `providers:
  twilio:
    numbers:
      - { number: "+15550001234", channel: whatsapp }
  meta:
    app_secret: s
    api_base_url: "graph.facebook.com"
    numbers:
      - { number: "+15550001234", phone_number_id: "1" }
      - { number: "+15550001235", channel: sms }
`)
	for _, want := range []string{
		"k.yaml:9:", `duplicate whatsapp number "+15550001234" (first at k.yaml:4:`,
		"k.yaml:6:", "app_secret set but access_token empty",
		"k.yaml:7:", "api_base_url",
		"k.yaml:10:", "missing phone_number_id", "whatsapp only",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems do not mention %q:\n%s", want, problems)
		}
	}
}

// api_base_url is checked as Twilio's and Vonage's are: a fragment, a
// query or credentials in it are refused too.
func TestConfigAPIBaseURL(t *testing.T) {
	for _, u := range []string{"https://graph.facebook.com/v21.0#x", "https://graph.facebook.com/v21.0?a=1", "https://u:p@graph.facebook.com/v21.0"} {
		_, problems := providertest.ParseConfig(t, "providers:\n  meta:\n    api_base_url: \""+u+"\"\n")
		if want := `k.yaml:3:19: providers.meta.api_base_url: "` + u + `" must not hold credentials, a query or a fragment`; problems != want {
			t.Errorf("%s: problems\n%s\nwant\n%s", u, problems, want)
		}
	}
}

// A live provider without a verify token is a warning: Meta's handshake
// cannot succeed, though sends and webhooks would work.
func TestConfigWarnsWithoutAVerifyToken(t *testing.T) {
	cfg, ps := config.Parse("k.yaml", []byte("providers:\n  meta:\n    app_secret: s\n    access_token: a\n    numbers:\n      - { number: \"+15550001234\", phone_number_id: \"1\" }\n"),
		func(string) (string, bool) { return "", false })
	if cfg == nil || ps.Err() != nil {
		t.Fatalf("problems: %v", ps)
	}
	var warned []string
	for _, p := range ps {
		if p.Warning && strings.Contains(p.Message, "verify_token") {
			warned = append(warned, p.String())
		}
	}
	if want := "k.yaml:3:5: warning: providers.meta.verify_token is empty"; len(warned) != 1 || !strings.HasPrefix(warned[0], want) {
		t.Errorf("warnings %q, want one starting %q", warned, want)
	}
}
