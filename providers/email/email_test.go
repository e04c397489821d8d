package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/test/fakes"
)

const from = "Acme Support <sms@acme.test>"

func smtpConfig(f *fakes.SMTP, tlsMode string) config.SMTP {
	return config.SMTP{Host: f.Host(), Port: f.Port(), TLS: tlsMode, From: from}
}

func newMailer(t *testing.T, c config.SMTP) (*Mailer, *fakes.Logs) {
	t.Helper()
	logs := &fakes.Logs{}
	m, err := New(c, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, logs
}

func send(t *testing.T, m *Mailer, e providers.Email) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Mail(ctx, e)
}

var forward = providers.Email{
	ID:      "00000190a1b2c3d4e5f6a7",
	To:      []string{"support@acme.test", "Ann Lee <ann@acme.test>"},
	Subject: "SMS from +15550001111 (Zoë)",
	Body:    "From: +15550001111 (Zoë)\n\n\"Is the shop open on Sunday? ☀️\"\n\nMedia:\nhttps://example.com/a.jpg\n",
}

func TestEmailDelivers(t *testing.T) {
	f := fakes.NewSMTP(t)
	m, logs := newMailer(t, smtpConfig(f, TLSNone))
	if err := send(t, m, forward); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	got := f.WaitMessages(t, 1, 5*time.Second)[0]
	if got.From != "sms@acme.test" {
		t.Errorf("envelope from = %q", got.From)
	}
	if want := []string{"support@acme.test", "ann@acme.test"}; strings.Join(got.To, ",") != strings.Join(want, ",") {
		t.Errorf("envelope to = %v, want %v", got.To, want)
	}
	if got.Subject != forward.Subject {
		t.Errorf("subject = %q, want %q", got.Subject, forward.Subject)
	}
	if got.Body != forward.Body {
		t.Errorf("body = %q, want %q", got.Body, forward.Body)
	}
	if id := got.Header.Get("Message-Id"); id != "<00000190a1b2c3d4e5f6a7.keyway@acme.test>" {
		t.Errorf("Message-ID = %q", id)
	}
	if h := got.Header.Get("From"); !strings.Contains(h, "<sms@acme.test>") {
		t.Errorf("From header = %q", h)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if h := got.Header.Get("Auto-Submitted"); h != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", h)
	}
	out := logs.String()
	for _, secret := range []string{"support@acme.test", "ann@acme.test", "sms@acme.test", "Sunday"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "s******@acme.test") {
		t.Errorf("log does not name the masked recipient:\n%s", out)
	}
}

func TestEmailAuth(t *testing.T) {
	f := fakes.NewSMTPWith(t, fakes.SMTPOptions{Username: "keyway", Password: "s3cret-pw"})
	cases := []struct {
		label      string
		user, pass string
		wantErr    bool
	}{
		{"right credentials", "keyway", "s3cret-pw", false},
		{"wrong password", "keyway", "nope-pw", true},
		{"no credentials for a server that wants them", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			cfg := smtpConfig(f, TLSNone)
			cfg.Username, cfg.Password = c.user, c.pass
			m, logs := newMailer(t, cfg)
			err := send(t, m, forward)
			if (err != nil) != c.wantErr {
				t.Fatalf("Mail error = %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				var se *providers.SendError
				if !errors.As(err, &se) || se.Retryable {
					t.Errorf("refused auth: %#v, want a permanent *providers.SendError", err)
				}
			}
			for _, secret := range []string{"s3cret-pw", "nope-pw"} {
				if strings.Contains(logs.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("password %q leaked: log %s err %v", secret, logs.String(), err)
				}
			}
		})
	}
	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].User != "keyway" {
		t.Fatalf("server accepted %d messages (%+v), want 1 from an authenticated session", len(msgs), msgs)
	}
}

