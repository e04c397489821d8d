package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// FindSent reads Twilio's message log through the Messages list: it finds
// the messages between the two numbers with the body, since the time given,
// oldest first, on SMS and WhatsApp, and nothing else.
func TestFindSent(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, false, f.URL())
	ctx := context.Background()
	since := time.Now().Add(-time.Minute)
	send := func(m providers.Outbound) string {
		t.Helper()
		sid, err := p.Send(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return sid
	}
	sms := providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "Open 7-6"}
	first := send(sms)
	second := send(sms)
	send(providers.Outbound{ID: "m2", From: ourSMS, To: contact, Body: "other"})
	send(providers.Outbound{ID: "m3", From: ourSMS, To: "+14155550000", Body: "Open 7-6"})
	wa := providers.Outbound{ID: "m4", Channel: config.ChannelWhatsApp, From: ourWA, To: contact, Body: "Open 7-6"}
	onWA := send(wa)

	got, err := p.FindSent(ctx, sms, since)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{first, second}) {
		t.Errorf("sms: found %v, want %v oldest first", got, []string{first, second})
	}
	if got, err = p.FindSent(ctx, wa, since); err != nil || !slices.Equal(got, []string{onWA}) {
		t.Errorf("whatsapp: found %v (%v), want [%s]", got, err, onWA)
	}
	if got, err = p.FindSent(ctx, sms, time.Now().Add(time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("since later: found %v (%v), want none", got, err)
	}
	tmpl := providers.Outbound{ID: "m5", From: ourSMS, To: "+14155550001", ContentSID: "HX1"}
	sent := send(tmpl)
	if got, err = p.FindSent(ctx, tmpl, since); err != nil || !slices.Equal(got, []string{sent}) {
		t.Errorf("template send: found %v (%v), want [%s]", got, err, sent)
	}
	if n := f.Lookups(); n != 4 {
		t.Errorf("%d list requests, want 4", n)
	}
}

// A log that cannot be read is an error, never "not found"; in dev mode
// nothing was sent, so nothing is found and Twilio is not asked.
func TestFindSentErrorsAndDevMode(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, false, f.URL())
	m := providers.Outbound{ID: "m1", From: ourSMS, To: contact, Body: "hi"}
	f.FailNext(1, http.StatusServiceUnavailable, 0)
	if got, err := p.FindSent(context.Background(), m, time.Now()); err == nil || errors.Is(err, providers.ErrNoMessageLog) {
		t.Fatalf("Twilio down: found %v, error %v; want a passing failure", got, err)
	}
	// An API without the list (a stand-in that knows only how to send)
	// has no log: the caller sends again rather than wait for one.
	for _, c := range []struct {
		status      int
		ctype, body string
	}{
		{http.StatusMethodNotAllowed, "text/plain", "Method Not Allowed\n"},
		{http.StatusNotFound, "application/json", `{"code":20404,"message":"not found","status":404}`},
		{http.StatusOK, "text/html", "<html>hello</html>"},
	} {
		base, _ := rawServer(t, c.status, c.ctype, c.body)
		other := newProvider(t, false, base)
		if got, err := other.FindSent(context.Background(), m, time.Now()); !errors.Is(err, providers.ErrNoMessageLog) {
			t.Errorf("answer %d %s: found %v, error %v; want ErrNoMessageLog", c.status, c.body, got, err)
		}
	}
	dev := newProvider(t, true, f.URL())
	if got, err := dev.FindSent(context.Background(), m, time.Now()); err != nil || len(got) != 0 {
		t.Fatalf("dev mode: found %v (%v)", got, err)
	}
	if n := f.Requests(); n != 1 {
		t.Fatalf("%d requests to Twilio, want 1", n)
	}
}
