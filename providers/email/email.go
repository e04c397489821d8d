// Package email sends keyway's staff emails (forward_to_email) through an
// SMTP server with go-mail, and types its failures as providers.SendError
// so that the outbox retries what a later attempt may deliver.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	gomail "github.com/wneessen/go-mail"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// TLS modes of email.smtp.tls.
const (
	TLSNone     = "none"     // plain SMTP, no TLS at all
	TLSStartTLS = "starttls" // STARTTLS, required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// Timeout bounds one delivery: connecting, the SMTP dialogue and the data.
const Timeout = 30 * time.Second

// Mailer delivers emails to one SMTP server. Each Mail opens its own
// connection, so a Mailer is safe for concurrent use.
type Mailer struct {
	cfg    config.SMTP
	from   *mail.Address
	domain string // of From, for Message-IDs
	log    zerolog.Logger
	// tlsConfig verifies the server; tests swap in one that trusts their
	// own certificate.
	tlsConfig *tls.Config
}

// New returns a mailer for the SMTP server c, as validated by config: c.TLS
// is none, starttls or tls, and c.From a valid address. Authentication is
// used only when c.Username is set: PLAIN, else LOGIN, else the strongest
// other mechanism the server offers; PLAIN and LOGIN send the password only
// over TLS or to a server on localhost.
func New(c config.SMTP, log zerolog.Logger) (*Mailer, error) {
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q is not a valid address: %w", c.From, err)
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	case "":
		c.TLS = TLSStartTLS
	default:
		return nil, fmt.Errorf("email: tls must be none, starttls or tls, not %q", c.TLS)
	}
	if c.Host == "" || c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("email: bad server address %q port %d", c.Host, c.Port)
	}
	m := &Mailer{
		cfg:       c,
		from:      from,
		domain:    from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		log:       log.With().Str("component", "email").Logger(),
		tlsConfig: &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12},
	}
	l := m.log.Info().Str("server", fmt.Sprintf("%s:%d", c.Host, c.Port)).Str("tls", c.TLS).
		Str("from", Mask(from.Address)).Bool("auth", c.Username != "")
	l.Msg("email: SMTP mailer ready")
	if c.TLS == TLSNone && c.Username != "" {
		m.log.Warn().Msg("email: tls is none: the password is sent only to a server on localhost; others will refuse to authenticate")
	}
	return m, nil
}

// Mail delivers e. A failure is a *providers.SendError: retryable for
// network errors and SMTP 4xx replies, permanent for 5xx replies and for
// settings that cannot work (a server without STARTTLS, a certificate that
// does not verify).
func (m *Mailer) Mail(ctx context.Context, e providers.Email) error {
	msg, err := m.message(e)
	if err != nil {
		return &providers.SendError{Err: fmt.Errorf("email %s: %w", e.ID, err)}
	}
	client, err := gomail.NewClient(m.cfg.Host, m.options()...)
	if err != nil {
		return &providers.SendError{Err: fmt.Errorf("email %s: smtp client: %w", e.ID, err)}
	}
	start := time.Now()
	err = client.DialAndSendWithContext(ctx, msg)
	log := m.log.With().Str("msg_id", e.ID).Str("to", MaskAll(e.To)).Dur("took", time.Since(start)).Logger()
	if err != nil {
		se := classify(err)
		se.Err = fmt.Errorf("email %s to %s:%d: %w", e.ID, m.cfg.Host, m.cfg.Port, err)
		log.Debug().Err(err).Int("smtp_code", se.Code).Bool("retryable", se.Retryable).Msg("email: not delivered")
		return se
	}
	log.Debug().Msg("email: delivered")
	return nil
}

