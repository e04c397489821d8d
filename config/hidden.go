package config

import (
	"cmp"

	"gopkg.in/yaml.v3"
)

// Hidden is what a top-level key written twice hides. The Config keeps the
// first block of the key (and the second is a duplicate key); Hidden is the
// file read with the later blocks of each such key merged into its first
// (their list items or keys after the first's), which is what moving them
// there would give. Its problems that stand inside a later block are that
// block's own: Parse adds those of the file's checks, and engine.Compile
// those of the steps and keywords (Within).
type Hidden struct {
	// Config is the file read with the blocks merged.
	Config *Config
	// spans are the later blocks, each from its key up to the next key of
	// the top level.
	spans []span
}

// span is a part of the file, from one place up to (not including) another;
// a zero end is the end of the file.
type span struct{ from, to Pos }

// holds reports whether p stands inside s.
func (s span) holds(p Pos) bool {
	return comparePos(p, s.from) >= 0 && (s.to == Pos{} || comparePos(p, s.to) < 0)
}

func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// Hidden returns what the file's duplicate top-level keys hide, or nil when
// it has none.
func (c *Config) Hidden() *Hidden { return c.hidden }

// Within returns the problems of ps, found on h.Config, that stand inside a
// block the duplicate keys hide, without those already in seen (the
// Config's own problems).
func (h *Hidden) Within(ps, seen Problems) Problems {
	known := map[string]bool{}
	for _, p := range seen {
		known[p.String()] = true
	}
	var out Problems
	for _, p := range ps {
		if known[p.String()] {
			continue
		}
		for _, s := range h.spans {
			if s.holds(p.Pos) {
				known[p.String()] = true
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// mergeDuplicateKeys merges, in root (the file's top-level mapping), the
// value of each key written again into the value of its first: list items
// and mapping keys are appended to the first's. It returns the spans of
// the blocks merged, none when no key is written twice. A later block whose
// kind is not the first's (a list after a mapping) is left out, as is a
// scalar: the duplicate key is the one problem said of it.
func mergeDuplicateKeys(root *yaml.Node) []span {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	first := map[string]*yaml.Node{}
	var spans []span
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		into, dup := first[k.Value]
		if !dup || k.Kind != yaml.ScalarNode {
			if k.Kind == yaml.ScalarNode {
				first[k.Value] = v
			}
			kept = append(kept, k, v)
			continue
		}
		s := span{from: nodePos(k)}
		if i+2 < len(root.Content) {
			s.to = nodePos(root.Content[i+2])
		}
		if v.Kind == into.Kind && (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) {
			into.Content = append(into.Content, v.Content...)
			spans = append(spans, s)
		}
	}
	root.Content = kept
	return spans
}
