package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/config"
)

// A test file, as `keyway test` reads it (README "Testing automations"):
//
//	config: ../keyway.yaml            # relative to this file
//	tests:
//	  - name: signup asks a name
//	    from: "+15551230001"          # default +15550000001
//	    channel: sms                  # default sms
//	    turns:
//	      - send: "JOIN"
//	        expect: { replies: ["Welcome! What is your first name?"] }
//	      - wait: 25h
//	        expect: { replies: [] }
//	    http:
//	      - { method: POST, url: "https://crm.example.com/leads", status: 201, json: { id: 7 } }
type testFile struct {
	Path   string     `yaml:"-"`
	Config string     `yaml:"config"`
	Tests  []testCase `yaml:"tests"`
}

// testCase is one test: a contact's conversation with the automations.
type testCase struct {
	Name    string       `yaml:"name"`
	From    string       `yaml:"from"`
	Channel string       `yaml:"channel"`
	Turns   []testTurn   `yaml:"turns"`
	HTTP    []httpAnswer `yaml:"http"`
	At      config.Pos   `yaml:"-"` // where the test starts in its file
}

// testTurn is a message from the contact (send), a move of the clock
// (wait) or a manual start of an automation (start, as the admin API does),
// with what should follow.
type testTurn struct {
	Send  *sendTurn `yaml:"send"`
	Wait  string    `yaml:"wait"`
	Start string    `yaml:"start"`
	// Vars are a start's vars, as the admin API's manual start passes them.
	Vars   map[string]any `yaml:"vars"`
	Expect *testExpect    `yaml:"expect"`
	At     config.Pos     `yaml:"-"` // where the turn starts in its file
	wait   time.Duration
}

// sendTurn is what a send turn sends: text (`send: "JOIN"`), or a tap on
// the button or list row with an id (`send: { button: AGENT }`), as a
// provider with interactive messages reports it.
type sendTurn struct {
	Text   string
	Button string
}

// UnmarshalYAML reads a send turn: a string, or a mapping with button.
func (st *sendTurn) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		st.Text = n.Value
		return nil
	}
	var m struct {
		Button string `yaml:"button"`
	}
	if n.Kind != yaml.MappingNode {
		return nodeProblem(n, "send is a text, or { button: ID }")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "button" {
			return nodeProblem(n.Content[i], "send: unknown key %q (allowed: button)", k)
		}
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	if strings.TrimSpace(m.Button) == "" {
		return nodeProblem(n, "send: button needs the id of a button or list row")
	}
	st.Button = m.Button
	return nil
}

// String shows the send as written in reports.
func (st sendTurn) String() string {
	if st.Button != "" {
		return "send button " + st.Button
	}
	return fmt.Sprintf("send %q", st.Text)
}

// testExpect is what a turn should have done. A nil list is not checked;
// an empty one means none.
type testExpect struct {
	Replies  *[]textMatch         `yaml:"replies"`
	Forwards *[]sentForward       `yaml:"forwards"`
	Emails   *[]sentEmail         `yaml:"emails"`
	Groups   []string             `yaml:"groups"`
	Fields   map[string]textMatch `yaml:"fields"`
	Tags     []string             `yaml:"tags"`
	OptedOut *bool                `yaml:"opted_out"`
	Enrolled *[]string            `yaml:"enrolled"`
}

// sentForward is an expected forward to staff by SMS or WhatsApp.
type sentForward struct {
	To   string     `yaml:"to"`
	Text *textMatch `yaml:"text"`
}

// sentEmail is an expected email to staff.
type sentEmail struct {
	To      string     `yaml:"to"`
	Subject *textMatch `yaml:"subject"`
}

// httpAnswer answers the http steps whose method and URL match: the method
// (any when empty) and the start of the URL.
type httpAnswer struct {
	Method string `yaml:"method"`
	URL    string `yaml:"url"`
	Status int    `yaml:"status"`
	JSON   any    `yaml:"json"`
	Body   string `yaml:"body"`
	// At is where the answer starts in its file.
	At config.Pos `yaml:"-"`
}

