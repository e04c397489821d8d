package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

const testHelp = `Usage: keyway test FILE...

Runs the automation tests in each FILE, each on an empty in-memory store with
a fake clock that starts on Monday 2026-01-05 at 12:00 (noon) in the config's
time zone, with http steps answered from the file (no real network). Prints one
line per test (ok NAME, or FAIL NAME and what differed), then
"N passed, N failed". Exits 0 when all pass, 1 when any fails, 2 when a file
or its config cannot be read (its problems are printed).
`

// runTestFiles is `keyway test FILE...`.
func runTestFiles(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("test", testHelp)
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprint(stderr, "keyway test: at least one FILE is required\n\n"+testHelp)
		return 2
	}
	passed, failed, unreadable := 0, 0, false
	for _, path := range files {
		tf, problems := loadTestFile(path)
		if tf == nil {
			for _, p := range problems {
				fmt.Fprintln(stdout, p)
			}
			unreadable = true
			continue
		}
		cfg, set, cps := engine.Load(tf.configPath())
		if set == nil {
			printProblems(stdout, cps.Errors())
			fmt.Fprintf(stdout, "%s: config %s has %d problem(s); its tests did not run\n", path, tf.configPath(), len(cps.Errors()))
			unreadable = true
			continue
		}
		if bad := tf.checkFrom(cfg); len(bad) > 0 {
			for _, p := range bad {
				fmt.Fprintln(stdout, p)
			}
			unreadable = true
			continue
		}
		for i := range tf.Tests {
			tc := &tf.Tests[i]
			diffs := runTest(context.Background(), tf, tc, cfg, set)
			if len(diffs) == 0 {
				passed++
				fmt.Fprintf(stdout, "ok %s\n", tc.Name)
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n", tc.Name)
			for _, d := range diffs {
				fmt.Fprintln(stdout, indent(d, "    "))
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	switch {
	case unreadable:
		return 2
	case failed > 0:
		return 1
	}
	return 0
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// testStart is when each test's clock starts: Monday 2026-01-05 at noon
// in the config's time zone. Noon, not the morning `keyway simulate`
// starts at: a Monday-morning schedule (the usual slot of a weekly
// campaign) has then ticked for the week already, and does not fire into
// a test that only follows a conversation through its first day or two.
func testStart(cfg *config.Config) time.Time {
	s := sim.SimStart
	return time.Date(s.Year(), s.Month(), s.Day(), 12, 0, 0, 0, cfg.Location())
}

// runTest runs one test on a fresh simulator and returns what differed,
// one entry per difference (none: it passed).
func runTest(ctx context.Context, tf *testFile, tc *testCase, cfg *config.Config, set *engine.Set) []string {
	phone, err := config.E164(tc.From, cfg.Defaults.Region)
	if err != nil { // checkFrom reported it
		return []string{fmt.Sprintf("%s: from: %v", place(tf.Path, tc.At), err)}
	}
	s := sim.NewSimulator(set, nil)
	s.From, s.Channel = phone, tc.Channel
	s.Clock.Set(testStart(cfg))
	answers := &httpAnswers{answers: tc.HTTP}
	s.HTTP = answers
	var diffs []string
	for i := range tc.Turns {
		tn := &tc.Turns[i]
		where := fmt.Sprintf("turn %d (%s, %s)", i+1, tn.describe(), place(tf.Path, tn.At))
		var res sim.SimResult
		switch {
		case tn.Send != nil && tn.Send.Button != "":
			res, err = s.Press(ctx, tn.Send.Button)
		case tn.Send != nil:
			res, err = s.Say(ctx, tn.Send.Text)
		case tn.Start != "" && set.Automation(tn.Start) == nil:
			return append(diffs, where+": "+strings.Join(notInConfig(tf, tn, cfg, set), "; "))
		case tn.Start != "":
			var started engine.StartResult
			started, res, err = s.StartVars(ctx, tn.Start, tn.Vars)
			if err == nil && len(started.Started) == 0 {
				diffs = append(diffs, fmt.Sprintf("%s: start %s enrolled nobody: %v", where, tn.Start, started.Skipped))
			}
		default:
			res, err = s.Advance(ctx, tn.wait)
		}
		if err != nil {
			return append(diffs, fmt.Sprintf("%s: %v", where, err))
		}
		for _, miss := range answers.take() {
			diffs = append(diffs, fmt.Sprintf("%s: http %s has no answer in the test file (add one under http:)", where, miss))
		}
		if tn.Expect == nil {
			continue
		}
		got, err := observe(ctx, s, res)
		if err != nil {
			return append(diffs, fmt.Sprintf("%s: %v", where, err))
		}
		if ds := tn.Expect.check(got); len(ds) > 0 {
			ds = append(ds, waitsAndEnds(res)...)
			diffs = append(diffs, where+":\n"+indent(strings.Join(append(ds, notInConfig(tf, tn, cfg, set)...), "\n"), "  "))
		}
	}
	return diffs
}

// waitsAndEnds are the lines of a failing turn that say why it did what
// it did: each wait's resolved time (an `at` read from the contact's data
// or vars) and each enrollment's end with its reason.
func waitsAndEnds(res sim.SimResult) []string {
	var out []string
	for _, ev := range res.Events {
		if strings.HasPrefix(ev.What, "wait at") || strings.HasPrefix(ev.What, "ended: ") {
			out = append(out, fmt.Sprintf("[%s] %s", ev.Automation, ev.What))
		}
	}
	return out
}

// checkFrom reports the tests whose from is not a phone number in the
// config's region.
func (tf *testFile) checkFrom(cfg *config.Config) []string {
	var out []string
	for _, tc := range tf.Tests {
		if _, err := config.E164(tc.From, cfg.Defaults.Region); err != nil {
			out = append(out, fmt.Sprintf("%s: test %q: from: %v", place(tf.Path, tc.At), tc.Name, err))
		}
	}
	return out
}

// notInConfig says what a turn names that the config does not have: an
// automation (start, enrolled), a group or a field it does not declare,
// each with the name it was likely meant as. Such a turn cannot pass; the
// lines go with its difference, so that a typo in the test file reads as
// one rather than as keyway doing the wrong thing.
func notInConfig(tf *testFile, tn *testTurn, cfg *config.Config, set *engine.Set) []string {
	var ids, groups []string
	for _, a := range set.Automations() {
		ids = append(ids, a.ID)
	}
	for _, g := range cfg.Groups {
		groups = append(groups, g.ID)
	}
	var out []string
	unknown := func(what, name string, known []string) {
		hint := ""
		if guess := config.Suggest(name, known); guess != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", guess)
		}
		out = append(out, fmt.Sprintf("%s %q is not in %s%s", what, name, tf.configPath(), hint))
	}
	if tn.Start != "" && set.Automation(tn.Start) == nil {
		unknown("start: automation", tn.Start, ids)
	}
	if tn.Expect == nil {
		return out
	}
	if tn.Expect.Enrolled != nil {
		for _, id := range *tn.Expect.Enrolled {
			if set.Automation(id) == nil {
				unknown("enrolled: automation", id, ids)
			}
		}
	}
	for _, g := range tn.Expect.Groups {
		if !cfg.HasGroup(g) {
			unknown("groups: group", g, groups)
		}
	}
	for _, f := range slices.Sorted(maps.Keys(tn.Expect.Fields)) {
		if !cfg.HasField(f) {
			unknown("fields: field", f, cfg.Fields)
		}
	}
	return out
}

func (tn *testTurn) describe() string {
	switch {
	case tn.Send != nil:
		return tn.Send.String()
	case tn.Start != "":
		return "start " + tn.Start
	}
	return "wait " + tn.Wait
}

// observed is what a turn did and where the contact stands after it.
type observed struct {
	replies, forwards []*engine.Message
	emails            []*engine.Message
	contact           engine.Contact
	enrolled          []string
}

func observe(ctx context.Context, s *sim.Simulator, res sim.SimResult) (*observed, error) {
	o := &observed{contact: engine.Contact{Phone: s.From}}
	for _, m := range res.Sent {
		switch {
		case m.Kind == engine.KindEmail:
			o.emails = append(o.emails, m)
		case m.Purpose == engine.PurposeForward:
			o.forwards = append(o.forwards, m)
		default:
			o.replies = append(o.replies, m)
		}
	}
	err := s.Store.View(ctx, func(tx engine.Tx) error {
		c, err := tx.Contact(s.From)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		o.contact = *c
		ens, err := tx.ActiveEnrollments(s.From)
		if err != nil {
			return err
		}
		for _, en := range ens {
			o.enrolled = append(o.enrolled, en.Automation)
		}
		return nil
	})
	slices.Sort(o.enrolled)
	return o, err
}

// sentText is what a test's text expectation is matched against: the
// message's text, with its buttons or list numbered after it as SMS shows
// them ("How can we help?\n1 My order\n2 A person"); or for a WhatsApp
// template send `template HX… {"1":"…"}`, its content SID and its rendered
// variables as JSON; for a named template `template name (en_US) ["…"]`.
func sentText(m *engine.Message) string {
	if t := sim.TemplateText(m); t != "" {
		return t
	}
	return engine.TextWithChoices(m)
}

// sentMatches reports whether text expectation want matches m: its text
// as sentText shows it; for a message that offers choices, its text alone
// too (what a provider with interactive messages shows above the
// buttons); for a template given in both forms, either form too.
func sentMatches(want textMatch, m *engine.Message) bool {
	if want.Match(sentText(m)) {
		return true
	}
	if forms := sim.TemplateForms(m); len(forms) > 0 {
		// A template given in both forms matches either.
		return slices.ContainsFunc(forms, want.Match)
	}
	return !m.Choices.Empty() && want.Match(m.Body)
}

// check compares what a turn did with what was expected.
func (x *testExpect) check(o *observed) []string {
	var diffs []string
	if x.Replies != nil {
		ok := len(*x.Replies) == len(o.replies)
		for i := 0; ok && i < len(o.replies); i++ {
			ok = sentMatches((*x.Replies)[i], o.replies[i])
		}
		if !ok {
			diffs = append(diffs, fmt.Sprintf("replies differ\n  expected: %s\n  got:      %s", showMatches(*x.Replies), showBodies(o.replies)))
		}
	}
	if x.Forwards != nil {
		ok := len(*x.Forwards) == len(o.forwards)
		for i := 0; ok && i < len(o.forwards); i++ {
			f := (*x.Forwards)[i]
			ok = (f.To == "" || slices.Contains(o.forwards[i].To, f.To)) && (f.Text == nil || sentMatches(*f.Text, o.forwards[i]))
		}
		if !ok {
			var want []string
			for _, f := range *x.Forwards {
				want = append(want, showSent(f.To, f.Text))
			}
			var got []string
			for _, m := range o.forwards {
				got = append(got, fmt.Sprintf("{to: %s, text: %q}", strings.Join(m.To, ","), sentText(m)))
			}
			diffs = append(diffs, fmt.Sprintf("forwards differ\n  expected: %s\n  got:      %s", list(want), list(got)))
		}
	}
	if x.Emails != nil {
		ok := len(*x.Emails) == len(o.emails)
		for i := 0; ok && i < len(o.emails); i++ {
			e := (*x.Emails)[i]
			ok = (e.To == "" || slices.Contains(o.emails[i].To, e.To)) && (e.Subject == nil || e.Subject.Match(o.emails[i].Subject))
		}
		if !ok {
			var want []string
			for _, e := range *x.Emails {
				w := "{to: " + e.To
				if e.Subject != nil {
					w += ", subject: " + e.Subject.String()
				}
				want = append(want, w+"}")
			}
			var got []string
			for _, m := range o.emails {
				got = append(got, fmt.Sprintf("{to: %s, subject: %q}", strings.Join(m.To, ","), m.Subject))
			}
			diffs = append(diffs, fmt.Sprintf("emails differ\n  expected: %s\n  got:      %s", list(want), list(got)))
		}
	}
	if missing := notIn(x.Groups, o.contact.Groups); len(missing) > 0 {
		diffs = append(diffs, fmt.Sprintf("groups differ: not in %s\n  expected at least: %s\n  got:               %s", strings.Join(missing, ", "), list(x.Groups), list(o.contact.Groups)))
	}
	if missing := notIn(x.Tags, o.contact.Tags); len(missing) > 0 {
		diffs = append(diffs, fmt.Sprintf("tags differ: no %s\n  expected at least: %s\n  got:               %s", strings.Join(missing, ", "), list(x.Tags), list(o.contact.Tags)))
	}
	for _, name := range sortedKeys(x.Fields) {
		want := x.Fields[name]
		got, ok := o.contact.Fields[name]
		if !ok || !want.Match(got) {
			shown := "(not set)"
			if ok {
				shown = fmt.Sprintf("%q", got)
			}
			diffs = append(diffs, fmt.Sprintf("field %s differs\n  expected: %s\n  got:      %s", name, want, shown))
		}
	}
	if x.OptedOut != nil && *x.OptedOut != o.contact.OptedOut {
		diffs = append(diffs, fmt.Sprintf("opted_out differs\n  expected: %t\n  got:      %t", *x.OptedOut, o.contact.OptedOut))
	}
	if x.Enrolled != nil {
		want := slices.Sorted(slices.Values(*x.Enrolled))
		if !slices.Equal(want, o.enrolled) {
			diffs = append(diffs, fmt.Sprintf("enrolled differs\n  expected: %s\n  got:      %s", list(want), list(o.enrolled)))
		}
	}
	return diffs
}

func showMatches(ms []textMatch) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func showBodies(ms []*engine.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%q", sentText(m)))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func showSent(to string, text *textMatch) string {
	parts := []string{}
	if to != "" {
		parts = append(parts, "to: "+to)
	}
	if text != nil {
		parts = append(parts, "text: "+text.String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

// notIn returns the items of want that have is missing.
func notIn(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// httpAnswers answers http steps from a test's http list; a call that no
// answer matches fails with an error and is remembered, so that the test
// fails too. Nothing reaches the network.
type httpAnswers struct {
	answers []httpAnswer
	mu      sync.Mutex
	missed  []string
}

// errNoAnswer is the error an http step sees when the test file has no
// answer for its call.
var errNoAnswer = errors.New("keyway test: no answer in the test file")

// RoundTrip answers req from the first answer whose method and URL prefix
// match.
func (h *httpAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	u := req.URL.String()
	for _, a := range h.answers {
		if (a.Method == "" || strings.EqualFold(a.Method, req.Method)) && strings.HasPrefix(u, a.URL) {
			return a.response(req)
		}
	}
	h.mu.Lock()
	h.missed = append(h.missed, req.Method+" "+u)
	h.mu.Unlock()
	return nil, errNoAnswer
}

// take returns the calls missed since the last take.
func (h *httpAnswers) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.missed
	h.missed = nil
	return out
}

func (a httpAnswer) response(req *http.Request) (*http.Response, error) {
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	header := http.Header{}
	body := []byte(a.Body)
	if a.JSON != nil {
		b, err := json.Marshal(a.JSON)
		if err != nil {
			return nil, fmt.Errorf("keyway test: http answer for %s: json: %w", a.URL, err)
		}
		body = b
		header.Set("Content-Type", "application/json")
	} else {
		header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}
