package fakes

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Email is one message the fake SMTP server accepted.
type Email struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Header  mail.Header
	Subject string // decoded
	Body    string // decoded, with LF line breaks; SMTP ends it with one
	Raw     string // the message as received
	User    string // who authenticated, if anyone
	At      time.Time
}

// SMTPOptions configure a fake SMTP server.
type SMTPOptions struct {
	// Username and Password, when set, make the server offer AUTH PLAIN and
	// refuse mail from a session that has not authenticated with them.
	Username, Password string
	// TLS, when set, makes the server offer STARTTLS with this config.
	TLS *tls.Config
	// ImplicitTLS makes the server speak TLS from the first byte (SMTPS);
	// it needs TLS.
	ImplicitTLS bool
}

// SMTP is a fake SMTP server on loopback: it records every message it
// accepts and can be scripted to refuse the next ones with FailNext. Its
// methods are safe for concurrent use.
type SMTP struct {
	opts SMTPOptions
	srv  *smtp.Server
	addr *net.TCPAddr

	mu       sync.Mutex
	emails   []Email
	attempts int // MAIL FROM commands received, refused ones included
	failLeft int
	failCode int
}

// NewSMTP starts a fake SMTP server on 127.0.0.1 without TLS or auth. It is
// closed when the test ends.
func NewSMTP(t testing.TB) *SMTP { return NewSMTPWith(t, SMTPOptions{}) }

// NewSMTPWith starts a fake SMTP server with options. It is closed when the
// test ends.
func NewSMTPWith(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	if o.ImplicitTLS && o.TLS == nil {
		t.Fatal("fakes: ImplicitTLS needs a TLS config")
	}
	f := &SMTP{opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{f: f}, nil
	}))
	srv.Domain = "smtp.keyway.test"
	srv.AllowInsecureAuth = true // loopback only
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	// Connection errors (a client hanging up) are no test's business, and
	// the test may have ended by the time a closed connection reports one.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener
	var err error
	if o.ImplicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.TLS)
	} else {
		srv.TLSConfig = o.TLS
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("fakes: smtp listen: %v", err)
	}
	f.srv, f.addr = srv, ln.Addr().(*net.TCPAddr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return f
}

// Addr returns the server's host:port.
func (f *SMTP) Addr() string { return f.addr.String() }

// Host returns the server's IP address, 127.0.0.1.
func (f *SMTP) Host() string { return f.addr.IP.String() }

// Port returns the server's port.
func (f *SMTP) Port() int { return f.addr.Port }

// FailNext makes the next n transactions fail at MAIL FROM with code, e.g.
// FailNext(2, 451) for a server that is busy or FailNext(1, 550) for one
// that refuses the sender. It replaces any failure still scripted.
func (f *SMTP) FailNext(n, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLeft, f.failCode = n, code
}

// Attempts counts the transactions started (MAIL FROM), refused ones
// included.
func (f *SMTP) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (f *SMTP) Messages() []Email {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Email, len(f.emails))
	for i, e := range f.emails {
		e.To = append([]string(nil), e.To...)
		out[i] = e
	}
	return out
}

// WaitMessages waits until at least n messages have been accepted and
// returns them all; after timeout it fails the test, listing what it has.
// Call it from the test's goroutine.
func (f *SMTP) WaitMessages(t testing.TB, n int, timeout time.Duration) []Email {
	t.Helper()
	deadline := time.After(timeout)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		got := f.Messages()
		if len(got) >= n {
			return got
		}
		select {
		case <-poll.C:
			continue
		case <-deadline:
		}
		if got = f.Messages(); len(got) >= n {
			return got
		}
		var b strings.Builder
		for i, e := range got {
			fmt.Fprintf(&b, "\n  %d: %s -> %v: %q", i, e.From, e.To, e.Subject)
		}
		t.Fatalf("fakes: waited %v for %d emails, got %d (%d attempts):%s", timeout, n, len(got), f.Attempts(), b.String())
		return got
	}
}

// smtpSession is one SMTP connection to the fake.
type smtpSession struct {
	f    *SMTP
	user string
	from string
	to   []string
}

// AuthMechanisms offers PLAIN when the fake has credentials.
func (s *smtpSession) AuthMechanisms() []string {
	if s.f.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials against the fake's.
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.f.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.f.opts.Username || pass != s.f.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	f := s.f
	f.mu.Lock()
	f.attempts++
	fail, code := f.failLeft > 0, f.failCode
	if fail {
		f.failLeft--
	}
	f.mu.Unlock()
	if f.opts.Username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	if fail {
		class := code / 100
		return &smtp.SMTPError{
			Code:         code,
			EnhancedCode: smtp.EnhancedCode{class, 0, 0},
			Message:      fmt.Sprintf("fakes: scripted failure %d", code),
		}
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e := Email{From: s.from, To: append([]string(nil), s.to...), Raw: string(raw), User: s.user, At: time.Now()}
	if err := parseEmail(&e, raw); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "fakes: malformed message: " + err.Error()}
	}
	s.f.mu.Lock()
	s.f.emails = append(s.f.emails, e)
	s.f.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset() { s.from, s.to = "", nil }

func (s *smtpSession) Logout() error { return nil }

// parseEmail fills e's header, subject and body from the raw message.
func parseEmail(e *Email, raw []byte) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	e.Header = msg.Header
	dec := new(mime.WordDecoder)
	if e.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	var body io.Reader = msg.Body
	switch enc := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); enc {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "", "7bit", "8bit", "binary":
	default:
		return errors.New("unknown transfer encoding " + strconv.Quote(enc))
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	e.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies break lines with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
