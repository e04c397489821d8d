package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"

	// Every registered step type has a fixture here, the http step's too.
	_ "github.com/keyway-sms/keyway/automation/steps/httpstep"
)

// fixture is one test case of a step type, in testdata/<type>.yaml.
// The case's config runs in the simulator; chat lines are messages from
// the contact, "/wait 2h" to move the clock, or "/from +NUMBER text" for
// one message from another number (a staff member).
type fixture struct {
	Label   string   `yaml:"label"`
	Config  string   `yaml:"config"` // ${SERVER} is the echo server's URL
	From    string   `yaml:"from"`
	Channel string   `yaml:"channel"`
	Chat    []string `yaml:"chat"`
	// Sent lists every message sent, in order; only the fields given are compared.
	Sent []sentMessage `yaml:"sent"`
	// Contact, if given, is compared field by field (those given).
	Contact *contactWant `yaml:"contact"`
	// Enrollments, if given, are compared with the contact's enrollments
	// in each automation named (the newest one), field by field.
	Enrollments map[string]enrollmentWant `yaml:"enrollments"`
	// Requests, if given, are the requests the echo server received, in order.
	Requests []requestWant `yaml:"requests"`
	// Problems and Warnings: the config must compile with each of these
	// (substrings, in order); with Problems nothing runs.
	Problems []string `yaml:"problems"`
	Warnings []string `yaml:"warnings"`
}

type sentMessage struct {
	Kind    string   `yaml:"kind"`
	Purpose string   `yaml:"purpose"`
	Channel string   `yaml:"channel"`
	From    string   `yaml:"from"`
	To      []string `yaml:"to"`
	Subject string   `yaml:"subject"`
	Body    *string  `yaml:"body"`
	// Text is the body with the message's choices numbered after it, as a
	// provider without buttons sends it.
	Text   *string  `yaml:"text"`
	Media  []string `yaml:"media"`
	Status string   `yaml:"status"`
	// ContentSID and ContentVariables are a template send's.
	ContentSID       string            `yaml:"content_sid"`
	ContentVariables map[string]string `yaml:"content_variables"`
}

type contactWant struct {
	Name       *string           `yaml:"name"`
	Groups     []string          `yaml:"groups"`
	LeftGroups []string          `yaml:"left_groups"`
	Tags       []string          `yaml:"tags"`
	Fields     map[string]string `yaml:"fields"`
	OptedOut   *bool             `yaml:"opted_out"`
}

type enrollmentWant struct {
	Status    string         `yaml:"status"`
	Step      string         `yaml:"step"`
	EndReason string         `yaml:"end_reason"`
	Held      string         `yaml:"held"`
	Vars      map[string]any `yaml:"vars"`
	HTTP      map[string]any `yaml:"http"`
}

type requestWant struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Body    *string           `yaml:"body"`
}

// TestStepFixtures runs every registered step type's fixture; a type
// without one fails.
func TestStepFixtures(t *testing.T) {
	for _, typ := range engine.Types() {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join("testdata", typ+".yaml")
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("step type %q has no fixture: %v", typ, err)
			}
			var cases []fixture
			if err := yaml.Unmarshal(raw, &cases); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if len(cases) == 0 {
				t.Fatalf("%s has no cases", path)
			}
			for _, fx := range cases {
				t.Run(fx.Label, func(t *testing.T) { runFixture(t, fx) })
			}
		})
	}
}

