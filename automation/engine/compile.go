package engine

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osteele/liquid"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/keywords"
	"github.com/keyway-sms/keyway/providers"
)

// Compliance families, the values of Set's compliance index: the words a
// provider recognises itself (providers.Inbound.Compliance) are the same.
const (
	OptOut = providers.ComplianceOptOut
	OptIn  = providers.ComplianceOptIn
	Help   = providers.ComplianceHelp
)

// Set is a loaded configuration compiled for the engine: automations with
// their steps, and the keyword indexes. It is immutable once built, so a
// reload swaps a whole Set.
type Set struct {
	Config *config.Config
	// Location is defaults.timezone, loaded once.
	Location    *time.Location
	automations map[string]*Automation
	order       []*Automation
	// keywords holds one index per channel (sms, whatsapp) and one under ""
	// for any other channel: an automation with a channel is in its
	// channel's index only, one without is in all three.
	keywords   map[string]*keywords.Index[*Automation]
	compliance *keywords.Index[string]
	// staff maps each staff number to its name ("" when unnamed): the
	// numbers under staff and every number a step forwards to.
	staff    map[string]string
	catchAll *Automation
	quiet    *QuietHours
}

// Automation is a compiled automation.
type Automation struct {
	ID        string
	Name      string
	Enabled   bool
	Overwrite bool
	Config    *config.Automation
	Steps     []*CompiledStep
	byKey     map[string]int
	// fingerprint identifies the automation as the file writes it (see
	// pause.go): a reload that changes it drops a dashboard pause.
	fingerprint string
}

// CompiledStep is one step with its place in its automation.
type CompiledStep struct {
	Index int    // from 0
	Key   string // the step's id, or "#N" with N = Index+1
	ID    string
	Name  string
	Type  string
	Next  string
	Step  Step
	// Branches are the step's jumps other than next (then, else, on_error,
	// on_timeout...), in the order its type declared them: what the
	// dashboard draws as arrows.
	Branches []Branch
}

// Branch is a jump a step may take: the field that names it and the step
// id (or "end") it goes to.
type Branch struct {
	Field  string
	Target string
}

// Automation returns the automation with id, or nil.
func (s *Set) Automation(id string) *Automation { return s.automations[id] }

// Automations returns the automations in file order.
func (s *Set) Automations() []*Automation { return s.order }

// step finds the step an enrollment stands on, by id or "#N", as long as
// it still has the type recorded: a step that changed type is not the one
// the enrollment paused at, and could not resume it.
func (a *Automation) step(key, typ string) (*CompiledStep, bool) {
	i, ok := a.byKey[key]
	if !ok {
		return nil, false
	}
	st := a.Steps[i]
	if typ != "" && st.Type != typ {
		return nil, false
	}
	return st, true
}

// Compiler builds a Set and collects every problem; step factories use it
// to decode their fields, parse templates and check targets.
type Compiler struct {
	Config     *config.Config
	Automation *config.Automation
	liquid     *liquid.Engine
	problems   config.Problems
	// step is the step being compiled, whose jumps Target records;
	// refused says that decoding its fields refused one (Decode).
	step    *CompiledStep
	refused bool
	// stepStarted holds the automations a start_automation step names
	// (startedBySteps), read once.
	stepStarted map[string]bool
}

// NewCompiler returns a Compiler for cfg whose templates know every
// registered filter (RegisterFilter). Compile uses it.
func NewCompiler(cfg *config.Config) *Compiler {
	c := &Compiler{Config: cfg, liquid: liquid.NewEngine()}
	for name, fn := range filters {
		c.liquid.RegisterFilter(name, fn)
	}
	return c
}

// Compile validates cfg and compiles it. The Set is nil when any problem is
// an error; warnings come back either way.
func Compile(cfg *config.Config) (*Set, config.Problems) {
	c := NewCompiler(cfg)
	set := &Set{
		Config:      cfg,
		Location:    cfg.Location(),
		automations: map[string]*Automation{},
		keywords: map[string]*keywords.Index[*Automation]{
			config.ChannelSMS:      keywords.NewIndex[*Automation](),
			config.ChannelWhatsApp: keywords.NewIndex[*Automation](),
			"":                     keywords.NewIndex[*Automation](),
		},
		compliance: keywords.NewIndex[string](),
		staff:      map[string]string{},
		quiet:      compileQuietHours(cfg.Compliance.QuietHours),
	}
	for _, s := range cfg.Staff {
		set.staff[s.Number] = s.Name
	}
	c.compliance(set)
	for i := range cfg.Automations {
		ca := &cfg.Automations[i]
		a := c.automation(ca)
		if _, dup := set.automations[a.ID]; !dup && a.ID != "" {
			set.automations[a.ID] = a
		}
		set.order = append(set.order, a)
		if ca.CatchAll && set.catchAll == nil {
			set.catchAll = a
		}
		c.keywords(set, ca, a)
		for _, st := range a.Steps {
			if s, ok := st.Step.(StaffStep); ok {
				for _, n := range s.StaffNumbers() {
					if _, named := set.staff[n]; !named {
						set.staff[n] = ""
					}
				}
			}
		}
	}
	c.checkStartLoops(set)
	// An error about a value that an unset variable emptied names it. The
	// warnings about such values of steps no factory decoded come now.
	problems := append(cfg.NameUnsetVariables(c.problems), cfg.UntoldUnsetWarnings()...)
	if h := cfg.Hidden(); h != nil {
		// The steps and keywords of the blocks duplicate keys hide.
		_, hps := Compile(h.Config)
		problems = append(problems, h.Within(hps, problems)...)
	}
	if problems.Err() != nil {
		return nil, problems
	}
	return set, problems
}