// nodeProblem is a problem of a test file's value n, as the decoder's own
// type errors are: it goes on decoding the rest of the file, so that every
// problem is reported at once. It says the column too ("line 4:9: ..."),
// which the decoder's own errors leave out (see placeTypeError).
func nodeProblem(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d:%d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}}
}

// textMatch is an expected text: exact, or a regular expression when
// written /.../.
type textMatch struct {
	src string
	re  *regexp.Regexp
}

// UnmarshalYAML reads a text expectation, compiling a /.../ one.
func (m *textMatch) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeProblem(n, "a text expectation is a string")
	}
	m.src = n.Value
	if len(n.Value) >= 2 && strings.HasPrefix(n.Value, "/") && strings.HasSuffix(n.Value, "/") {
		re, err := regexp.Compile(n.Value[1 : len(n.Value)-1])
		if err != nil {
			return nodeProblem(n, "regular expression %s: %v", n.Value, err)
		}
		m.re = re
	}
	return nil
}

// Match reports whether s is the text expected.
func (m textMatch) Match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return m.src == s
}

// String shows the expectation as written: quoted, or /re/.
func (m textMatch) String() string {
	if m.re != nil {
		return m.src
	}
	return fmt.Sprintf("%q", m.src)
}

var knownField = regexp.MustCompile(`field (\S+) not found in type main\.(\w+)`)

// testFileTypes are the types of a test file's mappings, by name, for the
// keys an unknown key may have been meant as.
var testFileTypes = map[string]reflect.Type{
	"testFile":    reflect.TypeFor[testFile](),
	"testCase":    reflect.TypeFor[testCase](),
	"testTurn":    reflect.TypeFor[testTurn](),
	"testExpect":  reflect.TypeFor[testExpect](),
	"sentForward": reflect.TypeFor[sentForward](),
	"sentEmail":   reflect.TypeFor[sentEmail](),
	"httpAnswer":  reflect.TypeFor[httpAnswer](),
}

// unknownKey rewrites yaml's "field x not found in type main.T" for people:
// the key, the one it was likely meant as, and the keys allowed there.
func unknownKey(line string) string {
	return knownField.ReplaceAllStringFunc(line, func(m string) string {
		sub := knownField.FindStringSubmatch(m)
		var keys []string
		if t, ok := testFileTypes[sub[2]]; ok {
			for i := range t.NumField() {
				if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
					keys = append(keys, k)
				}
			}
		}
		hint := ""
		if guess := config.Suggest(sub[1], keys); guess != "" {
			hint = fmt.Sprintf("did you mean %q? ", guess)
		}
		return fmt.Sprintf("unknown key %q (%sallowed: %s)", sub[1], hint, strings.Join(keys, ", "))
	})
}

