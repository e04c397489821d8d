package config

import (
	"cmp"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Hidden is what a key written twice hides, at any level. The Config keeps
// the first block of the key (and the second is a duplicate key); Hidden is
// the file read with the later blocks of each such key merged into its
// first (their list items or keys after the first's; a single value in
// place of the first's), which is what moving them there would give. A key
// written twice inside a later block is hidden in turn: Config.Hidden of
// the Hidden's Config reads it merged. Its problems that stand inside a later block are that
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

// mergeDuplicateKeys merges, in the tree at root, the value of each key
// written again in the same mapping into the value of its first, at every
// level: list items and mapping keys are appended to the first's; a value
// that cannot be merged (a scalar, or a list after a mapping) replaces the
// first, as deleting the first would leave it; one such value a merge, so
// that merging again puts each of a key's later values in place in turn
// and each is checked. It returns the spans of the later blocks, none when
// no key is written twice. The keys written twice
// inside a later block, or in both blocks merged, stay so: the decoder
// reports them, and merging again takes them in (see Parse). It adds to
// echoes each key of a later mapping block that repeats a key of the block
// it is merged into: writing the whole block twice is the one mistake of
// its key written twice, so the decoder does not report those again.
func mergeDuplicateKeys(root *yaml.Node, echoes map[*yaml.Node]bool) []span {
	m := merger{echoes: echoes}
	m.merge(root, Pos{})
	return m.spans
}

// merger merges the duplicate keys of a tree (mergeDuplicateKeys).
type merger struct {
	spans  []span
	echoes map[*yaml.Node]bool
}

// merge merges the duplicate keys of the tree at n, which the file
// follows with end (zero: the end of the file).
func (m *merger) merge(n *yaml.Node, end Pos) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, e := range n.Content {
			m.merge(e, nextPos(n.Content, i+1, end))
		}
		return
	case yaml.MappingNode:
	default:
		return
	}
	first := map[string]*yaml.Node{}
	replaced := map[string]bool{}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		next := nextPos(n.Content, i+2, end)
		into, dup := first[k.Value]
		appends := dup && v.Kind == into.Kind && (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode)
		if !dup || k.Kind != yaml.ScalarNode {
			if k.Kind == yaml.ScalarNode {
				first[k.Value] = v
			}
			m.merge(v, next)
			kept = append(kept, k, v)
			continue
		}
		m.spans = append(m.spans, span{from: nodePos(k), to: next})
		if !appends && replaced[k.Value] {
			// A value that would replace one put in place of the first
			// already stays written twice: the next merge puts it in
			// place in turn, so that each value's problems are found.
			kept = append(kept, k, v)
			continue
		}
		if appends {
			if v.Kind == yaml.MappingNode {
				m.markEchoes(into, v)
			}
			into.Content = append(into.Content, v.Content...)
		} else {
			*into = *v
			replaced[k.Value] = true
		}
	}
	n.Content = kept
}

// markEchoes adds to m.echoes each key of mapping v, a later block, that
// repeats a key of mapping into, the block it is merged into; a key
// written twice in v itself is a mistake of its own, and not an echo.
func (m *merger) markEchoes(into, v *yaml.Node) {
	inFirst := map[string]bool{}
	for i := 0; i+1 < len(into.Content); i += 2 {
		if k := into.Content[i]; k.Kind == yaml.ScalarNode {
			inFirst[k.Value] = true
		}
	}
	inLater := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if inFirst[k.Value] && !inLater[k.Value] {
			m.echoes[k] = true
		}
		inLater[k.Value] = true
	}
}

// nextPos is where the node at nodes[i] stands, or end past the last.
func nextPos(nodes []*yaml.Node, i int, end Pos) Pos {
	if i < len(nodes) {
		return nodePos(nodes[i])
	}
	return end
}

// hasDuplicateKey reports whether a mapping in the tree at n has a key
// written twice.
func hasDuplicateKey(n *yaml.Node) bool {
	var seen map[string]bool
	if n.Kind == yaml.MappingNode {
		seen = make(map[string]bool, len(n.Content)/2)
	}
	for i, c := range n.Content {
		if seen != nil && i%2 == 0 {
			if c.Kind == yaml.ScalarNode && seen[c.Value] {
				return true
			}
			seen[c.Value] = true
			continue
		}
		if hasDuplicateKey(c) {
			return true
		}
	}
	return false
}

// duplicate reports key k of the mapping at path if seen holds it already,
// and else adds it.
func (d *decoder) duplicate(seen map[string]*yaml.Node, k *yaml.Node, path string) bool {
	if first, ok := seen[k.Value]; ok {
		if !d.duplicatesTold && !d.echoes[k] {
			d.tell(Problem{File: d.file, Pos: nodePos(k), Message: fmt.Sprintf("duplicate key %q %s (first at %s)",
				k.Value, where(path), place(d.file, nodePos(first)))})
		}
		return true
	}
	seen[k.Value] = k
	return false
}

// inWhole records where each node of the tree at n, the node at path,
// stands, and reports each key written twice in one of its mappings: the
// tree is kept whole (a JSON body, a template's variables), so no struct's
// keys do, and a problem a step finds inside it then stands at its value.
func (d *decoder) inWhole(n *yaml.Node, path string) { d.walkTree(n, path, true) }

// walkTree reports each key written twice in a mapping of the tree at n,
// the node at path, and, if record, records where each of its nodes
// stands. Parse walks each step and provider section so, as their own
// decoding comes later (DecodeStep, DecodeSection) and must go on past a
// key written twice to find the other problems of its step.
func (d *decoder) walkTree(n *yaml.Node, path string, record bool) {
	var seen map[string]*yaml.Node
	if n.Kind == yaml.MappingNode {
		seen = map[string]*yaml.Node{}
	}
	for i, c := range n.Content {
		at := fmt.Sprintf("%s[%d]", path, i)
		if seen != nil {
			if i%2 == 0 {
				continue
			}
			k := n.Content[i-1]
			if k.Kind != yaml.ScalarNode || d.duplicate(seen, k, path) {
				continue
			}
			at = join(path, k.Value)
		}
		if record {
			d.pos[at] = nodePos(c)
			if c.Kind == yaml.ScalarNode {
				d.styles[at] = c.Style
			}
		}
		d.walkTree(c, at, record)
	}
}
