// Package test drives the real keyway binary end to end: it builds it once
// (TestMain), starts it on a temporary data folder, posts Twilio-signed
// webhooks over HTTP on loopback and watches what it sends through a fake
// Twilio REST API, an in-process SMTP server and httptest endpoints.
package test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/providers/twilio"
	"github.com/keyway-sms/keyway/test/fakes"
)

// binary is the keyway binary built once for the whole run.
var binary string

// e2eParallel is how many of these tests run at once unless -parallel
// says otherwise. Each spends most of its time waiting on the keyway it
// started (its webhooks, waits, retries, restarts): at Go's default, one
// per core, the package kept about a third of two cores busy and took
// about eight minutes; at eight it takes about three.
const e2eParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(e2eParallel)); err != nil {
			fmt.Fprintln(os.Stderr, "set -test.parallel:", err)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "keyway-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "keyway")
	// keywaytest adds test/fakeprovider, a provider that proves the
	// providers seam (providers_test.go); the released binary lacks it.
	args := []string{"build", "-tags", "keywaytest", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/keyway")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keyway:", err)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.Stop() // the PostgreSQL cluster of postgres_test.go, if it started one
	os.RemoveAll(dir)
	os.Exit(code)
}

// Numbers the harness configures as our sender numbers.
const (
	OurSMS      = "+15005550006"
	OurWhatsApp = "+14155238886"
	PublicURL   = "https://sms.keyway.test"
	AdminToken  = "admin-token-for-e2e-tests"
)

// Gateway is a running keyway binary with its fakes.
type Gateway struct {
	t      testing.TB
	Dir    string // data folder and config live here
	Config string // config file path
	Twilio *fakes.Twilio
	URL    string // http://127.0.0.1:PORT

	// cmdArgs are the serve flags after --config (default: debug logs).
	cmdArgs []string
	// wrap, if set, is a command keyway runs under: its words come before
	// the binary's path and arguments (e.g. unshare to mount a tmpfs).
	wrap []string
	// AdminUsers, if set, are lines of YAML that WriteConfig puts under
	// admin: (e.g. "  users:\n    - { name: ..., role: staff }\n").
	AdminUsers string
	// postgres, if set, is the DSN of the database the config names in
	// storage.postgres, in place of a bbolt file in Dir.
	postgres string
	// retention, if set, is the config's storage.retention.
	retention string
	// env holds NAME=value pairs added to keyway's environment.
	env []string

	cmd  *exec.Cmd
	logs *fakes.Logs
	exit chan error
	sids atomic.Int64
}

// StartGateway writes a config (server, storage, admin and a Twilio
// account on the fake, then body: groups, automations, http, email...)
// and starts keyway on it. The gateway is stopped when the test ends.
func StartGateway(t testing.TB, body string) *Gateway {
	t.Helper()
	g := newGateway(t, body)
	g.startUntilEnd()
	return g
}

// newGateway writes the config StartGateway would, in a folder of the
// test's, and returns the gateway not started yet: for a test that changes
// the config or how keyway runs first.
func newGateway(t testing.TB, body string) *Gateway {
	t.Helper()
	g := &Gateway{t: t, Dir: t.TempDir(), Twilio: fakes.NewTwilio(t)}
	g.Config = filepath.Join(g.Dir, "keyway.yaml")
	g.WriteConfig(body)
	return g
}

// startUntilEnd starts g and stops it when its test ends, showing its log
// if the test failed.
func (g *Gateway) startUntilEnd() {
	g.t.Helper()
	g.Start()
	g.t.Cleanup(func() {
		g.Stop()
		if g.t.Failed() {
			g.t.Logf("keyway log:\n%s", g.Logs())
		}
	})
}

