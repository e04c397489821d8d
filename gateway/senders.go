package gateway

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// senders is the outbox's Texter over every provider: it sends each text
// through the provider its sender number belongs to, and asks that
// provider for delivery reports on its own status route.
type senders struct {
	byNumber  map[string]providers.Provider // channel and number → provider
	byChannel map[string]providers.Provider // channel → provider of its first number
	fallback  providers.Provider
	callbacks map[string]string // provider name → status callback URL
}

// newSenders maps cfg's sender numbers to the providers of ps. A text from
// a number no provider lists goes through the provider of the channel's
// first number, else of the first number, else through ps[0].
func newSenders(cfg *config.Config, ps []providers.Provider) *senders {
	s := &senders{byNumber: map[string]providers.Provider{}, byChannel: map[string]providers.Provider{}, callbacks: map[string]string{}}
	byName := map[string]providers.Provider{}
	for _, p := range ps {
		byName[p.Name()] = p
		route, ok := providers.StatusRoute(p)
		if ok && p.DevNotice() == "" && cfg.Server.PublicURL != "" {
			s.callbacks[p.Name()] = strings.TrimRight(cfg.Server.PublicURL, "/") + route.Path
		}
	}
	for _, n := range cfg.Numbers() {
		p := byName[n.Provider]
		if p == nil {
			continue
		}
		s.byNumber[n.Channel+" "+n.Number] = p
		if s.byChannel[n.Channel] == nil {
			s.byChannel[n.Channel] = p
		}
		if s.fallback == nil {
			s.fallback = p
		}
	}
	if s.fallback == nil {
		s.fallback = ps[0]
	}
	return s
}

// of returns the provider a text on channel from the number from goes
// through.
func (s *senders) of(channel, from string) providers.Provider {
	if channel == "" {
		channel = config.ChannelSMS
	}
	if p := s.byNumber[channel+" "+from]; p != nil {
		return p
	}
	if p := s.byChannel[channel]; p != nil {
		return p
	}
	return s.fallback
}

// name names the provider a text on channel from the number from goes
// through, as stored on the message.
func (s *senders) name(channel, from string) string { return s.of(channel, from).Name() }

// dev reports whether the provider a text on channel from the number from
// goes through runs in dev mode: the text is logged and stored, not sent.
func (s *senders) dev(channel, from string) bool { return s.of(channel, from).DevNotice() != "" }

// Send sends m through its provider, with that provider's status callback
// carrying keyway's message id as msg, so that a report that overtakes the
// send's own record still finds the message. Choices the provider cannot
// send natively go as numbered lines in the text (providers.Deliverable).
func (s *senders) Send(ctx context.Context, m providers.Outbound) (string, error) {
	p := s.of(m.Channel, m.From)
	m = providers.Deliverable(p, m)
	if cb := s.callbacks[p.Name()]; cb != "" {
		m.StatusCallback = cb + "?msg=" + url.QueryEscape(m.ID)
	}
	return p.Send(ctx, m)
}

// FindSent looks for m, as its provider sends it, in the log of that
// provider; it returns providers.ErrNoMessageLog when that provider keeps
// none.
func (s *senders) FindSent(ctx context.Context, m providers.Outbound, since time.Time) ([]string, error) {
	p := s.of(m.Channel, m.From)
	f, ok := p.(providers.SentFinder)
	if !ok {
		return nil, providers.ErrNoMessageLog
	}
	return f.FindSent(ctx, providers.Deliverable(p, m), since)
}

var (
	_ outbox.Texter        = (*senders)(nil)
	_ providers.SentFinder = (*senders)(nil)
)