func runFixture(t *testing.T, fx fixture) {
	echo := newEchoServer(t)
	src := strings.ReplaceAll(fx.Config, "${SERVER}", echo.srv.URL)
	cfg, problems := config.Parse("fixture.yaml", []byte(src), func(string) (string, bool) { return "", false })
	// Compile even a config with problems, as engine.Load does, so
	// that step and keyword problems come out with the file's.
	var set *engine.Set
	if cfg != nil {
		var more config.Problems
		set, more = engine.Compile(cfg)
		problems = append(problems, more...)
	}
	checkProblems(t, "problem", problems.Errors(), fx.Problems)
	checkProblems(t, "warning", withoutBrandWarning(problems.Warnings()), fx.Warnings)
	if len(fx.Problems) > 0 || set == nil {
		return
	}

	s := sim.NewSimulator(set, nil)
	if fx.From != "" {
		s.From = fx.From
	}
	if fx.Channel != "" {
		s.Channel = fx.Channel
	}
	ctx := context.Background()
	var sent []*engine.Message
	for _, line := range fx.Chat {
		var res sim.SimResult
		var err error
		if d, ok := strings.CutPrefix(line, "/wait "); ok {
			dur, perr := config.ParseDuration(d)
			if perr != nil {
				t.Fatalf("chat %q: %v", line, perr)
			}
			res, err = s.Advance(ctx, dur)
		} else if rest, ok := strings.CutPrefix(line, "/from "); ok {
			// "/from +NUMBER text": one message from another number (staff).
			from, text, _ := strings.Cut(rest, " ")
			contact := s.From
			s.From = from
			res, err = s.Say(ctx, text)
			s.From = contact
		} else {
			res, err = s.Say(ctx, line)
		}
		if err != nil {
			t.Fatalf("chat %q: %v", line, err)
		}
		sent = append(sent, res.Sent...)
	}
	checkSent(t, sent, fx.Sent)
	if fx.Contact != nil {
		c, err := s.Contact(ctx)
		if err != nil {
			t.Fatalf("contact: %v", err)
		}
		checkContact(t, c, fx.Contact)
	}
	for id, want := range fx.Enrollments {
		checkEnrollment(t, s, id, want)
	}
	if fx.Requests != nil {
		checkRequests(t, echo.received(), fx.Requests)
	}
}

func checkProblems(t *testing.T, kind string, got config.Problems, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %ss, want %d:\n%s", len(got), kind, len(want), problemLines(got))
	}
	for i, w := range want {
		if !strings.Contains(got[i].String(), w) {
			t.Errorf("%s %d = %q, want it to contain %q", kind, i+1, got[i].String(), w)
		}
	}
}

// withoutBrandWarning drops the default help reply's warning, which every
// fixture without a compliance section would otherwise repeat.
func withoutBrandWarning(ps config.Problems) config.Problems {
	var out config.Problems
	for _, p := range ps {
		if !strings.Contains(p.Message, "compliance.help.reply") {
			out = append(out, p)
		}
	}
	return out
}

