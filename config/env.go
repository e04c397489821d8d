package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv expands the environment references in s, as shells and compose
// files do:
//   - ${NAME} is the variable NAME, or nothing when it is not set;
//   - ${NAME:-default} is NAME, or default when NAME is unset or empty (the
//     default may hold references itself and ends at the first "}" that
//     closes no reference);
//   - $$ is a literal "$";
//   - a "$" before anything else (a digit, a space, the end) stays as it is,
//     so "$5" is a price.
//
// A bare $NAME, a "${" with no closing "}" and a "${...}" that is neither
// form are problems: it returns each one's message, and leaves its text as
// written in the result.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	x := &envExpander{s: s, lookup: lookup}
	out, _ := x.text(false)
	return out, x.problems
}

// envExpander reads one value for expandEnv.
type envExpander struct {
	s        string
	i        int // the next byte to read
	lookup   func(string) (string, bool)
	problems []string
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
			x.problems = append(x.problems, fmt.Sprintf(
				"%q is not expanded: write ${%s} for the environment variable, or $$%s for the literal text", "$"+name, name, name))
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
		return v
	case validName && strings.HasPrefix(rest, ":-"):
		x.i += 2
		before := len(x.problems)
		def, closed := x.text(true)
		if !closed {
			if len(x.problems) == before { // not already told by a reference inside
				x.unterminated(start)
			}
			return x.s[start:]
		}
		if v, _ := x.lookup(name); v != "" {
			return v
		}
		return def
	}
	end := strings.IndexByte(x.s[start:], '}')
	if end < 0 {
		x.unterminated(start)
		return x.s[start:]
	}
	x.i = start + end + 1
	x.problems = append(x.problems, fmt.Sprintf(
		"%q is not a variable reference: write ${NAME} or ${NAME:-default} (NAME: letters, digits and _, not starting with a digit), or $$ for a literal \"$\"",
		x.s[start:x.i]))
	return x.s[start:x.i]
}

// unterminated reports the "${" at start, which no "}" closes, and consumes
// the rest of the value.
func (x *envExpander) unterminated(start int) {
	x.problems = append(x.problems, fmt.Sprintf(
		"unterminated %q: a reference is ${NAME} or ${NAME:-default}; write $$ for a literal \"$\"", x.s[start:]))
	x.i = len(x.s)
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameByte(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }

// expandScalar returns scalar node n with its environment references
// expanded (see expandEnv), and the problems found in them: n itself when
// nothing changes, else a copy. A plain (unquoted, untagged) scalar's copy
// loses its tag so that its type is read again from the new value, as if it
// had been written in the file: an unset variable gives null, "${PORT}" may
// give an integer.
func expandScalar(n *yaml.Node, lookup func(string) (string, bool)) (*yaml.Node, []string) {
	v, problems := expandEnv(n.Value, lookup)
	if v == n.Value {
		return n, problems
	}
	c := *n
	c.Value = v
	if n.Style == 0 {
		c.Tag = ""
	}
	return &c, problems
}