func TestEmailErrors(t *testing.T) {
	cases := []struct {
		label     string
		failCode  int
		retryable bool
	}{
		{"4xx is retryable", 451, true},
		{"421 is retryable", 421, true},
		{"5xx is permanent", 550, false},
		{"554 is permanent", 554, false},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			f := fakes.NewSMTP(t)
			f.FailNext(1, c.failCode)
			m, _ := newMailer(t, smtpConfig(f, TLSNone))
			err := send(t, m, forward)
			var se *providers.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Mail error = %v, want a *providers.SendError", err)
			}
			if se.Retryable != c.retryable || se.Code != c.failCode {
				t.Errorf("error %v: retryable %v code %d, want %v %d", err, se.Retryable, se.Code, c.retryable, c.failCode)
			}
			if providers.IsRetryable(err) != c.retryable {
				t.Errorf("IsRetryable = %v", providers.IsRetryable(err))
			}
			// People read the server's reply, not where it came from.
			want := fmt.Sprintf("the mail server answered %d", c.failCode)
			if got := providers.Reason(err); !strings.HasPrefix(got, want) || !strings.Contains(got, "fakes: scripted failure") || strings.Contains(got, "affected") {
				t.Errorf("Reason = %q, want the server's reply after %q", got, want)
			}
			// The next attempt goes through.
			if err := send(t, m, forward); err != nil {
				t.Fatalf("second attempt: %v", err)
			}
			if n := len(f.Messages()); n != 1 {
				t.Errorf("server holds %d messages, want 1", n)
			}
		})
	}
}

func TestEmailConnectionRefusedIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m, _ := newMailer(t, config.SMTP{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: from})
	err = send(t, m, forward)
	var se *providers.SendError
	if !errors.As(err, &se) || !se.Retryable {
		t.Fatalf("Mail to a closed port = %#v, want a retryable *providers.SendError", err)
	}
	if got := providers.Reason(err); got != "keyway could not reach the mail server" {
		t.Errorf("Reason = %q", got)
	}
}

func TestEmailTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	cases := []struct {
		label   string
		server  fakes.SMTPOptions
		mode    string
		trust   bool
		wantErr bool
	}{
		{"starttls", fakes.SMTPOptions{TLS: serverTLS}, TLSStartTLS, true, false},
		{"implicit tls", fakes.SMTPOptions{TLS: serverTLS, ImplicitTLS: true}, TLSImplicit, true, false},
		{"starttls with auth", fakes.SMTPOptions{TLS: serverTLS, Username: "u", Password: "p"}, TLSStartTLS, true, false},
		{"starttls required but not offered", fakes.SMTPOptions{}, TLSStartTLS, true, true},
		{"untrusted certificate", fakes.SMTPOptions{TLS: serverTLS}, TLSStartTLS, false, true},
		{"implicit tls against a plain server", fakes.SMTPOptions{}, TLSImplicit, true, true},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			f := fakes.NewSMTPWith(t, c.server)
			cfg := smtpConfig(f, c.mode)
			cfg.Username, cfg.Password = c.server.Username, c.server.Password
			m, _ := newMailer(t, cfg)
			if c.trust {
				m.tlsConfig.RootCAs = roots
			}
			err := send(t, m, forward)
			if !c.wantErr {
				if err != nil {
					t.Fatalf("Mail: %v", err)
				}
				if got := f.WaitMessages(t, 1, 5*time.Second); got[0].Subject != forward.Subject {
					t.Errorf("subject = %q", got[0].Subject)
				}
				return
			}
			var se *providers.SendError
			if !errors.As(err, &se) || se.Retryable {
				t.Fatalf("Mail error = %#v, want a permanent *providers.SendError", err)
			}
			t.Logf("refused as expected: %v", err)
			if n := len(f.Messages()); n != 0 {
				t.Errorf("server accepted %d messages over a connection that should have failed", n)
			}
		})
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	cases := []struct {
		label string
		cfg   config.SMTP
	}{
		{"bad from", config.SMTP{Host: "h", Port: 25, TLS: TLSNone, From: "nope"}},
		{"bad tls", config.SMTP{Host: "h", Port: 25, TLS: "ssl", From: from}},
		{"no host", config.SMTP{Port: 25, TLS: TLSNone, From: from}},
		{"bad port", config.SMTP{Host: "h", Port: 0, TLS: TLSNone, From: from}},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			if _, err := New(c.cfg, zerolog.Nop()); err == nil {
				t.Fatal("New accepted bad settings")
			}
		})
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ann@acme.test", "a**@acme.test"},
		{"Ann Lee <ann@acme.test>", "a**@acme.test"},
		{"a@acme.test", "a@acme.test"},
		{"zoë.smith@acme.test", "z********@acme.test"},
		{"no-at-sign", "**********"},
		{"@acme.test", "@acme.test"},
	}
	for _, c := range cases {
		if got := Mask(c.in); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := MaskAll([]string{"ann@a.test", "bo@b.test"}); got != "a**@a.test,b*@b.test" {
		t.Errorf("MaskAll = %q", got)
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 with a fresh
// self-signed certificate, and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtp.keyway.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}
