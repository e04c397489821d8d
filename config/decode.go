package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// commonStepKeys are the keys every step has: Parse decodes them into Step,
// and DecodeStep leaves them alone.
var commonStepKeys = map[string]bool{"id": true, "name": true, "type": true, "next": true}

var (
	nodeType            = reflect.TypeFor[yaml.Node]()
	nodePtrType         = reflect.TypeFor[*yaml.Node]()
	stepType            = reflect.TypeFor[Step]()
	providersType       = reflect.TypeFor[Providers]()
	sectionType         = reflect.TypeFor[ProviderSection]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationTextType    = reflect.TypeFor[DurationText]()
)

// DecodeStep decodes the keys of step s other than id, name, type and next
// into the struct into points to, as Parse decodes the rest of the file: by
// yaml tags, with every problem placed where it stands. A key the struct does
// not have is reported as unknown for the step's type. The places of the
// decoded nodes are recorded under s.Path, for At. The step's ${NAME}
// references were expanded by Parse.
//
// DecodeStep records places into c, so it must not run at the same time as
// another DecodeStep or At on the same Config. It panics if into is not a
// pointer to a struct.
func (c *Config) DecodeStep(s *Step, into any) Problems {
	return c.oneBased(c.decodeInto(s.Node, s.Path, into, keyRule{
		skip:  commonStepKeys,
		where: fmt.Sprintf("in %s (step type %q)", s.Path, s.Type),
	}))
}

// decodeInto decodes mapping n, already expanded, at path into the struct
// into points to, under rule, for DecodeStep and DecodeSection.
func (c *Config) decodeInto(n *yaml.Node, path string, into any, rule keyRule) Problems {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: decoding %s needs a pointer to a struct, got %T", label(path), into))
	}
	if n == nil {
		return nil
	}
	if c.pos == nil {
		c.pos = map[string]Pos{}
	}
	if c.styles == nil {
		c.styles = map[string]yaml.Style{}
	}
	if c.refused == nil {
		c.refused = map[string]bool{}
	}
	d := newDecoder(c.File, nil, c.pos, c.styles)
	d.duplicatesTold = true
	d.refused = c.refused
	if c.emptied != nil {
		d.emptied = c.emptied
	}
	d.unsetValues = c.takeStepUnset(path)
	d.structure(n, path, v.Elem(), rule)
	d.problems = append(d.problems, c.unsetWarnings(d.unsetValues)...)
	sortProblems(d.problems)
	return d.problems
}

// decoder walks a YAML node tree into Go values by their yaml tags. It
// records where each node stands, keyed by its path, and collects every
// problem instead of stopping at the first.
type decoder struct {
	file string
	// lookup reads an environment variable; it is nil when the scalars were
	// already expanded.
	lookup   func(string) (string, bool)
	pos      map[string]Pos
	problems Problems
	// open holds the anchored nodes being decoded through an alias, to stop
	// at an anchor that contains itself.
	open map[*yaml.Node]bool
	// told holds the environment reference problems reported, so that a
	// scalar expanded twice (a step's common keys) is reported once.
	told map[string]bool
	// misshapen holds the place of each value that is not the mapping or
	// list its setting takes: the checks after decoding find nothing there,
	// and what they say of it follows from that problem (see dropEchoes).
	misshapen map[Pos]bool
	// unset holds, by the place of each value, the variables of its plain
	// ${NAME} references that gave nothing; unsetValues the same values in
	// file order, for their warnings (Config.unsetWarnings).
	unset       map[Pos][]string
	unsetValues []unsetValue
	// emptied holds the place of each quoted or block scalar whose
	// references made it empty: a number, a flag or a duration reads it
	// as the plain ${NAME} that gave nothing, as not written (see
	// readsAbsent).
	emptied map[Pos]bool
	// duplicatesTold says that the keys written twice were reported
	// already, by Parse: decoding a step or a provider section skips
	// them silently.
	duplicatesTold bool
	// echoes holds the keys of a block written twice that repeat the
	// keys of its first block, in a reading with the blocks merged
	// (mergeDuplicateKeys): the key written twice is told, they are not.
	echoes map[*yaml.Node]bool
	// styles holds the style of each scalar by its path (Config.styles).
	styles map[string]yaml.Style
	// refused, when not nil, collects the paths of the values decoding
	// refused (Config.Refused); a struct behind a pointer is then kept
	// with what could be read of it, so that the rest is checked too.
	refused map[string]bool
	// inside is Config.inside, where a byte of a value stands in the file;
	// nil when the file's lines are not known.
	inside func(style yaml.Style, at Pos, src string, offset int) (Pos, bool)
}

