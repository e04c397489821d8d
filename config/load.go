package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultListen is server.listen when the file does not set it.
const DefaultListen = ":8080"

// Defaults of the settings a file may leave out; see applyDefaults.
const (
	defaultListen       = DefaultListen
	defaultMaxBodyBytes = 65536
	defaultMaxConns     = 1024
	defaultStoragePath  = "./data/keyway.db"
	defaultRegion       = "US"
	defaultTimezone     = "UTC"
	defaultTwilioAPI    = "https://api.twilio.com"
	defaultSMTPTLS      = "starttls"
	defaultMatch        = "first_word"
	defaultExpireAfter  = Duration(30 * 24 * time.Hour)
	defaultCatchUp      = Duration(time.Hour)
	defaultLoopGuardMax = 10
	defaultLoopGuardPer = Duration(time.Minute)

	defaultOptOutReply = "You are unsubscribed. Reply START to resubscribe."
	defaultOptInReply  = "You are resubscribed."
	defaultHelpReply   = "Reply STOP to opt out. Msg&data rates may apply."
)

// Default compliance keywords of each family.
var (
	defaultOptOutKeywords = []string{"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT", "REVOKE"}
	defaultOptInKeywords  = []string{"START", "UNSTOP", "YES"}
	defaultHelpKeywords   = []string{"HELP", "INFO"}
)

// Load reads the configuration file at path, with ${NAME} references taken
// from the environment; see Parse. A file that cannot be read, or is empty,
// gives a nil Config and a single problem.
func Load(path string) (*Config, Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Pos: Pos{Line: 1, Col: 1}, Message: fmt.Sprintf("cannot read the configuration: %v", err)}}
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads a configuration from data, the content of file, validates it
// and returns it with every problem found, errors and warnings, in file
// order. Each ${NAME} or ${NAME:-default} in a value is replaced by
// lookupEnv(NAME), or by nothing (or the default) when it is not set (a nil
// lookupEnv sets nothing); see expandEnv. The settings the file leaves out
// get their defaults (see applyDefaults).
//
// The Config is nil only when data is not a single YAML document, is
// empty (nothing but whitespace, comments or a null), or is a `keyway test`
// file: the problems then hold that one problem alone. A configuration that was truncated or not written
// yet is never taken for one with no settings. Otherwise the Config holds
// whatever could be read, and is fit to run when Problems.Err is nil.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, Problems) {
	root, bad := parseYAML(file, data)
	if bad != nil {
		return nil, Problems{*bad}
	}
	if root == nil {
		return nil, Problems{{File: file, Pos: Pos{Line: 1, Col: 1}, Message: emptyFileMessage}}
	}
	if isTestFile(root) {
		return nil, Problems{{File: file, Pos: Pos{Line: 1, Col: 1}, Message: fmt.Sprintf(testFileMessage, file)}}
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	c, problems := parseRoot(file, data, root, lookupEnv, nil)
	// Read again, with the blocks the duplicate keys hide merged in, for
	// the problems inside those blocks; and again while a merged reading
	// still has a key written twice (one inside a hidden block), each
	// reading merging once more than the one before.
	holder := c
	for round := 1; round <= maxMergeRounds && hasDuplicateKey(root); round++ {
		merged, _ := parseYAML(file, data)
		var spans []span
		echoes := map[*yaml.Node]bool{}
		for range round {
			spans = append(spans, mergeDuplicateKeys(merged, echoes)...)
		}
		hc, hps := parseRoot(file, data, merged, lookupEnv, echoes)
		holder.hidden = &Hidden{Config: hc, spans: spans}
		problems = append(problems, holder.hidden.Within(hps, problems)...)
		holder, root = hc, merged
	}
	sortProblems(problems)
	return c, problems
}

// maxMergeRounds bounds the readings of a file whose duplicate keys hide
// more duplicate keys, block inside block.
const maxMergeRounds = 8