// loadTestFile reads and checks a test file; every problem is returned as
// FILE:LINE:COL: message, as validate prints a config's.
func loadTestFile(path string) (*testFile, []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var root yaml.Node
	rootErr := yaml.Unmarshal(data, &root)
	if rootErr == nil && isConfigFile(&root) {
		return nil, []string{configNotTestFile(path)}
	}
	tf := &testFile{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems []problemAt
	bad := func(at config.Pos, format string, args ...any) {
		problems = append(problems, problemAt{at, fmt.Sprintf("%s: %s", place(path, at), fmt.Sprintf(format, args...))})
	}
	start := config.Pos{Line: 1, Col: 1}
	if err := dec.Decode(tf); err != nil {
		if errors.Is(err, io.EOF) { // no document: nothing, or comments only
			return nil, []string{fmt.Sprintf("%s: the test file is empty: it needs config: (the config to test) and tests:", place(path, start))}
		}
		var typeErr *yaml.TypeError
		if !errors.As(err, &typeErr) {
			// Not YAML at all: nothing was decoded to check further. It is
			// placed as validate places a config's syntax error.
			return nil, []string{config.SyntaxProblem(path, data, err).String()}
		}
		// A value of the wrong kind or an unknown key: the decoder went on,
		// and what it read is checked too, so that every problem shows.
		for _, line := range typeErr.Errors {
			at, msg := placeTypeError(&root, line)
			bad(at, "%s", unknownKey(msg))
		}
	}
	if rootErr == nil {
		placeTests(&root, tf)
	}
	if tf.Config == "" {
		bad(start, "config: the config file to test is required (relative to this file)")
	}
	if len(tf.Tests) == 0 {
		bad(start, "tests: no tests")
	}
	names := map[string]bool{}
	for i := range tf.Tests {
		tc := &tf.Tests[i]
		if tc.Name == "" {
			bad(tc.At, "test %d: name is required", i+1)
		} else if names[tc.Name] {
			bad(tc.At, "test %q: the name is used twice", tc.Name)
		}
		names[tc.Name] = true
		if number, named := splitWhatsApp(tc.From); named != "" {
			if tc.Channel != "" && tc.Channel != named {
				bad(tc.At, "test %q: from %q is a WhatsApp address, but channel is %s", tc.Name, tc.From, tc.Channel)
			}
			tc.From, tc.Channel = number, named
		}
		if tc.Channel == "" {
			tc.Channel = config.ChannelSMS
		}
		if tc.Channel != config.ChannelSMS && tc.Channel != config.ChannelWhatsApp {
			bad(tc.At, "test %q: channel must be sms or whatsapp, not %q", tc.Name, tc.Channel)
		}
		if tc.From == "" {
			tc.From = "+15550000001"
		}
		if len(tc.Turns) == 0 {
			bad(tc.At, "test %q: no turns", tc.Name)
		}
		for j := range tc.Turns {
			tn := &tc.Turns[j]
			kinds := 0
			if tn.Send != nil {
				kinds++
			}
			if tn.Wait != "" {
				kinds++
				d, err := config.ParseDuration(tn.Wait)
				if err != nil || d <= 0 {
					bad(tn.At, "test %q turn %d: wait %q is not a positive duration like 2h or 3d", tc.Name, j+1, tn.Wait)
				}
				tn.wait = d
			}
			if tn.Start != "" {
				kinds++
			}
			if kinds != 1 {
				bad(tn.At, "test %q turn %d: needs exactly one of send, wait or start", tc.Name, j+1)
			}
			if tn.Vars != nil && tn.Start == "" {
				bad(tn.At, "test %q turn %d: vars go with start", tc.Name, j+1)
			}
		}
		for j, a := range tc.HTTP {
			if !strings.HasPrefix(a.URL, "http://") && !strings.HasPrefix(a.URL, "https://") {
				bad(a.At, "test %q http answer %d: url must start with http:// or https://", tc.Name, j+1)
			}
			if a.Status != 0 && (a.Status < 100 || a.Status > 599) {
				bad(a.At, "test %q http answer %d: status %d is not an HTTP status", tc.Name, j+1, a.Status)
			}
			if a.JSON != nil && a.Body != "" {
				bad(a.At, "test %q http answer %d: json and body cannot both be set", tc.Name, j+1)
			}
		}
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b problemAt) int {
			return cmp.Or(cmp.Compare(a.at.Line, b.at.Line), cmp.Compare(a.at.Col, b.at.Col))
		})
		out := make([]string, len(problems))
		for i, p := range problems {
			out[i] = p.text
		}
		return nil, out
	}
	return tf, nil
}

// problemAt is a problem of a test file and where it is, by which the
// problems are reported.
type problemAt struct {
	at   config.Pos
	text string
}

// place is FILE:LINE:COL.
func place(file string, at config.Pos) string {
	return fmt.Sprintf("%s:%d:%d", file, at.Line, at.Col)
}

// typeErrorPlace reads the place a decoder type error starts with: "line
// N: " from yaml, "line N:C: " from nodeProblem.
var typeErrorPlace = regexp.MustCompile(`^line (\d+)(?::(\d+))?: `)

// typeErrorNode finds, in what a yaml type error says, the key or value it
// is about: an unknown key, a key given twice, a value of the wrong kind.
var typeErrorNode = regexp.MustCompile("^(?:field (\\S+) not found in type|mapping key \"(.*)\" already defined|field (\\S+) already set in type|cannot unmarshal \\S+ `([^`]*)`)")