// WriteConfig replaces the config file; the running gateway may reload it.
func (g *Gateway) WriteConfig(body string) {
	g.t.Helper()
	head := fmt.Sprintf(`server:
  listen: "127.0.0.1:0"
  public_url: %q
storage:
  %s
admin:
  token: %q
%sproviders:
  twilio:
    account_sid: %q
    auth_token: %q
    api_base_url: %q
    numbers:
      - { number: %q, channel: sms }
      - { number: %q, channel: whatsapp }
`, PublicURL, g.storage(), AdminToken, g.AdminUsers,
		g.Twilio.AccountSID, g.Twilio.AuthToken, g.Twilio.URL(), OurSMS, OurWhatsApp)
	if err := os.WriteFile(g.Config, []byte(head+body), 0o600); err != nil {
		g.t.Fatal(err)
	}
}

// storage is the config's storage setting: the bbolt file in Dir, or the
// PostgreSQL database the gateway shares with others.
func (g *Gateway) storage() string {
	s := fmt.Sprintf("path: %q", filepath.Join(g.Dir, "data", "keyway.db"))
	if g.postgres != "" {
		s = fmt.Sprintf("postgres: %q", g.postgres)
	}
	if g.retention != "" {
		s += fmt.Sprintf("\n  retention: %q", g.retention)
	}
	return s
}

var listening = regexp.MustCompile(`"listen":"([^"]+)"[^\n]*"message":"keyway serving"`)

// Start starts keyway and waits until it answers /readyz.
func (g *Gateway) Start() {
	g.t.Helper()
	g.launch()
	g.waitReady()
}

// launch starts keyway without waiting for it.
func (g *Gateway) launch() {
	g.t.Helper()
	g.logs = &fakes.Logs{}
	args := g.cmdArgs
	if args == nil {
		args = []string{"--log-level", "debug"}
	}
	argv := append([]string{binary, "serve", "--config", g.Config}, args...)
	if g.wrap != nil {
		argv = append(append([]string(nil), g.wrap...), argv...)
	}
	g.cmd = exec.Command(argv[0], argv[1:]...)
	g.cmd.Dir = g.Dir
	g.cmd.Env = append(append(os.Environ(), "TWILIO_EDGE=", "TWILIO_REGION="), g.env...)
	g.cmd.Stdout = g.logs
	g.cmd.Stderr = g.logs
	if err := g.cmd.Start(); err != nil {
		g.t.Fatalf("start keyway: %v", err)
	}
	g.exit = make(chan error, 1)
	go func(cmd *exec.Cmd, exit chan error) { exit <- cmd.Wait() }(g.cmd, g.exit)
}