// parseRoot reads the configuration from root, the top node of data, the
// content of file; see Parse. The keys in echoes, written twice as part
// of a block written twice, are not reported (see mergeDuplicateKeys).
func parseRoot(file string, data []byte, root *yaml.Node, lookupEnv func(string) (string, bool), echoes map[*yaml.Node]bool) (*Config, Problems) {
	sum := sha256.Sum256(data)
	c := &Config{File: file, Hash: hex.EncodeToString(sum[:]), pos: map[string]Pos{}, styles: map[string]yaml.Style{},
		lines: strings.Split(string(data), "\n")}
	d := newDecoder(file, lookupEnv, c.pos, c.styles)
	d.inside, d.echoes = c.inside, echoes
	d.structure(root, "", reflect.ValueOf(c).Elem(), keyRule{})
	for i := range c.Automations {
		c.Automations[i].Path = fmt.Sprintf("automations[%d]", i)
	}
	c.unset, c.emptied = d.unset, d.emptied
	c.applyDefaults()
	problems := append(d.problems, dropEchoes(c.unsetWarnings(c.deferUnset(d.unsetValues)), d.misshapen)...)
	problems = c.NameUnsetVariables(c.oneBased(append(problems, dropEchoes(c.validate(), d.misshapen)...)))
	sortProblems(problems)
	return c, problems
}

// dropEchoes returns ps, the problems found after decoding, without those
// at a place where a value is not the mapping or list its setting takes
// (misshapen): the decoder said so there, and the checks that then find the
// value missing would add "missing id", "has no steps" and the like about
// the same mistake.
func dropEchoes(ps Problems, misshapen map[Pos]bool) Problems {
	if len(misshapen) == 0 {
		return ps
	}
	out := ps[:0]
	for _, p := range ps {
		if !misshapen[p.Pos] {
			out = append(out, p)
		}
	}
	return out
}

// parseYAML reads the single YAML document in data and returns its root
// node, or nil when the document is empty.
func parseYAML(file string, data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, syntaxProblem(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxProblem(file, data, err)
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		return nil, &Problem{File: file, Pos: nodePos(&next), Message: "a second YAML document starts here; keep the whole configuration in one document"}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

// testFileMessage is the problem of a `keyway test` file given as a
// config: one line that says what it is, not an unknown key per section.
const testFileMessage = "this is a keyway test file, not a config: keyway test %s runs its tests, " +
	"and its config: names the config they run on"

// isTestFile reports whether root is a `keyway test` file: a mapping with
// the test file's tests and config keys and none of a config's.
func isTestFile(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	keys := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		keys[root.Content[i].Value] = true
	}
	return keys["tests"] && keys["config"] && !keys["automations"] && !keys["providers"] && !keys["server"]
}

// emptyFileMessage is the problem of a file with no settings at all.
const emptyFileMessage = "the configuration is empty (nothing but whitespace, comments or null); " +
	"an empty file is refused so that a truncated or half-written one never replaces the running configuration"

// sortProblems puts problems in file order, keeping the order of those at
// the same place.
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
}