func problemLines(ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func checkSent(t *testing.T, got []*engine.Message, want []sentMessage) {
	t.Helper()
	describe := func() string {
		var b strings.Builder
		for _, m := range got {
			fmt.Fprintf(&b, "\n  %s/%s %s→%v %q %q", m.Kind, m.Purpose, m.From, m.To, m.Subject, m.Body)
		}
		return b.String()
	}
	if len(got) != len(want) {
		t.Fatalf("sent %d messages, want %d:%s", len(got), len(want), describe())
	}
	for i, w := range want {
		m := got[i]
		check := func(field, got, want string) {
			if want != "" && got != want {
				t.Errorf("message %d %s = %q, want %q%s", i+1, field, got, want, describe())
			}
		}
		check("kind", string(m.Kind), w.Kind)
		check("purpose", string(m.Purpose), w.Purpose)
		check("channel", m.Channel, w.Channel)
		check("from", m.From, w.From)
		check("subject", m.Subject, w.Subject)
		check("status", string(m.Status), w.Status)
		check("content_sid", m.ContentSID, w.ContentSID)
		if w.ContentVariables != nil && !reflect.DeepEqual(m.ContentVariables, w.ContentVariables) {
			t.Errorf("message %d content_variables = %v, want %v", i+1, m.ContentVariables, w.ContentVariables)
		}
		if w.Body != nil && m.Body != *w.Body {
			t.Errorf("message %d body = %q, want %q", i+1, m.Body, *w.Body)
		}
		if w.Text != nil && engine.TextWithChoices(m) != *w.Text {
			t.Errorf("message %d text = %q, want %q", i+1, engine.TextWithChoices(m), *w.Text)
		}
		if w.To != nil && !reflect.DeepEqual(m.To, w.To) {
			t.Errorf("message %d to = %v, want %v", i+1, m.To, w.To)
		}
		if w.Media != nil && !reflect.DeepEqual(m.Media, w.Media) {
			t.Errorf("message %d media = %v, want %v", i+1, m.Media, w.Media)
		}
	}
}

func checkContact(t *testing.T, c *engine.Contact, w *contactWant) {
	t.Helper()
	if w.Name != nil && c.Name != *w.Name {
		t.Errorf("contact name = %q, want %q", c.Name, *w.Name)
	}
	lists := []struct {
		name      string
		got, want []string
	}{{"groups", c.Groups, w.Groups}, {"left_groups", c.LeftGroups, w.LeftGroups}, {"tags", c.Tags, w.Tags}}
	for _, l := range lists {
		if l.want != nil && !reflect.DeepEqual(nonNil(l.got), l.want) {
			t.Errorf("contact %s = %v, want %v", l.name, l.got, l.want)
		}
	}
	if w.Fields != nil && !reflect.DeepEqual(c.Fields, w.Fields) {
		t.Errorf("contact fields = %v, want %v", c.Fields, w.Fields)
	}
	if w.OptedOut != nil && c.OptedOut != *w.OptedOut {
		t.Errorf("contact opted_out = %v, want %v", c.OptedOut, *w.OptedOut)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func checkEnrollment(t *testing.T, sim *sim.Simulator, automationID string, w enrollmentWant) {
	t.Helper()
	var ens []*engine.Enrollment
	err := sim.Store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ens, err = tx.Enrollments(automationID, sim.From, false, 1)
		return err
	})
	if err != nil || len(ens) == 0 {
		t.Fatalf("no enrollment in %q: %v", automationID, err)
	}
	en := ens[0]
	check := func(field, got, want string) {
		if want != "" && got != want {
			t.Errorf("enrollment %q %s = %q, want %q", automationID, field, got, want)
		}
	}
	check("status", string(en.Status), w.Status)
	check("step", en.Step, w.Step)
	check("end_reason", en.EndReason, w.EndReason)
	check("held", en.Held, w.Held)
	for name, want := range map[string]map[string]any{"vars": w.Vars, "http": w.HTTP} {
		got := en.Vars
		if name == "http" {
			got = en.HTTP
		}
		if want != nil && !sameJSON(got, want) {
			t.Errorf("enrollment %q %s = %v, want %v", automationID, name, got, want)
		}
	}
}

// sameJSON compares want's keys with got's, through JSON so that numbers
// and nested maps compare by value; keys got has beyond want are ignored.
func sameJSON(got, want map[string]any) bool {
	for k, w := range want {
		gb, _ := json.Marshal(got[k])
		wb, _ := json.Marshal(w)
		var gv, wv any
		_ = json.Unmarshal(gb, &gv)
		_ = json.Unmarshal(wb, &wv)
		if !reflect.DeepEqual(gv, wv) {
			return false
		}
	}
	return true
}

func checkRequests(t *testing.T, got []echoRequest, want []requestWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("echo server got %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if w.Method != "" && r.Method != w.Method {
			t.Errorf("request %d method = %s, want %s", i+1, r.Method, w.Method)
		}
		if w.Path != "" && r.Path != w.Path {
			t.Errorf("request %d path = %s, want %s", i+1, r.Path, w.Path)
		}
		for k, v := range w.Query {
			if r.queryGet(k) != v {
				t.Errorf("request %d query %s = %q, want %q", i+1, k, r.queryGet(k), v)
			}
		}
		for k, v := range w.Headers {
			if r.Header.Get(k) != v {
				t.Errorf("request %d header %s = %q, want %q", i+1, k, r.Header.Get(k), v)
			}
		}
		if w.Body != nil && r.Body != *w.Body {
			t.Errorf("request %d body = %q, want %q", i+1, r.Body, *w.Body)
		}
	}
}

// echoServer records requests and answers by path: /status/NNN answers
// with that status, /slow waits 3s, /json answers {"ok":true,"name":"Ann",
// "score":7}; anything else answers 200 with a JSON echo of the request.
type echoServer struct {
	srv  *httptest.Server
	reqs chan echoRequest
}

type echoRequest struct {
	Method string
	Path   string
	Query  map[string][]string `json:"query"`
	Header http.Header         `json:"-"`
	Body   string
}

func newEchoServer(t *testing.T) *echoServer {
	e := &echoServer{reqs: make(chan echoRequest, 100)}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := echoRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: string(b)}
		e.reqs <- req
		var status int
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &status)
			w.WriteHeader(status)
			return
		case r.URL.Path == "/slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return
		case r.URL.Path == "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"name":"Ann","score":7}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(req)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echoServer) received() []echoRequest {
	var out []echoRequest
	for {
		select {
		case r := <-e.reqs:
			out = append(out, r)
		default:
			return out
		}
	}
}

func (r echoRequest) queryGet(k string) string {
	if v := r.Query[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}