// placeTypeError splits one of a yaml.TypeError's lines into its place in
// the file and its message. yaml names only the line: the column is that
// of the node on the line the message names (the key, or the value), else
// of the line's first node, found in root (nil: column 1).
func placeTypeError(root *yaml.Node, line string) (config.Pos, string) {
	m := typeErrorPlace.FindStringSubmatch(line)
	if m == nil {
		return config.Pos{Line: 1, Col: 1}, line
	}
	msg := line[len(m[0]):]
	at := config.Pos{Col: 1}
	at.Line, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		at.Col, _ = strconv.Atoi(m[2])
		return at, msg
	}
	want, key := "", false
	if n := typeErrorNode.FindStringSubmatch(msg); n != nil {
		switch {
		case n[1] != "":
			want, key = n[1], true
		case n[2] != "":
			want, key = n[2], true
		case n[3] != "":
			want, key = n[3], true
		default:
			want = n[4]
		}
	}
	first := 0
	var walk func(n *yaml.Node, isKey bool) bool
	walk = func(n *yaml.Node, isKey bool) bool {
		if n.Line == at.Line {
			if first == 0 || n.Column < first {
				first = n.Column
			}
			if want != "" && isKey == key && (n.Value == want || strings.HasSuffix(want, "...") && strings.HasPrefix(n.Value, strings.TrimSuffix(want, "..."))) {
				at.Col = n.Column
				return true
			}
		}
		for i, c := range n.Content {
			if walk(c, n.Kind == yaml.MappingNode && i%2 == 0) {
				return true
			}
		}
		return false
	}
	if root != nil && !walk(root, false) && first > 0 {
		at.Col = first
	}
	return at, msg
}

// configPath is the config file a test file names, relative to it.
func (tf *testFile) configPath() string {
	if filepath.IsAbs(tf.Config) {
		return tf.Config
	}
	return filepath.Join(filepath.Dir(tf.Path), tf.Config)
}

// isConfigFile reports whether a file given as a test file is a keyway
// config instead: it has neither of a test file's keys and some of a
// config's.
func isConfigFile(root *yaml.Node) bool {
	if mapValue(root, "config") != nil || mapValue(root, "tests") != nil {
		return false
	}
	for _, k := range []string{"automations", "providers", "server", "storage"} {
		if mapValue(root, k) != nil {
			return true
		}
	}
	return false
}

// configNotTestFile says that path is a config given in place of its test
// file, once, rather than as an unknown key per section of the config,
// naming the test file beside it when there is one.
func configNotTestFile(path string) string {
	msg := fmt.Sprintf("%s:1:1: this is a keyway config, not a test file (a test file has config: and tests:)", path)
	ext := filepath.Ext(path)
	if t := strings.TrimSuffix(path, ext) + "_test" + ext; fileExists(t) {
		msg += fmt.Sprintf("; its tests may be in %s: keyway test %s", t, t)
	}
	return msg + fmt.Sprintf("; keyway validate %s checks the config itself", path)
}

// fileExists reports whether path names a file.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// placeTests records where each test, turn and http answer starts, for the
// report.
func placeTests(root *yaml.Node, tf *testFile) {
	tests := mapValue(root, "tests")
	if tests == nil || tests.Kind != yaml.SequenceNode {
		return
	}
	for i, tn := range tests.Content {
		if i >= len(tf.Tests) {
			return
		}
		tc := &tf.Tests[i]
		tc.At = nodePos(tn)
		if turns := mapValue(tn, "turns"); turns != nil && turns.Kind == yaml.SequenceNode {
			for j, n := range turns.Content {
				if j < len(tc.Turns) {
					tc.Turns[j].At = nodePos(n)
				}
			}
		}
		if answers := mapValue(tn, "http"); answers != nil && answers.Kind == yaml.SequenceNode {
			for j, n := range answers.Content {
				if j < len(tc.HTTP) {
					tc.HTTP[j].At = nodePos(n)
				}
			}
		}
	}
}

// mapValue returns the value under key in a mapping (or a document holding
// one), or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// nodePos is where n starts in its file.
func nodePos(n *yaml.Node) config.Pos { return config.Pos{Line: n.Line, Col: n.Column} }