// message builds the email: From from the config, a plain-text body and a
// Message-ID made of keyway's message id, so that a retry of the same
// message carries the same id.
func (m *Mailer) message(e providers.Email) (*gomail.Msg, error) {
	if len(e.To) == 0 {
		return nil, errors.New("no recipients")
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(m.from)
	if err := msg.To(e.To...); err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	msg.Subject(e.Subject)
	msg.SetDate()
	if e.ID != "" {
		msg.SetMessageIDWithValue(e.ID + ".keyway@" + m.domain)
	} else {
		msg.SetMessageID()
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetUserAgent("keyway")
	msg.SetBodyString(gomail.TypeTextPlain, e.Body)
	return msg, nil
}

// options turns the config into go-mail client options.
func (m *Mailer) options() []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(m.cfg.Port),
		gomail.WithTimeout(Timeout),
		gomail.WithTLSConfig(m.tlsConfig.Clone()),
	}
	switch m.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.Username != "" {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(m.cfg.Username),
			gomail.WithPassword(m.cfg.Password),
		)
	}
	return opts
}

// classify says whether a failed delivery may succeed later. It fills
// Code with the SMTP reply code when the server gave one.
func classify(err error) *providers.SendError {
	if code := smtpCode(err); code != 0 {
		return &providers.SendError{Code: code, Retryable: code >= 400 && code < 500, Reason: serverSaid(err, code)}
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		sendErr  *gomail.SendError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &record):
		// The server's certificate or protocol does not match the
		// settings: retrying will not change that.
		return &providers.SendError{Reason: "the mail server's certificate or TLS does not match email.smtp (the log says how)"}
	case errors.As(err, &sendErr):
		// go-mail's own failures without a reply code: bad addresses are
		// permanent, a connection lost mid-dialogue is not.
		switch sendErr.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts:
			return &providers.SendError{Reason: "an address of the email is not valid"}
		case gomail.ErrNoUnencoded:
			return &providers.SendError{Reason: "the email could not be encoded"}
		}
		return &providers.SendError{Retryable: true, Reason: "the connection to the mail server was lost"}
	case errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return &providers.SendError{Retryable: true, Reason: "keyway could not reach the mail server"}
	}
	// What is left is a mismatch of settings found before any mail moved:
	// no STARTTLS offered, no usable AUTH mechanism, a password refused
	// over plain text.
	return &providers.SendError{Reason: "the mail server does not accept email.smtp's settings (the log says why)"}
}

// serverSaid is the mail server's reply that err carries, whose code is
// code, in words for people: "the mail server answered 550 5.1.1 No such
// user". go-mail's error names the command and the message id around the
// reply; without its text it is the code alone.
func serverSaid(err error, code int) string {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return fmt.Sprintf("the mail server answered %d %s", tp.Code, strings.TrimSpace(tp.Msg))
	}
	said := fmt.Sprint(code)
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		text := sendErr.Error()
		if _, after, ok := strings.Cut(text, sendErr.Reason.String()+": "); ok {
			text, _, _ = strings.Cut(after, ", affected ")
			if strings.HasPrefix(text, said+" ") {
				said = strings.TrimSpace(text)
			}
		}
	}
	return "the mail server answered " + said
}

// smtpCode returns the SMTP reply code carried by err, or 0.
func smtpCode(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		if c := sendErr.ErrorCode(); c >= 400 && c < 600 {
			return c
		}
	}
	return 0
}

// Mask hides most of an email address for logs: its first letter, a star
// for each other character of the local part, then the domain:
// "ann@acme.example" becomes "a**@acme.example". A "Name <addr>" form is
// reduced to its masked address.
func Mask(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return strings.Repeat("*", len([]rune(addr)))
	}
	local := []rune(addr[:at])
	if len(local) == 0 {
		return addr
	}
	return string(local[0]) + strings.Repeat("*", len(local)-1) + addr[at:]
}

// MaskAll masks each address and joins them with commas.
func MaskAll(addrs []string) string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = Mask(a)
	}
	return strings.Join(out, ",")
}

var _ providers.Mailer = (*Mailer)(nil)
