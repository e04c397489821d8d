package config

import "strings"

// Refused reports whether DecodeStep or DecodeSection refused the value at
// path (a value of the wrong type, an unknown key taken for it), a value
// inside it or the value it is inside: the field was left as if it were
// not written, so a check that then finds it missing or empty, or finds it
// so in relation to another field, would report that same mistake again.
// One mistake is one problem.
func (c *Config) Refused(path string) bool {
	for r := range c.refused {
		if r == path || within(r, path) || within(path, r) {
			return true
		}
	}
	return false
}

// within reports whether the node path inner is below the node path outer.
func within(inner, outer string) bool {
	return len(inner) > len(outer) && strings.HasPrefix(inner, outer) && (inner[len(outer)] == '.' || inner[len(outer)] == '[')
}