// waitReady waits until the keyway launch started answers /readyz, and
// fails the test if it exits first.
func (g *Gateway) waitReady() {
	g.t.Helper()
	deadline := time.After(patience)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	g.URL = "" // until this run logs where it listens
	for {
		if g.URL == "" {
			if m := listening.FindStringSubmatch(g.logs.String()); m != nil {
				g.URL = "http://" + m[1]
			}
		}
		if g.URL != "" {
			if res, err := http.Get(g.URL + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case err := <-g.exit:
			g.cmd = nil
			g.t.Fatalf("keyway exited at start: %v\n%s", err, g.logs.String())
		case <-deadline:
			g.t.Fatalf("keyway did not get ready in %v:\n%s", patience, g.logs.String())
		case <-poll.C:
		}
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (g *Gateway) Stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.exit:
		if err != nil {
			// A restart replaces the log: show this process's now.
			g.t.Errorf("keyway exited with %v after SIGTERM; its log:\n%s", err, g.logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		g.t.Errorf("keyway did not stop within 30s of SIGTERM")
	}
	g.cmd = nil
}

// Kill sends SIGKILL: no shutdown, no flush.
func (g *Gateway) Kill() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	<-g.exit
	g.cmd = nil
}

// Restart kills nothing: it starts the gateway again on the same data.
func (g *Gateway) Restart() {
	g.t.Helper()
	g.Stop()
	g.Start()
}

// Signal sends sig to the running gateway.
func (g *Gateway) Signal(sig os.Signal) {
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// Logs returns everything keyway wrote so far (this run).
func (g *Gateway) Logs() string { return g.logs.String() }

// Inbound is a message to post to the webhook.
type Inbound struct {
	SID     string // default: a fresh "SM..." id
	From    string // default +15551230001
	To      string // default OurSMS (or OurWhatsApp on WhatsApp)
	Body    string
	Channel string // "whatsapp" prefixes From and To
	Media   []string
	Extra   map[string]string // more form fields (e.g. ProfileName)
}

// Form builds the webhook form of in.
func (g *Gateway) Form(in Inbound) url.Values {
	if in.SID == "" {
		in.SID = fmt.Sprintf("SM%032d", g.sids.Add(1))
	}
	if in.From == "" {
		in.From = "+15551230001"
	}
	if in.To == "" {
		in.To = OurSMS
		if in.Channel == "whatsapp" {
			in.To = OurWhatsApp
		}
	}
	from, to := in.From, in.To
	if in.Channel == "whatsapp" {
		from, to = "whatsapp:"+from, "whatsapp:"+to
	}
	f := url.Values{
		"MessageSid": {in.SID}, "SmsSid": {in.SID}, "AccountSid": {g.Twilio.AccountSID},
		"From": {from}, "To": {to}, "Body": {in.Body}, "NumMedia": {fmt.Sprint(len(in.Media))},
	}
	for i, m := range in.Media {
		f.Set(fmt.Sprintf("MediaUrl%d", i), m)
		f.Set(fmt.Sprintf("MediaContentType%d", i), "image/jpeg")
	}
	for k, v := range in.Extra {
		f.Set(k, v)
	}
	return f
}

// Text posts a signed inbound message and fails the test unless it gets 200.
func (g *Gateway) Text(in Inbound) {
	g.t.Helper()
	if code, body := g.PostSigned("/webhooks/twilio", g.Form(in)); code != http.StatusOK {
		g.t.Fatalf("webhook answered %d: %s", code, body)
	}
}

// PostSigned posts form to path, signed as Twilio would for PublicURL+path.
func (g *Gateway) PostSigned(path string, form url.Values) (int, string) {
	g.t.Helper()
	body := form.Encode()
	sig := twilio.Sign(g.Twilio.AuthToken, PublicURL+path, form)
	return g.PostRaw(path, body, map[string]string{"X-Twilio-Signature": sig})
}

// PostRaw posts body as a form with the headers given.
func (g *Gateway) PostRaw(path, body string, headers map[string]string) (int, string) {
	g.t.Helper()
	code, answer, err := g.TryPostRaw(path, body, headers)
	if err != nil {
		g.t.Fatalf("POST %s: %v", path, err)
	}
	return code, answer
}

// TryPostRaw is PostRaw returning the error of a request that got no
// answer instead of failing the test.
func (g *Gateway) TryPostRaw(path, body string, headers map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

// Admin calls the admin API with the bearer token and decodes JSON into out
// (when not nil); it returns the status.
func (g *Gateway) Admin(method, path string, in, out any) int {
	g.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL+path, body)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			g.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return res.StatusCode
}

// Message is a stored message as the admin API shows it.
type Message struct {
	ID        string            `json:"id"`
	Direction string            `json:"direction"`
	Kind      string            `json:"kind"`
	Purpose   string            `json:"purpose"`
	Channel   string            `json:"channel"`
	From      string            `json:"from"`
	To        []string          `json:"to"`
	Subject   string            `json:"subject"`
	Body      string            `json:"body"`
	Button    string            `json:"button"`
	Typed     string            `json:"typed"`
	Media     []string          `json:"media"`
	Fields    map[string]string `json:"fields"`
	Status    string            `json:"status"`
	Error     string            `json:"error"`
	ErrorCode int               `json:"error_code"`
	// Reason is why a send failed in plain words, as the dashboard
	// shows it; Error keeps the whole error.
	Reason   string `json:"reason"`
	Attempts int    `json:"attempts"`
	// ProviderID is the provider's id of a sent message (Twilio's sid).
	ProviderID string `json:"provider_id"`
	// CreatedAt is when keyway made the message.
	CreatedAt time.Time `json:"created_at"`
}

// Messages returns a contact's stored messages, newest first.
func (g *Gateway) Messages(phone string) []Message {
	g.t.Helper()
	var out struct{ Messages []Message }
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(phone)+"/messages", nil, &out); code != http.StatusOK && code != http.StatusNotFound {
		g.t.Fatalf("messages of %s: status %d", phone, code)
	}
	return out.Messages
}

// Contact is a stored contact with its active enrollments.
type Contact struct {
	Contact struct {
		Phone      string            `json:"phone"`
		Name       string            `json:"name"`
		Fields     map[string]string `json:"fields"`
		Tags       []string          `json:"tags"`
		Groups     []string          `json:"groups"`
		LeftGroups []string          `json:"left_groups"`
		OptedOut   bool              `json:"opted_out"`
	} `json:"contact"`
	Enrollments []Enrollment `json:"enrollments"`
}

// Enrollment is an enrollment as the admin API shows it.
type Enrollment struct {
	ID         string         `json:"id"`
	Automation string         `json:"automation"`
	Contact    string         `json:"contact"`
	Status     string         `json:"status"`
	Step       string         `json:"step"`
	Vars       map[string]any `json:"vars"`
	HTTP       map[string]any `json:"http"`
	EndReason  string         `json:"end_reason"`
	LastError  string         `json:"last_error"`
}

// Contact returns a stored contact; it fails the test if there is none.
func (g *Gateway) Contact(phone string) Contact {
	g.t.Helper()
	var c Contact
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(phone), nil, &c); code != http.StatusOK {
		g.t.Fatalf("contact %s: status %d", phone, code)
	}
	return c
}

// Enrollments lists enrollments of an automation and/or contact.
func (g *Gateway) Enrollments(automation, contact string) []Enrollment {
	g.t.Helper()
	var out struct{ Enrollments []Enrollment }
	q := url.Values{"automation": {automation}, "contact": {contact}}
	if code := g.Admin(http.MethodGet, "/api/v1/enrollments?"+q.Encode(), nil, &out); code != http.StatusOK {
		g.t.Fatalf("enrollments: status %d", code)
	}
	return out.Enrollments
}

// patience bounds every wait on the real binary: built with -race and run on
// a loaded 2-core machine, it may be slow, and a wait that holds returns as
// soon as it holds, so a generous bound costs nothing.
const patience = 30 * time.Second

// sendLease is how long a send claimed by a process stays with it (the
// outbox's lease, README "Storage and more than one process"): what a
// killed process had claimed goes out from another one only after that.
const sendLease = time.Minute

// Eventually polls cond every 20ms until it holds or timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-deadline:
			if cond() {
				return
			}
			t.Fatalf("after %v: %s", timeout, what)
		case <-poll.C:
		}
	}
}

