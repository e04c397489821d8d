package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// "engtest" is a provider key the engine knows nothing about, as a provider
// registered by a package it never imports would be.
func init() { config.RegisterProvider("engtest", nil) }

// The engine opts a contact out on the provider's typed flag, whatever the
// error code: it knows no provider's codes.
func TestStatusOptsOutOnTheProvidersFlagNotItsCode(t *testing.T) {
	const phone = "+15550007001"
	tests := []struct {
		name   string
		status providers.Status
		want   bool
	}{
		{"flag with a code of its own", providers.Status{Status: "failed", ErrorCode: 77, OptedOut: true}, true},
		{"Twilio's 21610 without the flag", providers.Status{Status: "failed", ErrorCode: 21610}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := mem.NewMemStore()
			e := engine.New(store, compileSet(t, "automations: []\n"), engine.Options{Logger: zerolog.Nop()})
			err := store.Update(ctx, func(tx engine.Tx) error {
				if err := tx.PutContact(&engine.Contact{Phone: phone}); err != nil {
					return err
				}
				return tx.PutMessage(&engine.Message{
					ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Purpose: engine.PurposeReply,
					Channel: config.ChannelSMS, Contact: phone, From: "+15005550006", To: []string{phone},
					Status: engine.StatusSent, Provider: "engtest", ProviderID: "X1",
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			tt.status.ProviderID = "X1"
			if found, err := e.UpdateStatus(ctx, "engtest", tt.status, ""); err != nil || !found {
				t.Fatalf("UpdateStatus = %v, %v", found, err)
			}
			_ = store.View(ctx, func(tx engine.Tx) error {
				c, err := tx.Contact(phone)
				if err != nil {
					t.Fatal(err)
				}
				if c.OptedOut != tt.want {
					t.Errorf("opted out = %v, want %v", c.OptedOut, tt.want)
				}
				m, _ := tx.Message("m1")
				if m.Status != "failed" || m.ErrorCode != tt.status.ErrorCode {
					t.Errorf("message = %s %d, want failed %d", m.Status, m.ErrorCode, tt.status.ErrorCode)
				}
				return nil
			})
		})
	}
}

// A status report is about an outbound message: one whose provider id is
// that of an inbound message is about nothing stored, and changes neither
// the inbound message nor its contact.
func TestStatusOfAnInboundIDIsNotFound(t *testing.T) {
	const phone = "+15550007002"
	ctx := context.Background()
	store := mem.NewMemStore()
	e := engine.New(store, compileSet(t, "automations: []\n"), engine.Options{Logger: zerolog.Nop()})
	err := store.Update(ctx, func(tx engine.Tx) error {
		if err := tx.PutContact(&engine.Contact{Phone: phone}); err != nil {
			return err
		}
		return tx.PutMessage(&engine.Message{
			ID: "in1", Direction: engine.Inbound, Kind: engine.KindText,
			Channel: config.ChannelSMS, Contact: phone, From: phone, To: []string{"+15005550006"},
			Status: engine.StatusReceived, Provider: "engtest", ProviderID: "IN1",
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, msgID := range []string{"", "in1"} {
		st := providers.Status{ProviderID: "IN1", Status: "failed", ErrorCode: 77, OptedOut: true}
		if found, err := e.UpdateStatus(ctx, "engtest", st, msgID); err != nil || found {
			t.Fatalf("UpdateStatus(msg %q) = %v, %v; want not found", msgID, found, err)
		}
	}
	err = store.View(ctx, func(tx engine.Tx) error {
		c, err := tx.Contact(phone)
		if err != nil {
			t.Fatal(err)
		}
		if c.OptedOut {
			t.Error("a status on an inbound id opted the contact out")
		}
		m, _ := tx.Message("in1")
		if m.Status != engine.StatusReceived || m.ErrorCode != 0 {
			t.Errorf("inbound message = %s %d, want %s 0", m.Status, m.ErrorCode, engine.StatusReceived)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A failed status that says the recipient stopped messages that are not
// answers, or that the WhatsApp window was closed, acts on the contact as
// the same refusal of a send does, on the provider's flags alone: a
// marketing opt-out of a forward stops nothing, and a window the contact
// opened again after the message was queued stays open.
func TestStatusRefusalsActOnTheContact(t *testing.T) {
	const phone = "+15550007002"
	queued := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		status      providers.Status
		purpose     engine.Purpose
		wroteAt     time.Time
		noMarketing bool
		windowOpen  bool
	}{
		{"marketing opt-out", providers.Status{Status: "failed", ErrorCode: 77, MarketingOptOut: true}, engine.PurposeReply, queued.Add(-time.Hour), true, true},
		{"marketing opt-out of a forward", providers.Status{Status: "failed", MarketingOptOut: true}, engine.PurposeForward, queued.Add(-time.Hour), false, true},
		{"a code without the flag", providers.Status{Status: "failed", ErrorCode: 131050}, engine.PurposeReply, queued.Add(-time.Hour), false, true},
		{"outside the window", providers.Status{Status: "failed", ErrorCode: 78, OutsideWindow: true}, engine.PurposeReply, queued.Add(-time.Hour), false, false},
		{"outside the window of staff", providers.Status{Status: "failed", OutsideWindow: true}, engine.PurposeForward, queued.Add(-time.Hour), false, false},
		{"outside the window, but the contact wrote since", providers.Status{Status: "failed", OutsideWindow: true}, engine.PurposeReply, queued.Add(time.Minute), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := mem.NewMemStore()
			e := engine.New(store, compileSet(t, "automations: []\n"), engine.Options{Logger: zerolog.Nop()})
			err := store.Update(ctx, func(tx engine.Tx) error {
				c := &engine.Contact{Phone: phone, LastInbound: map[string]time.Time{config.ChannelWhatsApp: tt.wroteAt}}
				if err := tx.PutContact(c); err != nil {
					return err
				}
				return tx.PutMessage(&engine.Message{
					ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Purpose: tt.purpose,
					Channel: config.ChannelWhatsApp, Contact: phone, From: "+15005550006", To: []string{phone},
					Status: engine.StatusSent, Provider: "engtest", ProviderID: "X1", CreatedAt: queued,
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			tt.status.ProviderID = "X1"
			if found, err := e.UpdateStatus(ctx, "engtest", tt.status, ""); err != nil || !found {
				t.Fatalf("UpdateStatus = %v, %v", found, err)
			}
			_ = store.View(ctx, func(tx engine.Tx) error {
				c, err := tx.Contact(phone)
				if err != nil {
					t.Fatal(err)
				}
				_, open := c.LastInbound[config.ChannelWhatsApp]
				if c.NoMarketing != tt.noMarketing || open != tt.windowOpen || c.OptedOut {
					t.Errorf("no marketing %v, window open %v, opted out %v; want %v, %v, false", c.NoMarketing, open, c.OptedOut, tt.noMarketing, tt.windowOpen)
				}
				return nil
			})
		})
	}
}

// Sender numbers come from any provider's section: replies go from them
// and steps naming them draw no warning.
func TestSenderNumbersOfAnyProvider(t *testing.T) {
	src := `
providers:
  engtest:
    numbers:
      - { number: "+15005550099" }
      - { number: "+15005550098" }
      - { number: "+14155230099", channel: whatsapp }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
      - { type: forward_to_mobile, to: ["+15550100100"] }
      - { type: reply, text: "From the second number", from: "+15005550098" }
`
	cfg, problems := config.Parse("t.yaml", []byte(src), nil)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	set, problems := engine.Compile(cfg)
	for _, p := range problems {
		switch p.Message {
		case "compliance.help.reply: the default help reply does not name your brand; carriers expect it to",
			// The automation also serves WhatsApp contacts, whom an SMS
			// number cannot answer.
			`automation "join" step 3: from +15005550098 is not a WhatsApp number; sent to a WhatsApp contact, this message would fail`:
		default:
			t.Errorf("problem: %s", p)
		}
	}
	if set == nil {
		t.Fatal("no set")
	}
	sim := sim.NewSimulator(set, nil)
	res, err := sim.Say(context.Background(), "JOIN")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 3 {
		t.Fatalf("sent %+v", res.Sent)
	}
	for i, want := range []string{"+15005550099", "+15005550099", "+15005550098"} {
		if res.Sent[i].From != want {
			t.Errorf("message %d (%q) from %q, want %q", i, res.Sent[i].Body, res.Sent[i].From, want)
		}
	}

	// A contact started by hand has written to no number: the first
	// configured one of the channel sends.
	ctx := context.Background()
	store := mem.NewMemStore()
	e := engine.New(store, set, engine.Options{Logger: zerolog.Nop()})
	if _, err := e.Start(ctx, "join", []string{"+15550007201"}); err != nil {
		t.Fatal(err)
	}
	_ = store.View(ctx, func(tx engine.Tx) error {
		ms, err := tx.Messages("+15550007201", 10)
		if err != nil || len(ms) == 0 {
			t.Fatalf("messages: %v, %v", ms, err)
		}
		if first := ms[len(ms)-1]; first.Body != "Welcome" || first.From != "+15005550099" {
			t.Errorf("first message %q from %q, want Welcome from +15005550099", first.Body, first.From)
		}
		return nil
	})
}

// recordingSender records what it sends and answers with an id.
type recordingSender struct {
	mu   sync.Mutex
	sent []providers.Outbound
	// sends, when set, is told each send too, for a test that waits on
	// them; it must have room for them all.
	sends chan providers.Outbound
}

func (r *recordingSender) Send(_ context.Context, m providers.Outbound) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	if r.sends != nil {
		r.sends <- m
	}
	return "P-" + m.ID, nil
}

// A text is stored with the provider it went through, as ProviderOf names
// it from its channel and sender number.
func TestOutboxStoresTheProviderOfTheSender(t *testing.T) {
	ctx := context.Background()
	store := mem.NewMemStore()
	msgs := []*engine.Message{
		{ID: "t1", Channel: config.ChannelSMS, From: "+15005550006", To: []string{"+15550007101"}, Body: "a"},
		{ID: "t2", Channel: config.ChannelSMS, From: "+15005550099", To: []string{"+15550007102"}, Body: "b"},
	}
	err := store.Update(ctx, func(tx engine.Tx) error {
		for _, m := range msgs {
			m.Direction, m.Kind, m.Status, m.Purpose = engine.Outbound, engine.KindText, engine.StatusQueued, engine.PurposeForward
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	of := map[string]string{"+15005550006": "twilio", "+15005550099": "engtest"}
	ob := outbox.NewOutbox(outbox.OutboxOptions{
		Store: store, Texter: &recordingSender{}, Logger: zerolog.Nop(), Provider: "default",
		ProviderOf: func(channel, from string) string { return of[from] },
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { ob.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	want := map[string][2]string{"t1": {"twilio", "P-t1"}, "t2": {"engtest", "P-t2"}}
	deadline := time.After(20 * time.Second)
	for {
		got := map[string][2]string{}
		_ = store.View(ctx, func(tx engine.Tx) error {
			for id := range want {
				if m, err := tx.Message(id); err == nil && m.Status == engine.StatusSent {
					got[id] = [2]string{m.Provider, m.ProviderID}
				}
			}
			return nil
		})
		if len(got) == len(want) {
			for id, w := range want {
				if got[id] != w {
					t.Errorf("%s stored as sent through %v, want %v", id, got[id], w)
				}
			}
			return
		}
		select {
		case <-deadline:
			t.Fatalf("not all sent: %v", got)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