func (c *Compiler) compliance(set *Set) {
	fams := []struct {
		name string
		path string
		rule config.ComplianceRule
	}{
		{OptOut, "compliance.opt_out", c.Config.Compliance.OptOut},
		{OptIn, "compliance.opt_in", c.Config.Compliance.OptIn},
		{Help, "compliance.help", c.Config.Compliance.Help},
	}
	for _, f := range fams {
		for _, kw := range f.rule.Keywords {
			// Conflicts and empty words are reported by config validation.
			_ = set.compliance.Add(kw, keywords.Exact, f.name)
		}
	}
}

func (c *Compiler) keywords(set *Set, ca *config.Automation, a *Automation) {
	match, err := keywords.ParseMatch(ca.Match)
	if err != nil {
		// Reported by config validation; go on checking the keywords
		// themselves as first_word, so their problems come out too.
		match = keywords.FirstWord
	}
	for j, kw := range ca.Keywords {
		path := fmt.Sprintf("%s.keywords[%d]", ca.Path, j)
		if fam, _, ok := set.compliance.Lookup(kw); ok {
			c.problems = append(c.problems, c.Config.Problemf(path,
				"automation %q: keyword %q is a compliance keyword (%s); pick another", ca.ID, kw, fam))
			continue
		}
		reported := map[string]bool{} // conflicting automations, reported once each
		for _, ch := range keywordChannels(ca.Channel) {
			err := set.keywords[ch].Add(kw, match, a)
			var conflict *keywords.ConflictError[*Automation]
			switch {
			case err == nil:
			case errors.As(err, &conflict):
				other := conflict.Existing
				if reported[other.ID] {
					continue
				}
				reported[other.ID] = true
				otherPath, otherKw := keywordPath(other.Config, conflict.Keyword)
				at := c.Config.At(otherPath)
				where := ""
				if ca.Channel != "" || other.Config.Channel != "" {
					where = ", both on " + ch
				}
				c.problems = append(c.problems, c.Config.Problemf(path,
					"automation %q: keyword %q conflicts with keyword %q of automation %q at %s:%d:%d (both normalise to %q%s)",
					ca.ID, kw, otherKw, other.ID, c.Config.File, at.Line, at.Col, conflict.Keyword, where))
			default:
				c.problems = append(c.problems, c.Config.Problemf(path,
					"automation %q: keyword %q is empty once normalised", ca.ID, kw))
			}
			if err != nil && conflict == nil {
				break // empty: the same in every index
			}
		}
	}
}

// keywordChannels lists the keyword indexes an automation on channel
// (empty: every channel) is added to.
func keywordChannels(channel string) []string {
	if channel == config.ChannelSMS || channel == config.ChannelWhatsApp {
		return []string{channel}
	}
	return []string{config.ChannelSMS, config.ChannelWhatsApp, ""}
}

// lookupKeyword finds the automation whose keyword matches the normalised
// text of a message on channel.
func (s *Set) lookupKeyword(channel, norm string) (*Automation, bool) {
	idx, ok := s.keywords[channel]
	if !ok {
		idx = s.keywords[""]
	}
	a, _, found := idx.LookupNormalized(norm)
	return a, found
}

// IsStaff reports whether number is staff: under staff, or a number that a
// forward_to_mobile or handoff step sends to.
func (s *Set) IsStaff(number string) bool {
	_, ok := s.staff[number]
	return ok
}

// StaffName returns the name of a staff number, "" when it has none.
func (s *Set) StaffName(number string) string { return s.staff[number] }

// StaffStep is a step that sends to staff numbers (forward_to_mobile,
// handoff): the compiler makes those numbers staff.
type StaffStep interface {
	// StaffNumbers returns the E.164 numbers the step sends to.
	StaffNumbers() []string
}