func newDecoder(file string, lookup func(string) (string, bool), pos map[string]Pos, styles map[string]yaml.Style) *decoder {
	return &decoder{file: file, lookup: lookup, pos: pos, styles: styles, open: map[*yaml.Node]bool{}, told: map[string]bool{},
		unset: map[Pos][]string{}, emptied: map[Pos]bool{}}
}

// keyRule says how a mapping decoded into a struct treats keys that are not
// the struct's.
type keyRule struct {
	skip    map[string]bool // keys another decoder reads
	where   string          // names the mapping in an unknown key message, if not its path
	lenient bool            // unknown keys are left to another decoder
}

// decode stores n, the node at path, into v. A null leaves v as it is.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	d.pos[path] = nodePos(n)
	if n.Kind == yaml.ScalarNode {
		d.styles[path] = n.Style
	}
	if n.Kind == yaml.AliasNode {
		if d.open[n.Alias] {
			d.errorf(n, "%s: alias *%s is inside its own anchor", label(path), n.Value)
			d.refuse(path)
			return
		}
		d.open[n.Alias] = true
		defer delete(d.open, n.Alias)
		n = atAlias(n)
	}
	t := v.Type()
	if t == nodeType || t == nodePtrType || t.Kind() == reflect.Interface {
		d.whole(n, path, v)
		return
	}
	if n.Kind == yaml.ScalarNode {
		n = d.expandScalar(n, path)
	}
	switch {
	case t == stepType: // even a null step is reported: a step must be a mapping
		d.step(n, path, v.Addr().Interface().(*Step))
	case t == sectionType: // an empty section still sets its provider up
		d.section(n, path, v.Addr().Interface().(*ProviderSection))
	case isNull(n), d.readsAbsent(n, t):
	case t == providersType:
		d.providers(n, path, v.Addr().Interface().(*Providers))
	default:
		d.value(n, path, v)
	}
}

// readsAbsent reports whether scalar n, going into a value of type t, is a
// quoted or block scalar that its references emptied ("${RETENTION:-}",
// "${PORT}" unset) and t is not text: such a value counts as not written,
// as the same reference unquoted does, so that the setting keeps its
// default instead of failing to read "" as a number or a duration. Text
// keeps the empty value. The value's warning, if its variable was unset,
// says it counts as not written.
func (d *decoder) readsAbsent(n *yaml.Node, t reflect.Type) bool {
	if n.Kind != yaml.ScalarNode || !d.emptied[nodePos(n)] {
		return false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String && t != durationTextType {
		return false
	}
	for i := range d.unsetValues {
		if d.unsetValues[i].pos == nodePos(n) {
			d.unsetValues[i].absent = true
		}
	}
	return true
}

// value stores the non-null node n into v.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		d.text(n, path, v.Addr().Interface().(encoding.TextUnmarshaler))
		return
	}
	switch v.Kind() {
	case reflect.Pointer: // left nil when its value has an error
		before := len(d.problems)
		p := reflect.New(v.Type().Elem())
		d.value(n, path, p.Elem())
		partial := d.refused != nil && p.Elem().Kind() == reflect.Struct && !d.refused[path]
		if partial || d.problems[before:].Err() == nil {
			v.Set(p)
		}
	case reflect.Struct:
		d.structure(n, path, v, keyRule{})
	case reflect.Slice:
		d.list(n, path, v)
	case reflect.Map:
		d.dict(n, path, v)
	default:
		d.scalar(n, path, v)
	}
}

// whole stores the tree at n, with its ${NAME} references expanded, into a
// yaml.Node, a *yaml.Node or an any.
func (d *decoder) whole(n *yaml.Node, path string, v reflect.Value) {
	d.inWhole(n, path)
	tree := d.expandTree(n, path)
	switch v.Type() {
	case nodeType:
		v.Set(reflect.ValueOf(*tree))
	case nodePtrType:
		v.Set(reflect.ValueOf(tree))
	default:
		if v.NumMethod() != 0 {
			panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
		}
		var x any
		if err := tree.Decode(&x); err != nil {
			d.errorf(n, "%s: %v", label(path), err)
			d.refuse(path)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	}
}

// step stores the common keys of step mapping n into s and keeps the mapping,
// its ${NAME} references expanded, for DecodeStep.
func (d *decoder) step(n *yaml.Node, path string, s *Step) {
	s.Path = path
	d.structure(n, path, reflect.ValueOf(s).Elem(), keyRule{lenient: true})
	if n.Kind == yaml.MappingNode {
		d.walkTree(n, path, false)
		s.Node = d.expandTree(n, path)
	}
}

// providers stores mapping n into p: the sections Providers types by their
// fields, and the section of each provider declared with RegisterProvider
// into p.Other. Any other key is unknown.
func (d *decoder) providers(n *yaml.Node, path string, p *Providers) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, path, providersType)
		return
	}
	v := reflect.ValueOf(p).Elem()
	_, index := structKeys(providersType)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		f, typed := index[key]
		if _, declared := sectionCheck(key); !typed && !declared {
			d.unknownKey(k, path, "", providerKeys())
			continue
		}
		if d.duplicate(seen, k, path) {
			continue
		}
		if typed {
			if key == "twilio" {
				p.TwilioAt = len(p.Other)
			}
			d.decode(val, join(path, key), v.Field(f))
			continue
		}
		s := ProviderSection{Name: key}
		d.decode(val, join(path, key), reflect.ValueOf(&s).Elem())
		p.Other = append(p.Other, s)
	}
}

