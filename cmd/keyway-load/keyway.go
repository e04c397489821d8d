package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Settings of the keyway under test that the load depends on.
const (
	publicURL  = "https://load.keyway.test"
	adminToken = "keyway-load-admin-token"
	ourNumber  = "+15005550006"
)

// loadAutomations are the automations the load exercises. Every reply ends
// with the inbound message's body, whose last word is its MessageSid, so the
// fake provider can count replies per inbound message:
//   - HOURS: a keyword with one reply;
//   - JOIN: a keyword whose reply asks a question, then waits for the answer;
//   - the answer: resumes the waiting JOIN and gets one reply;
//   - LATER (only with --waits or --crash): a reply now, and one after a
//     stored wait of one second, which must fire once across crashes;
//   - anything else: stored, and nothing is sent (there is no catch-all).
const loadAutomations = `fields: [tag]
automations:
  - id: hours
    keywords: [HOURS]
    steps:
      - { type: reply, text: "Open 9-5. {{ message.body }}" }
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Your name? {{ message.body }}" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ message.body }}" }
  - id: later
    keywords: [LATER]
    steps:
      - { type: set_field, fields: { tag: "{{ message.body }}" } }
      - { type: reply, text: "Noted. {{ message.body }}" }
      - { type: wait, duration: 1s }
      - { type: reply, text: "Reminder {{ contact.fields.tag }}" }
`

// liftLoopGuard lifts compliance.loop_guard far above any load the tool
// sends: a throughput run sends each sender many answers a minute, which the
// guard (10 a minute by default) would rightly suppress.
const liftLoopGuard = `compliance:
  loop_guard: { max: 1000000000, per: 1s }
`

// keywayConfig is the config the tool runs keyway with: storage in dir,
// the providers named (Twilio when none) on the fake at apiBase, the admin
// API on, the loop guard lifted unless legacy (for a keyway older than the
// loop guard, which refuses the key).
func keywayConfig(listen, dir, apiBase string, legacy bool, provs ...string) string {
	guard := liftLoopGuard
	if legacy {
		guard = ""
	}
	if len(provs) == 0 {
		provs = []string{providerTwilio}
	}
	sections := ""
	for _, p := range provs {
		switch p {
		case providerTwilio:
			sections += fmt.Sprintf(`  twilio:
    account_sid: %q
    auth_token: %q
    api_base_url: %q
    numbers:
      - { number: %q, channel: sms }
`, fakeAccountSID, fakeAuthToken, apiBase, ourNumber)
		case providerMeta:
			sections += metaSection(apiBase)
		}
	}
	return fmt.Sprintf(`server:
  listen: %q
  public_url: %q
storage:
  path: %q
admin:
  token: %q
providers:
`, listen, publicURL, filepath.Join(dir, "data", "keyway.db"), adminToken) + sections + guard + loadAutomations
}

// process is a server the tool started: keyway or the baseline.
type process struct {
	cmd  *exec.Cmd
	exit chan error
	URL  string // http://127.0.0.1:PORT
	log  string // the file its output goes to
}

var listening = regexp.MustCompile(`"listen":"([^"]+)"[^\n]*"message":"keyway serving"`)

// startKeyway writes a config into dir and starts the binary on it, then
// waits (up to patience) until it answers /readyz.
// The config has the providers named (Twilio when none). A keyway older
// than the loop guard refuses its key; it is started again on the config
// without it.
func startKeyway(binary, dir, apiBase string, patience time.Duration, provs ...string) (*process, error) {
	p, err := startKeywayWith(binary, dir, apiBase, patience, false, provs)
	if err != nil && strings.Contains(err.Error(), `unknown key "loop_guard"`) {
		return startKeywayWith(binary, dir, apiBase, patience, true, provs)
	}
	return p, err
}

func startKeywayWith(binary, dir, apiBase string, patience time.Duration, legacy bool, provs []string) (*process, error) {
	cfg := filepath.Join(dir, "keyway.yaml")
	if err := os.WriteFile(cfg, []byte(keywayConfig("127.0.0.1:0", dir, apiBase, legacy, provs...)), 0o600); err != nil {
		return nil, fmt.Errorf("keyway: write config: %w", err)
	}
	p, err := startProcess(dir, binary, "serve", "--config", cfg)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(patience, func(out []byte) string {
		if m := listening.FindSubmatch(out); m != nil {
			return "http://" + string(m[1])
		}
		return ""
	}, "/readyz"); err != nil {
		p.stop()
		return nil, fmt.Errorf("keyway %s: %w", binary, err)
	}
	return p, nil
}

// startProcess starts argv in dir with its output in dir/server.log.
func startProcess(dir string, argv ...string) (*process, error) {
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "TWILIO_EDGE=", "TWILIO_REGION=", "KEYWAY_LOG_LEVEL=")
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &process{cmd: cmd, exit: make(chan error, 1), log: logPath}
	go func() {
		p.exit <- cmd.Wait()
		logFile.Close()
	}()
	return p, nil
}

// waitReady waits until the process's output names its address (found
// returns it) and path answers 200 there.
func (p *process) waitReady(patience time.Duration, found func([]byte) string, path string) error {
	deadline := time.After(patience)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		if p.URL == "" {
			if out, err := os.ReadFile(p.log); err == nil {
				p.URL = found(out)
			}
		}
		if p.URL != "" {
			if res, err := http.Get(p.URL + path); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case err := <-p.exit:
			p.exit <- err
			out, _ := os.ReadFile(p.log)
			return fmt.Errorf("exited at start (%v):\n%s", err, out)
		case <-deadline:
			out, _ := os.ReadFile(p.log)
			return fmt.Errorf("not ready within %v:\n%s", patience, out)
		case <-poll.C:
		}
	}
}

// kill sends SIGKILL and waits for the process to end. Once stopped, it
// does nothing.
func (p *process) kill() {
	if p == nil || p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exit
	p.cmd = nil
}

// stop sends SIGTERM and waits up to 30s, then kills. Once stopped, it
// does nothing.
func (p *process) stop() error {
	if p == nil || p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-p.exit:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited with %w after SIGTERM (log: %s)", p.cmd.Path, err, p.log)
		}
		return err
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exit
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", p.cmd.Path)
	}
}
