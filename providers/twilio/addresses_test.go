package twilio_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Webhook forms as Twilio posts them, field for field.
var (
	// shortCodeForm is an SMS to the short code 55123 through a Messaging
	// Service.
	shortCodeForm = url.Values{
		"ToCountry": {"US"}, "ToState": {""}, "SmsMessageSid": {"SM22222222222222222222222222222222"},
		"NumMedia": {"0"}, "ToCity": {""}, "FromZip": {"94105"}, "SmsSid": {"SM22222222222222222222222222222222"},
		"FromState": {"CA"}, "SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {"JOIN"},
		"FromCountry": {"US"}, "To": {"55123"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"},
		"ToZip": {""}, "NumSegments": {"1"}, "MessageSid": {"SM22222222222222222222222222222222"},
		"AccountSid": {testSID}, "From": {"+14155552671"}, "ApiVersion": {"2010-04-01"},
	}
	// alphanumericForm is an SMS from the alphanumeric sender MyBrand.
	alphanumericForm = url.Values{
		"ToCountry": {"GB"}, "ToState": {""}, "SmsMessageSid": {"SM33333333333333333333333333333333"},
		"NumMedia": {"0"}, "ToCity": {""}, "FromZip": {""}, "SmsSid": {"SM33333333333333333333333333333333"},
		"FromState": {""}, "SmsStatus": {"received"}, "FromCity": {""}, "Body": {"Your code is 1234"},
		"FromCountry": {"GB"}, "To": {"+447700900123"}, "ToZip": {""}, "NumSegments": {"1"},
		"MessageSid": {"SM33333333333333333333333333333333"}, "AccountSid": {testSID}, "From": {"MyBrand"},
		"ApiVersion": {"2010-04-01"},
	}
	// whatsappUserForm is a WhatsApp message from a user known by a
	// business-scoped user id only: no WaId.
	whatsappUserForm = url.Values{
		"SmsMessageSid": {"SM44444444444444444444444444444444"}, "NumMedia": {"0"},
		"ProfileName": {"Ana"}, "MessageType": {"text"}, "SmsSid": {"SM44444444444444444444444444444444"},
		"SmsStatus": {"received"}, "Body": {"REMIND"}, "To": {"whatsapp:+14155238886"},
		"NumSegments": {"1"}, "ReferralNumMedia": {"0"}, "MessageSid": {"SM44444444444444444444444444444444"},
		"AccountSid": {testSID}, "From": {"whatsapp:US.13491208655302741918"},
		"ExternalUserId": {"US.13491208655302741918"}, "ApiVersion": {"2010-04-01"},
	}
)

func TestParseInboundAddresses(t *testing.T) {
	tests := []struct {
		name                string
		form                url.Values
		channel, from, to   string
		wantErr, wantInText string
	}{
		{name: "short code through a messaging service", form: shortCodeForm, channel: config.ChannelSMS, from: "+14155552671", to: "55123"},
		{name: "alphanumeric sender", form: alphanumericForm, channel: config.ChannelSMS, from: "MyBrand", to: "+447700900123"},
		{name: "alphanumeric sender with a space", form: with(alphanumericForm, "From", "Shop 24"), channel: config.ChannelSMS, from: "Shop 24", to: "+447700900123"},
		{name: "whatsapp user id", form: whatsappUserForm, channel: config.ChannelWhatsApp, from: "US.13491208655302741918", to: "+14155238886"},
		{name: "whatsapp user id with a phone as well", form: with(whatsappUserForm, "From", "whatsapp:+14155552671", "WaId", "14155552671"), channel: config.ChannelWhatsApp, from: "+14155552671", to: "+14155238886"},

		{name: "plus signs", form: with(shortCodeForm, "From", "+++"), wantErr: "From"},
		{name: "sender id as an Indian carrier passes it", form: with(alphanumericForm, "From", "VM-HDFCBK"), channel: config.ChannelSMS, from: "VM-HDFCBK", to: "+447700900123"},
		{name: "sender id over eleven characters", form: with(alphanumericForm, "From", "MyBrandIsLong"), channel: config.ChannelSMS, from: "MyBrandIsLong", to: "+447700900123"},
		{name: "sender id with a dot", form: with(alphanumericForm, "From", "Acme.com"), channel: config.ChannelSMS, from: "Acme.com", to: "+447700900123"},
		{name: "an email address", form: with(shortCodeForm, "From", "ann@example.com"), wantErr: "From"},
		{name: "sender id too long", form: with(alphanumericForm, "From", "MyBrandIsFarTooLongHere"), wantErr: "From"},
		{name: "user id on sms", form: with(shortCodeForm, "From", "US.13491208655302741918"), wantErr: "From"},
		{name: "sender id on whatsapp", form: with(whatsappUserForm, "From", "whatsapp:MyBrand"), wantErr: "From"},
		{name: "short code on whatsapp", form: with(whatsappUserForm, "To", "whatsapp:55123"), wantErr: "To"},
		{name: "two-digit To", form: with(shortCodeForm, "To", "12"), wantErr: "To"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, false, "")
			got, err := p.ParseInbound(webhook{form: tt.form}.request())
			if tt.wantErr != "" {
				if !errors.Is(err, providers.ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseInbound error = %v, want ErrMalformed about %s", err, tt.wantErr)
				}
				if raw := tt.form.Get(tt.wantErr); len(raw) > 6 && strings.Contains(err.Error(), raw) {
					t.Errorf("error shows %q unmasked: %v", raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInbound: %v", err)
			}
			if got.Channel != tt.channel || got.From != tt.from || got.To != tt.to {
				t.Errorf("ParseInbound = channel %q from %q to %q, want %q %q %q", got.Channel, got.From, got.To, tt.channel, tt.from, tt.to)
			}
			if !reflect.DeepEqual(got.Fields, firsts(tt.form)) {
				t.Errorf("Fields = %v, want every field as posted", got.Fields)
			}
		})
	}
}

func TestSendToAddresses(t *testing.T) {
	tests := []struct {
		name     string
		m        providers.Outbound
		from, to string
	}{
		{"from a short code", providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: "55123", To: contact, Body: "Hi"}, "55123", contact},
		{"to a whatsapp user id", providers.Outbound{ID: "m2", Channel: config.ChannelWhatsApp, From: ourWA, To: "US.13491208655302741918", Body: "Hi"}, "whatsapp:" + ourWA, "whatsapp:US.13491208655302741918"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			p := newProvider(t, false, fake.URL())
			if _, err := p.Send(context.Background(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			sent := fake.Sent()
			if len(sent) != 1 || sent[0].From != tt.from || sent[0].To != tt.to {
				t.Fatalf("fake got %+v, want From %s To %s", sent, tt.from, tt.to)
			}
		})
	}
}