// keywordPath finds the keyword of ca that normalises to norm, and its path.
func keywordPath(ca *config.Automation, norm string) (path, keyword string) {
	for j, kw := range ca.Keywords {
		if keywords.Normalize(kw) == norm {
			return fmt.Sprintf("%s.keywords[%d]", ca.Path, j), kw
		}
	}
	return ca.Path, norm
}

func (c *Compiler) automation(ca *config.Automation) *Automation {
	c.Automation = ca
	a := &Automation{
		ID:          ca.ID,
		Name:        ca.Name,
		Enabled:     ca.IsEnabled(),
		Overwrite:   ca.OverwriteIfExists,
		Config:      ca,
		byKey:       map[string]int{},
		fingerprint: fingerprint(ca),
	}
	for i := range ca.Steps {
		s := &ca.Steps[i]
		st := &CompiledStep{Index: i, ID: s.ID, Name: s.Name, Type: s.Type, Next: s.Next, Key: s.ID}
		if st.Key == "" {
			st.Key = "#" + strconv.Itoa(i+1)
		}
		a.byKey[st.Key] = i
		a.Steps = append(a.Steps, st)
		if s.Type == "" {
			continue // reported by config validation
		}
		factory, ok := registry[s.Type]
		if !ok {
			hint := ""
			if guess := config.Suggest(s.Type, Types()); guess != "" {
				hint = fmt.Sprintf("did you mean %q? ", guess)
			}
			c.problems = append(c.problems, c.Config.Problemf(s.Path+".type",
				"automation %q step %d: unknown step type %q (%sknown: %v)", ca.ID, i+1, s.Type, hint, Types()))
			continue
		}
		c.step, c.refused = st, false
		impl, problems := factory(c, s)
		c.problems = append(c.problems, problems...)
		if !c.refused {
			// A step with a field refused is checked, not compiled: the
			// checks of the automation as a whole (the window, loops) see
			// no step there, as they would find it lacking that field.
			st.Step = impl
		}
		c.step = nil
	}
	c.warnWindow(ca, a)
	c.checkLoops(ca, a)
	return a
}

// Decode decodes the step's own fields into into, recording problems. A
// field whose value was refused (an invalid duration, a list for a text)
// is left as if not written, and the factory goes on to check the others:
// every problem of a step comes out at once. The problems that a refused
// field would then cause are not reported (see Refused): a factory checks
// that field's absence with Refused, and Problemf and Warnf drop their
// problems about it.
func (c *Compiler) Decode(s *config.Step, into any) {
	ps := c.Config.DecodeStep(s, into)
	c.problems = append(c.problems, ps...)
	if ps.Err() != nil {
		c.refused = true
	}
}

// Refused reports whether decoding refused any of fields of step s (or a
// value inside one): a check of the step as a whole that would find such a
// field missing is to be skipped, as the decoding problem told the mistake.
func (c *Compiler) Refused(s *config.Step, fields ...string) bool {
	for _, f := range fields {
		if c.Config.Refused(fieldPath(s, f)) {
			return true
		}
	}
	return false
}

// echo reports whether a problem about field of step s would repeat a
// decoding problem: the field, a value inside it or the value it is in was
// refused.
func (c *Compiler) echo(s *config.Step, field string) bool {
	return field != "" && c.Config.Refused(fieldPath(s, field))
}

// Template parses a template found at path (e.g. s.Path+".text"); a syntax
// error or a name the template cannot see (ParseTemplate) is a problem
// placed there, and nil is returned.
//
// A problem that TemplateError places inside src is placed there in the
// file where the file holds src as written (config.Config.ProblemInside).
func (c *Compiler) Template(s *config.Step, field, src string) *Template {
	t, err := c.ParseTemplate(src)
	if err != nil {
		offset := -1
		var te *TemplateError
		if errors.As(err, &te) {
			offset = te.Offset
		}
		c.problemInside(s, field, src, offset, "%v", err)
		return nil
	}
	return t
}

// ParseTemplate parses src as a template that knows the registered
// filters, for a step that places its problems itself. It is an error when
// src does not parse, holds markup left open ("{{ vars.name }"), or reads
// a name templates do not see: an unknown top-level name or field
// (contact.feilds), or a contact field not declared under fields. Its
// outputs show an object or a list read from JSON as compact JSON
// (OutputText).
func (c *Compiler) ParseTemplate(src string) (*Template, error) {
	t, err := parseTemplate(c.liquid, src)
	if err != nil || t.tpl == nil {
		return t, err
	}
	ln := &liquidNames{locals: map[string]bool{}}
	ln.node(t.tpl.GetRoot())
	if msg, first := c.checkNames(ln.paths, ln.locals, true); msg != "" {
		return nil, &TemplateError{Err: fmt.Errorf("template: %s", msg), Offset: nameOffset(src, ln.marks[first], ln.paths[first][0])}
	}
	return t.withTextOutputs(c.liquid)
}

