package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// logged records the messages FindSent is asked about, as a provider with a
// message log would look them up.
type logged struct {
	acme
	asked []providers.Outbound
}

func (l *logged) FindSent(_ context.Context, m providers.Outbound, _ time.Time) ([]string, error) {
	l.asked = append(l.asked, m)
	return nil, nil
}

// A provider without interactive messages is handed choices as numbered
// lines, both to send and to look up in its log, so that it finds the
// text it sent.
func TestSendersWriteOutChoicesForAProviderWithoutButtons(t *testing.T) {
	p := &logged{}
	cfg := &config.Config{}
	s := newSenders(cfg, []providers.Provider{p})
	m := providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: acmeNumber, To: "+15550001111", Body: "Coming?",
		Choices: &providers.Choices{Buttons: []providers.Choice{{ID: "Y", Title: "Yes"}, {ID: "N", Title: "No"}}}}
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindSent(context.Background(), m, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sent := p.sends()
	const want = "Coming?\n1 Yes\n2 No"
	if len(sent) != 1 || sent[0].Body != want || sent[0].Choices != nil {
		t.Fatalf("sent %+v, want body %q without choices", sent, want)
	}
	if len(p.asked) != 1 || p.asked[0].Body != want {
		t.Fatalf("looked up %+v, want body %q", p.asked, want)
	}
}