// applyDefaults fills in the settings the file leaves empty:
//   - server.listen ":8080"; server.max_body_bytes 65536 (when 0);
//   - storage.path "./data/keyway.db", unless storage.postgres is set;
//   - defaults.region "US"; defaults.timezone "UTC";
//   - providers.twilio.api_base_url "https://api.twilio.com"; the channel
//     of each sender number, Twilio's and every other provider's, "sms";
//   - when email.smtp is set: its tls "starttls", and its port 587, or 465
//     with tls: tls;
//   - the keywords and the reply of each compliance family, separately:
//     opt_out STOP, STOPALL, "STOP ALL", UNSUBSCRIBE, CANCEL, END, QUIT,
//     OPTOUT, "OPT OUT", REVOKE replying "You are unsubscribed.
//     Reply START to resubscribe."; opt_in START, UNSTOP, YES
//     replying "You are resubscribed."; help HELP, INFO replying "Reply STOP
//     to opt out. Msg&data rates may apply.";
//   - compliance.loop_guard max 10 per 1m, and compliance.quiet_hours
//     timezone, when quiet hours are set, defaults.timezone;
//   - each automation's match "first_word" and expire_after 30 days, and
//     its schedule's catch_up 1h.
//
// It also rewrites each phone number among the sender numbers in E.164,
// reading it as a number of defaults.region, and keeps a short code as
// written; a number that does not read is left for validate to report.
func (c *Config) applyDefaults() {
	setDefault(&c.Server.Listen, defaultListen)
	setDefault(&c.Server.MaxBodyBytes, defaultMaxBodyBytes)
	setDefault(&c.Server.MaxConnections, defaultMaxConns)
	if c.Storage.Postgres == "" {
		setDefault(&c.Storage.Path, defaultStoragePath)
	}
	setDefault(&c.Defaults.Region, defaultRegion)
	setDefault(&c.Defaults.Timezone, defaultTimezone)

	tw := &c.Providers.Twilio
	setDefault(&tw.APIBaseURL, defaultTwilioAPI)
	c.numberDefaults(tw.Numbers)
	for i := range c.Providers.Other {
		o := &c.Providers.Other[i]
		def := numberDefault(o.Name)
		for j := range o.Numbers {
			setDefault(&o.Numbers[j].Channel, def.Channel)
			setDefault(&o.Numbers[j].MPS, def.MPS)
		}
		c.numberDefaults(o.Numbers)
	}

	if s := c.Email.SMTP; s != nil {
		setDefault(&s.TLS, defaultSMTPTLS)
		if s.TLS == "tls" {
			setDefault(&s.Port, 465)
		}
		setDefault(&s.Port, 587)
	}

	c.Compliance.OptOut.setDefaults(defaultOptOutKeywords, defaultOptOutReply)
	c.Compliance.OptIn.setDefaults(defaultOptInKeywords, defaultOptInReply)
	c.Compliance.Help.setDefaults(defaultHelpKeywords, defaultHelpReply)
	setDefault(&c.Compliance.LoopGuard.Max, defaultLoopGuardMax)
	setDefault(&c.Compliance.LoopGuard.Per, defaultLoopGuardPer)
	if q := c.Compliance.QuietHours; q != nil {
		setDefault(&q.Timezone, c.Defaults.Timezone)
	}

	for i := range c.Staff {
		if e, err := E164(c.Staff[i].Number, c.Defaults.Region); err == nil {
			c.Staff[i].Number = e
		}
	}
	for i := range c.Automations {
		a := &c.Automations[i]
		setDefault(&a.Match, defaultMatch)
		setDefault(&a.ExpireAfter, defaultExpireAfter)
		if a.Schedule != nil {
			setDefault(&a.Schedule.CatchUp, defaultCatchUp)
		}
	}
}

// numberDefaults gives each sender number the sms channel when it has none,
// and writes it in E.164 when it reads as a number of defaults.region.
func (c *Config) numberDefaults(numbers []Number) {
	for i := range numbers {
		n := &numbers[i]
		setDefault(&n.Channel, ChannelSMS)
		if e, err := SenderNumber(n.Number, c.Defaults.Region, n.Channel); err == nil {
			n.Number = e
		}
	}
}

// setDefaults gives the rule the keywords and the reply when it has none.
func (r *ComplianceRule) setDefaults(keywords []string, reply string) {
	if len(r.Keywords) == 0 {
		r.Keywords = slices.Clone(keywords)
	}
	setDefault(&r.Reply, reply)
}

// setDefault sets *v to def when it is the zero value.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// HasStep reports whether id is End or the id of one of the automation's
// steps: whether next, a branch or a timeout may go to id.
func (a *Automation) HasStep(id string) bool {
	if id == End {
		return true
	}
	return id != "" && slices.ContainsFunc(a.Steps, func(s Step) bool { return s.ID == id })
}

// Automation returns the automation with the given id, or nil if there is
// none.
func (c *Config) Automation(id string) *Automation {
	for i := range c.Automations {
		if c.Automations[i].ID == id {
			return &c.Automations[i]
		}
	}
	return nil
}

// HasGroup reports whether a group with the given id is declared.
func (c *Config) HasGroup(id string) bool {
	return slices.ContainsFunc(c.Groups, func(g Group) bool { return g.ID == id })
}

// HasField reports whether the contact field name is declared under fields.
func (c *Config) HasField(name string) bool {
	return slices.Contains(c.Fields, name)
}

// Location returns the time zone of defaults.timezone, or UTC when it
// cannot be loaded. It loads the zone on each call.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Defaults.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