// AddProblem records p, for a step that places a problem itself (at a node
// of its YAML).
func (c *Compiler) AddProblem(p config.Problem) { c.problems = append(c.problems, p) }

// Problemf records an error about field of step s ("" for the step itself),
// prefixed with the automation and step number.
func (c *Compiler) Problemf(s *config.Step, field, format string, args ...any) {
	if c.echo(s, field) {
		return
	}
	c.problems = append(c.problems, c.Config.Problemf(fieldPath(s, field), "%s: %s", c.StepName(s), fmt.Sprintf(format, args...)))
}

// problemInside records an error about the byte at offset of src, the
// value of field of step s, placed on it where the file shows it
// (config.Config.ProblemInside).
func (c *Compiler) problemInside(s *config.Step, field, src string, offset int, format string, args ...any) {
	if c.echo(s, field) {
		return
	}
	c.problems = append(c.problems, c.Config.ProblemInside(fieldPath(s, field), src, offset, "%s: %s", c.StepName(s), fmt.Sprintf(format, args...)))
}

// Warnf records a warning about field of step s.
func (c *Compiler) Warnf(s *config.Step, field, format string, args ...any) {
	if c.echo(s, field) {
		return
	}
	c.problems = append(c.problems, c.Config.Warningf(fieldPath(s, field), "%s: %s", c.StepName(s), fmt.Sprintf(format, args...)))
}

// Target checks that id, found in field of s, names a step of the same
// automation or "end"; an empty id is fine (it means the next step).
func (c *Compiler) Target(s *config.Step, field, id string) {
	if id != "" && !c.Automation.HasStep(id) {
		c.Problemf(s, field, "%s %q is not a step of this automation", field, id)
	}
	if id != "" && c.step != nil {
		c.step.Branches = append(c.step.Branches, Branch{Field: field, Target: id})
	}
}

// StepName names step s for a problem: `automation "x" step 3`.
func (c *Compiler) StepName(s *config.Step) string {
	for i := range c.Automation.Steps {
		if &c.Automation.Steps[i] == s {
			return fmt.Sprintf("automation %q step %d", c.Automation.ID, i+1)
		}
	}
	return fmt.Sprintf("automation %q", c.Automation.ID)
}

func fieldPath(s *config.Step, field string) string {
	if field == "" {
		return s.Path
	}
	return s.Path + "." + field
}

// Duration parses a duration found in field of s ("90s", "2h", "3d"); one
// that does not parse, or is not more than 0, is a problem.
func (c *Compiler) Duration(s *config.Step, field, raw string) time.Duration {
	d, err := config.ParseDuration(strings.TrimSpace(raw))
	switch {
	case err != nil:
		c.Problemf(s, field, "%s: %v", field, err)
	case d <= 0:
		c.Problemf(s, field, "%s must be more than 0", field)
	}
	return d
}

// Number checks a phone number found in field of s and returns it in
// E.164; an invalid one is a problem and "" is returned.
func (c *Compiler) Number(s *config.Step, field, raw string) string {
	if raw == "" {
		return ""
	}
	n, err := config.E164(raw, c.Config.Defaults.Region)
	if err != nil {
		c.Problemf(s, field, "%q is not a valid phone number", raw)
		return ""
	}
	return n
}

// Sender checks a `from` number found in field of s: a phone number,
// returned in E.164, or a short code, returned as written; an invalid one is
// a problem and "" is returned. It warns when the number is not one of the
// configured sender numbers (any provider's numbers): the provider refuses
// to send from a number that is not the account's.
func (c *Compiler) Sender(s *config.Step, field, raw string) string {
	if raw == "" {
		return ""
	}
	n, err := config.SenderNumber(raw, c.Config.Defaults.Region, config.ChannelSMS)
	if err != nil {
		c.Problemf(s, field, "%q is not a valid phone number nor a short code", raw)
		return ""
	}
	for _, num := range c.Config.Numbers() {
		if num.Number == n {
			return n
		}
	}
	c.Warnf(s, field, "from %s is not one of %s; the provider will refuse to send from it", n, strings.Join(c.Config.NumberPaths(), " or "))
	return n
}

// FieldIndex is the path of item i of the list field: "to[2]".
func FieldIndex(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// Load reads the config file at path and compiles it, returning every
// problem of both in file order. A config with problems is still compiled,
// so that step and keyword problems are reported with the file's; the Set
// is nil when any problem is an error.
func Load(path string) (*config.Config, *Set, config.Problems) {
	cfg, problems := config.Load(path)
	if cfg == nil {
		return nil, nil, problems
	}
	set, more := Compile(cfg)
	problems = append(problems, more...)
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i].Pos, problems[j].Pos
		return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
	})
	if problems.Err() != nil {
		return cfg, nil, problems
	}
	return cfg, set, problems
}
