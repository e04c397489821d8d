package outbox

import (
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

// What a provider's refusal means reaches the engine through the outbox's
// hooks, and a throttled number slows down; the outbox knows no provider
// code, only the SendError's flags.
func TestOutboxActsOnRefusals(t *testing.T) {
	const ours, contact = "+15550001234", "+15550009999"
	tests := []struct {
		name        string
		err         providers.SendError
		purpose     engine.Purpose
		wantOptOut  string
		wantMarket  string
		wantWindow  string
		wantMPSHalf bool
	}{
		{name: "opted out", err: providers.SendError{Status: 400, OptedOut: true}, purpose: engine.PurposeReply, wantOptOut: contact},
		{name: "opted out of a forward opts nobody out", err: providers.SendError{Status: 400, OptedOut: true}, purpose: engine.PurposeForward},
		{name: "stopped messages that are not answers", err: providers.SendError{Status: 400, MarketingOptOut: true}, purpose: engine.PurposeReply, wantMarket: contact},
		{name: "outside the window", err: providers.SendError{Status: 400, OutsideWindow: true}, purpose: engine.PurposeReply, wantWindow: contact + " whatsapp"},
		{name: "outside the window of staff", err: providers.SendError{Status: 400, OutsideWindow: true}, purpose: engine.PurposeForward, wantWindow: contact + " whatsapp"},
		{name: "throttled slows the number down", err: providers.SendError{Status: 400, Throttled: true, Retryable: true}, purpose: engine.PurposeReply, wantMPSHalf: true},
		{name: "a plain failure does nothing", err: providers.SendError{Status: 400}, purpose: engine.PurposeReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var optOut, market, window string
			ob := NewOutbox(OutboxOptions{Logger: zerolog.Nop(), MPS: map[string]float64{ours: 80},
				OnOptedOut:        func(p string) { optOut = p },
				OnMarketingOptOut: func(p string) { market = p },
				OnOutsideWindow:   func(m *engine.Message) { window = m.To[0] + " " + m.Channel },
			})
			m := &engine.Message{ID: "m1", Kind: engine.KindText, Purpose: tt.purpose, Channel: "whatsapp", From: ours, To: []string{contact}}
			se := tt.err
			se.Err = errors.New("refused")
			ob.report(recorded{outcome: outcome{claimed: claimed{m: m}, kind: attempted, err: &se}, stored: m})
			if optOut != tt.wantOptOut || market != tt.wantMarket || window != tt.wantWindow {
				t.Errorf("told opt-out %q, marketing %q, window %q; want %q, %q, %q", optOut, market, window, tt.wantOptOut, tt.wantMarket, tt.wantWindow)
			}
			want := 80.0
			if tt.wantMPSHalf {
				want = 40
			}
			if got := float64(ob.limiters[ours].Limit()); got != want {
				t.Errorf("mps after = %g, want %g", got, want)
			}
		})
	}
}