// section stores the numbers of provider section n into s and keeps the
// mapping, its ${NAME} references expanded, for DecodeSection.
func (d *decoder) section(n *yaml.Node, path string, s *ProviderSection) {
	s.Path = path
	if isNull(n) {
		return
	}
	d.structure(n, path, reflect.ValueOf(s).Elem(), keyRule{lenient: true})
	if n.Kind == yaml.MappingNode {
		d.walkTree(n, path, false)
		s.Node = d.expandTree(n, path)
	}
}

// structure stores mapping n into struct v, key by key.
func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value, rule keyRule) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, path, v.Type())
		return
	}
	names, index := structKeys(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok || rule.skip[key] {
			continue
		}
		f, known := index[key]
		if !known {
			if !rule.lenient {
				if s := d.unknownKey(k, path, rule.where, names); s != "" && !hasKey(n, s) {
					d.refuse(join(path, s)) // most likely written for s: not missing
				}
			}
			continue
		}
		if d.duplicate(seen, k, path) {
			continue
		}
		d.decode(val, join(path, key), v.Field(f))
	}
}

// list stores sequence n into slice v.
func (d *decoder) list(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.mismatch(n, path, v.Type())
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		d.decode(e, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
	}
	v.Set(s)
}

// dict stores mapping n into v, a map with string keys.
func (d *decoder) dict(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, path, v.Type())
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: cannot decode into %s", t))
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok || d.duplicate(seen, k, path) {
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.decode(val, join(path, key), e)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
	}
	v.Set(m)
}

// text stores scalar n into a value that reads itself from text, such as a
// Duration.
func (d *decoder) text(n *yaml.Node, path string, u encoding.TextUnmarshaler) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected a single value, got %s", label(path), describe(n))
		d.refuse(path)
		return
	}
	if err := u.UnmarshalText([]byte(n.Value)); err != nil {
		d.errorf(n, "%s: %v", label(path), err)
		d.refuse(path)
	}
}

// scalar stores scalar n into a string, bool, integer or float v.
func (d *decoder) scalar(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.mismatch(n, path, v.Type())
		return
	}
	ok := true
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if b, ok = parseBool(n.Value); ok {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, v.Type().Bits())
		if ok = err == nil; ok {
			v.SetInt(i)
		}
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if ok = err == nil; ok {
			v.SetFloat(f)
		}
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
	if !ok {
		d.mismatch(n, path, v.Type())
	}
}

// key returns the text of mapping key k, reporting a key keyway cannot read.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	switch {
	case k.ShortTag() == "!!merge":
		d.errorf(k, "%s: merge keys (<<) are not supported", label(path))
	case k.Kind != yaml.ScalarNode:
		d.errorf(k, "%s: expected a name as key, got %s", label(path), describe(k))
	default:
		return k.Value, true
	}
	return "", false
}

// unknownKey reports key k, which is none of names, in the mapping at path,
// and returns the name it suggests instead, if any.
func (d *decoder) unknownKey(k *yaml.Node, path, in string, names []string) (suggested string) {
	if in == "" {
		in = where(path)
	}
	allowed := "it takes no keys"
	if len(names) > 0 {
		allowed = "allowed: " + strings.Join(names, ", ")
		if suggested = Suggest(k.Value, names); suggested != "" {
			allowed = fmt.Sprintf("did you mean %q? %s", suggested, allowed)
		}
	}
	d.errorf(k, "unknown key %q %s (%s)", k.Value, in, allowed)
	return suggested
}

func (d *decoder) mismatch(n *yaml.Node, path string, t reflect.Type) {
	hint := ""
	if n.Kind == yaml.MappingNode && len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode {
		// {{ x }} unquoted is YAML's braces twice: a mapping keyed by a mapping.
		hint = `: a value that starts with {{ must be quoted (text: "{{ contact.name }}, welcome")`
	}
	d.errorf(n, "%s: expected %s, got %s%s", label(path), want(t), describe(n), hint)
	d.refuse(path)
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer:
		if d.misshapen == nil {
			d.misshapen = map[Pos]bool{}
		}
		d.misshapen[nodePos(n)] = true
	}
}

