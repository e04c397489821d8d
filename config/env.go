package config

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// envRef is a ${NAME} reference to an environment variable.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces each ${NAME} in s by the variable NAME, or by nothing
// when NAME is not set. Any other "$" is left as it is.
func expandEnv(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		v, _ := lookup(ref[2 : len(ref)-1])
		return v
	})
}

// expandScalar returns scalar node n with its ${NAME} references expanded:
// n itself when nothing changes, else a copy. A plain (unquoted, untagged)
// scalar's copy loses its tag so that its type is read again from the new
// value, as if it had been written in the file: an unset variable gives
// null, "${PORT}" may give an integer.
func expandScalar(n *yaml.Node, lookup func(string) (string, bool)) *yaml.Node {
	v := expandEnv(n.Value, lookup)
	if v == n.Value {
		return n
	}
	c := *n
	c.Value = v
	if n.Style == 0 {
		c.Tag = ""
	}
	return &c
}
