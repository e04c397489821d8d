package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv expands the environment references in s, as shells and compose
// files do:
//   - ${NAME} is the variable NAME, or nothing when it is not set;
//   - ${NAME:-default} is NAME, or default when NAME is unset or empty (the
//     default may hold references itself and ends at the first "}" that
//     closes no reference);
//   - ${NAME:?message} is NAME, which must be set and not empty;
//   - $$ is a literal "$";
//   - a "$" before anything else (a digit, a space, the end) stays as it is,
//     so "$5" is a price;
//   - a whole value that is a bcrypt hash ("$2a$10$" and 53 more
//     characters, as `keyway hash-password` prints it) stays as it is:
//     its "$" signs are part of it, and copying it in must just work.
//
// A bare $NAME, a "${" with no closing "}", a "${...}" that is none of
// those forms and a required variable that is unset or empty are problems:
// it returns each one, with where it starts in s, in env.problems, and
// leaves a reference in error as written in the result. The variables of
// the plain ${NAME} references that gave nothing (unset or empty) are in
// env.unset, the first one's place in env.unsetAt: a value that quietly
// lost a part is worth a warning.
func expandEnv(s string, lookup func(string) (string, bool)) (string, envFindings) {
	if !strings.Contains(s, "$") || bcryptShape.MatchString(s) {
		return s, envFindings{}
	}
	x := &envExpander{s: s, lookup: lookup}
	out, _ := x.text(false)
	f := x.envFindings
	f.problems = append(f.problems, x.required...)
	return out, f
}