// Settled waits until none of the contact's stored outbound messages is
// still queued and returns its messages, newest first. A webhook commits
// every message its handling queues before it answers 200, so once Settled
// returns after a contact's last webhook, each of those messages has been
// sent, has failed or was suppressed: a test can then check that something
// was not sent. (Timers are not covered: wait for their own outcome.)
func (g *Gateway) Settled(t *testing.T, phone string) []Message {
	t.Helper()
	var ms []Message
	Eventually(t, patience, "the outbound messages to "+phone+" settled", func() bool {
		ms = g.Messages(phone)
		for _, m := range ms {
			if m.Direction == "out" && m.Status == "queued" {
				return false
			}
		}
		return true
	})
	return ms
}

// repliesTo waits until the contact got n messages and returns their bodies.
func repliesTo(t *testing.T, g *Gateway, to string, n int) []string {
	t.Helper()
	var got []string
	Eventually(t, patience, fmt.Sprintf("%d replies to %s", n, to), func() bool {
		got = repliesToNow(g, to)
		return len(got) >= n
	})
	return got
}

// repliesToNow returns the bodies sent to a number so far.
func repliesToNow(g *Gateway, to string) []string {
	var out []string
	for _, m := range g.Twilio.Sent() {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

// Bodies returns the bodies of messages sent through the fake Twilio.
func Bodies(ms []fakes.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Body
	}
	return out
}

// Keyway runs the binary with args and returns its exit code and output.
func Keyway(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run keyway %v: %v", args, err)
	}
	return code, out.String()
}