// hasKey reports whether mapping n has key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// refuse records that the value at path was refused, for Config.Refused.
func (d *decoder) refuse(path string) {
	if d.refused != nil {
		d.refused[path] = true
	}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Pos: nodePos(n), Message: fmt.Sprintf(format, args...)})
}

// expandScalar returns scalar n, the node at path, with its environment
// references expanded (see expandEnv), reporting the ones in error at n. It
// returns n itself when the scalars were already expanded.
func (d *decoder) expandScalar(n *yaml.Node, path string) *yaml.Node {
	if d.lookup == nil {
		return n
	}
	x, found := expandScalar(n, d.lookup)
	if n.Style != 0 && x != n && x.Value == "" {
		d.emptied[nodePos(n)] = true
	}
	for _, p := range found.problems {
		d.tell(Problem{File: d.file, Pos: d.refPos(n, p.at), Message: label(path) + ": " + p.msg})
	}
	if pos := nodePos(n); len(found.unset) > 0 && d.unset[pos] == nil {
		d.unset[pos] = found.unset
		d.unsetValues = append(d.unsetValues, unsetValue{pos: pos, at: d.refPos(n, found.unsetAt), path: path, value: x.Value, names: found.unset,
			absent: n.Style == 0 && isNull(x)})
	}
	return x
}

// refPos is where the reference at byte offset at of scalar n's value is
// told: on its own line when the value spans lines in the file (a |
// block), so that the problem names the reference's line; at n otherwise,
// as every problem about a one-line value is.
func (d *decoder) refPos(n *yaml.Node, at int) Pos {
	pos := nodePos(n)
	if d.inside == nil {
		return pos
	}
	if ref, ok := d.inside(n.Style, pos, n.Value, at); ok && ref.Line != pos.Line {
		return ref
	}
	return pos
}

// tell records p unless it was already: a scalar expanded twice (a step's
// common keys) is reported once.
func (d *decoder) tell(p Problem) {
	if s := p.String(); !d.told[s] {
		d.told[s] = true
		d.problems = append(d.problems, p)
	}
}

// expandTree returns a copy of the tree at n, the node at path, with the
// environment references of its values expanded (mapping keys are left as
// written) and each alias replaced by a copy of its anchor's tree; n is left
// untouched. A key written twice in a mapping keeps its first value only,
// as a setting decoded into a struct does. It returns n itself when the
// scalars are already expanded.
func (d *decoder) expandTree(n *yaml.Node, path string) *yaml.Node {
	if d.lookup == nil {
		return n
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return d.expandScalar(n, path)
	case yaml.AliasNode:
		if d.open[n.Alias] {
			return n // an anchor inside itself: yaml.v3 reports it on Decode
		}
		d.open[n.Alias] = true
		defer delete(d.open, n.Alias)
		return d.expandTree(n.Alias, path)
	}
	c := *n
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	seen := map[string]bool{}
	for i, e := range n.Content {
		switch {
		case n.Kind == yaml.MappingNode && i%2 == 0: // a key
		case n.Kind == yaml.MappingNode:
			k := n.Content[i-1]
			if k.Kind == yaml.ScalarNode {
				if seen[k.Value] {
					continue // written twice: the first holds (see mergeDuplicateKeys)
				}
				seen[k.Value] = true
			}
			c.Content = append(c.Content, k, d.expandTree(e, join(path, k.Value)))
		case n.Kind == yaml.SequenceNode:
			c.Content = append(c.Content, d.expandTree(e, fmt.Sprintf("%s[%d]", path, i)))
		default:
			c.Content = append(c.Content, d.expandTree(e, path))
		}
	}
	return &c
}

// structKeys returns the yaml keys of struct type t in field order, and the
// index of the field each one names.
func structKeys(t reflect.Type) (names []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// parseBool reads a YAML boolean, taking the YAML 1.1 words yes/no and on/off
// as yaml.v3 does.
func parseBool(s string) (b, ok bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// atAlias returns a copy of the node alias n stands for, placed where n
// stands, so that a problem with the value as a whole is shown where it is
// used.
func atAlias(n *yaml.Node) *yaml.Node {
	c := *n.Alias
	c.Line, c.Column = n.Line, n.Column
	return &c
}

func isNull(n *yaml.Node) bool { return n.ShortTag() == "!!null" }

func nodePos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// place renders a position as FILE:LINE:COL.
func place(file string, p Pos) string { return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col) }

// join appends key to the node path parent.
func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// label names the node at path at the start of a message.
func label(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// where names the mapping at path after an "unknown key" or "duplicate key".
func where(path string) string {
	if path == "" {
		return "at top level"
	}
	return "in " + path
}

// want describes what a value of type t is written as.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return want(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	default:
		return "a mapping"
	}
}

// describe tells what node n holds, for a message.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	default:
		return strconv.Quote(n.Value)
	}
}