// bcryptShape matches a bcrypt hash as a whole value.
var bcryptShape = regexp.MustCompile(`^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

// envFindings is what expandEnv found in one value.
type envFindings struct {
	// problems are the references in error, and the required variables
	// that are unset or empty.
	problems []envProblem
	// unset names the variables of plain ${NAME} references that are unset
	// or empty, in the order they stand, each once; unsetAt is the byte
	// offset in the value of the first of those references.
	unset   []string
	unsetAt int
}

// envProblem is the message of a reference in error, and the byte offset
// in the value of the "$" it starts with.
type envProblem struct {
	msg string
	at  int
}

// envExpander reads one value for expandEnv.
type envExpander struct {
	s      string
	i      int // the next byte to read
	lookup func(string) (string, bool)
	envFindings
	// required holds the required variables found unset, apart from
	// problems: one inside a default that is not used is dropped.
	required []envProblem
}

// requiredMessage is the problem of ${name:?message} with name unset or
// empty.
func requiredMessage(name, message string) string {
	if message == "" {
		return fmt.Sprintf("environment variable %s is required, and is not set or is empty", name)
	}
	return fmt.Sprintf("environment variable %s is required, and is not set or is empty: %s", name, message)
}

// text reads up to the end of the value or, inDefault, up to the "}" that
// closes the default being read (consumed; closed tells whether it was
// found), and returns the text read with its references expanded.
func (x *envExpander) text(inDefault bool) (out string, closed bool) {
	var b strings.Builder
	for x.i < len(x.s) {
		c := x.s[x.i]
		switch {
		case inDefault && c == '}':
			x.i++
			return b.String(), true
		case c != '$' || x.i+1 == len(x.s):
			b.WriteByte(c)
			x.i++
		case x.s[x.i+1] == '$':
			b.WriteByte('$')
			x.i += 2
		case x.s[x.i+1] == '{':
			b.WriteString(x.ref())
		case isNameStart(x.s[x.i+1]):
			start := x.i
			x.i++
			for x.i < len(x.s) && isNameByte(x.s[x.i]) {
				x.i++
			}
			name := x.s[start+1 : x.i]
			x.problems = append(x.problems, envProblem{at: start, msg: fmt.Sprintf(
				"%q is not expanded: write ${%s} for the environment variable, or $$%s for the literal text", "$"+name, name, name)})
			b.WriteString(x.s[start:x.i])
		default: // "$5", "$ ", "$.": a dollar sign
			b.WriteByte(c)
			x.i++
		}
	}
	return b.String(), false
}

// ref reads the reference starting at x.i, "${", and returns its value; a
// reference in error is returned as written.
func (x *envExpander) ref() string {
	start := x.i
	x.i += 2
	nameStart := x.i
	for x.i < len(x.s) && isNameByte(x.s[x.i]) {
		x.i++
	}
	name := x.s[nameStart:x.i]
	validName := name != "" && isNameStart(name[0])
	switch rest := x.s[x.i:]; {
	case validName && strings.HasPrefix(rest, "}"):
		x.i++
		v, _ := x.lookup(name)
		if v == "" && !slices.Contains(x.unset, name) {
			if len(x.unset) == 0 {
				x.unsetAt = start
			}
			x.unset = append(x.unset, name)
		}
		return v
	case validName && (strings.HasPrefix(rest, ":-") || strings.HasPrefix(rest, ":?")):
		required := rest[1] == '?'
		x.i += 2
		problems, unset, required0 := len(x.problems), len(x.unset), len(x.required)
		word, closed := x.text(true)
		if !closed {
			if len(x.problems) == problems { // not already told by a reference inside
				x.unterminated(start)
			}
			return x.s[start:]
		}
		v, _ := x.lookup(name)
		if required || v != "" {
			// The message is only said, and the default is not used: what
			// their references lacked does not matter.
			x.unset, x.required = x.unset[:unset], x.required[:required0]
		}
		switch {
		case required && v == "":
			x.required = append(x.required, envProblem{at: start, msg: requiredMessage(name, strings.TrimSpace(word))})
		case v == "":
			return word
		}
		return v
	}
	end := strings.IndexByte(x.s[start:], '}')
	if end < 0 {
		x.unterminated(start)
		return x.s[start:]
	}
	x.i = start + end + 1
	x.problems = append(x.problems, envProblem{at: start, msg: fmt.Sprintf(
		"%q is not a variable reference: write ${NAME}, ${NAME:-default} or ${NAME:?message} (NAME: letters, digits and _, not starting with a digit), or $$ for a literal \"$\"",
		x.s[start:x.i])})
	return x.s[start:x.i]
}

// unterminated reports the "${" at start, which no "}" closes, and consumes
// the rest of the value.
func (x *envExpander) unterminated(start int) {
	x.problems = append(x.problems, envProblem{at: start, msg: fmt.Sprintf(
		"unterminated %q: a reference is ${NAME}, ${NAME:-default} or ${NAME:?message}; write $$ for a literal \"$\"", x.s[start:])})
	x.i = len(x.s)
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameByte(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }

// expandScalar returns scalar node n with its environment references
// expanded (see expandEnv), and what was found in them: n itself when
// nothing changes, else a copy. A plain (unquoted, untagged) scalar's copy
// loses its tag so that its type is read again from the new value, as if it
// had been written in the file: an unset variable gives null, "${PORT}" may
// give an integer.
func expandScalar(n *yaml.Node, lookup func(string) (string, bool)) (*yaml.Node, envFindings) {
	v, found := expandEnv(n.Value, lookup)
	if v == n.Value {
		return n, found
	}
	c := *n
	c.Value = v
	if n.Style == 0 {
		c.Tag = ""
	}
	return &c, found
}

// unsetValue is a value whose plain ${NAME} references gave nothing: where
// it stands, where its warning goes (see decoder.refPos), its path, what
// it became, and the variables.
type unsetValue struct {
	pos   Pos
	at    Pos
	path  string
	value string
	names []string
	// absent says the value was a plain scalar that became empty: it reads
	// as null, as if the setting were not written.
	absent bool
}

// unsetWarnings returns the warning about each of vs: it names the
// variables, says what the value became and what follows where that is
// more than the value: the admin API off for its token, dev mode for a
// value of a provider that runs in dev mode (ProviderModes: known once the
// whole file is read).
func (c *Config) unsetWarnings(vs []unsetValue) Problems {
	if len(vs) == 0 {
		return nil
	}
	dev := map[string]string{}
	for _, m := range c.ProviderModes() {
		dev[m.Provider] = m.Dev
	}
	out := make(Problems, len(vs))
	for i, u := range vs {
		vars := "environment variable " + u.names[0] + " is"
		if len(u.names) > 1 {
			vars = "environment variables " + strings.Join(u.names, ", ") + " are"
		}
		follows := "the value is empty"
		switch {
		case u.absent:
			follows = "the setting counts as not written (a default applies where there is one)"
		case u.value != "":
			follows = fmt.Sprintf("the value is %q", u.value)
		}
		provider, _, _ := strings.Cut(strings.TrimPrefix(u.path, "providers."), ".")
		switch {
		case u.path == "admin.token":
			follows = "the admin API and the dashboard are off"
		case strings.HasPrefix(u.path, "providers.") && dev[provider] != "":
			follows += fmt.Sprintf(", and the %s provider runs in dev mode (%s): its messages are logged and stored, not sent, and its webhook signatures are not checked",
				provider, dev[provider])
		}
		out[i] = Problem{File: c.File, Pos: u.at, Warning: true, Message: fmt.Sprintf(
			"%s: %s not set or empty, so %s (write ${%s:-} where empty is meant, or ${%s:?why} to require it)",
			label(u.path), vars, follows, u.names[0], u.names[0])}
	}
	return out
}

// unsetNote returns, for a problem placed at pos, the note that names the
// environment variables that gave nothing to the value there, or "".
func (c *Config) unsetNote(pos Pos) string {
	names := c.unset[pos]
	switch len(names) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (environment variable %s is not set or empty)", names[0])
	}
	return fmt.Sprintf(" (environment variables %s are not set or empty)", strings.Join(names, ", "))
}

// NameUnsetVariables adds to the message of each error among ps that is
// placed at a value whose ${NAME} references gave nothing the names of
// those variables: "url \"/leads\" must start with http://" alone hides that
// CRM_URL was not set. It returns ps.
func (c *Config) NameUnsetVariables(ps Problems) Problems {
	for i := range ps {
		if !ps[i].Warning && ps[i].File == c.File {
			ps[i].Message += c.unsetNote(ps[i].Pos)
		}
	}
	return ps
}

// deferUnset returns vs without the values of a step's own fields (not id,
// name, type or next) that quoted references emptied ("${TIMEOUT}"), which
// it keeps for DecodeStep: whether the field reads "" as empty text or as
// not written (readsAbsent) is known only once the step's type decodes it,
// and its warning says which.
func (c *Config) deferUnset(vs []unsetValue) []unsetValue {
	out := vs[:0]
	for _, u := range vs {
		if m := stepField.FindStringSubmatch(u.path); m != nil && !commonStepKeys[m[1]] && u.value == "" && !u.absent {
			c.stepUnset = append(c.stepUnset, u)
			continue
		}
		out = append(out, u)
	}
	return out
}

// stepField matches the path of a step's field, capturing the field.
var stepField = regexp.MustCompile(`^automations\[\d+\]\.steps\[\d+\]\.([^.\[]+)`)

// takeStepUnset returns the deferred values (deferUnset) at or below path,
// which are then no longer held: each is told once.
func (c *Config) takeStepUnset(path string) []unsetValue {
	var mine []unsetValue
	rest := c.stepUnset[:0]
	for _, u := range c.stepUnset {
		if within(u.path, path) {
			mine = append(mine, u)
		} else {
			rest = append(rest, u)
		}
	}
	c.stepUnset = rest
	return mine
}

// UntoldUnsetWarnings returns the warnings about the values of steps'
// fields that quoted references emptied and no DecodeStep decoded (a step
// of an unknown type): they say the value is empty. Each is told once.
func (c *Config) UntoldUnsetWarnings() Problems {
	ps := c.oneBased(c.unsetWarnings(c.stepUnset))
	c.stepUnset = nil
	return ps
}
