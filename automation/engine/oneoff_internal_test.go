package engine

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// A one-off template in the form its number's provider does not take is
// refused with the form it does take, as the provider declared it (the
// engine names no provider).
func TestOneOffTemplateFormFollowsTheProvider(t *testing.T) {
	config.SetTemplateForm("test-by-name", config.TemplatesByName)
	config.SetTemplateForm("test-by-sid", config.TemplatesByContentSID)
	out := func(provider string) OneOffChannel {
		return OneOffChannel{Channel: config.ChannelWhatsApp, From: "+15550001234", Provider: provider}
	}
	bySID := OneOff{ContentSID: "HX0123"}
	byName := OneOff{Template: &providers.Template{Name: "hello", Language: "en_US"}}
	for _, tt := range []struct {
		o        OneOff
		provider string
		want     string
	}{
		{bySID, "test-by-name", "sends templates by name and language, not content sid"},
		{byName, "test-by-sid", "sends templates by content sid, not by name"},
		{bySID, "test-by-sid", ""},
		{byName, "test-by-name", ""},
	} {
		got := tt.o.notSendable(&Contact{}, out(tt.provider))
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%+v on %s: %q, want %q", tt.o, tt.provider, got, tt.want)
		}
	}
}
