package engine

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/osteele/liquid/render"

	"github.com/keyway-sms/keyway/config"
)

// A name a template or condition reads is the path of property names from a
// top-level name: contact.fields.first_name is [contact fields first_name].
// An index that is not a string literal ends the path: vars.items[0].x
// reads [vars items].

// checkName says what is wrong with the name path, read by a template or a
// condition, or returns "" when it is one they see (Names): its top-level
// name is declared, the field below a name that has fields is one of them,
// and contact.fields.X names a field declared under fields. A field that
// holds a text, a list or a flag (contact.name, message.media, a
// contact.fields.X) has no names below it; below vars and http (free-form,
// filled by steps) anything goes. In a template size, first and last are
// properties of every value.
func (c *Compiler) checkName(path []string, template bool) string {
	n := lookupName(path[0])
	if n == nil {
		return fmt.Sprintf("unknown name %s (%sthe names are %s)", path[0], didYouMean(path[0], nameKeys()), strings.Join(nameKeys(), ", "))
	}
	if n.Free || len(path) == 1 || template && liquidProperty(path[1]) {
		return ""
	}
	fields := n.fieldNames()
	if fields == nil {
		// A value with a type of its own (now): its methods.
		if _, ok := reflect.TypeOf(n.zero).MethodByName(path[1]); ok || !template {
			return "" // expr checks methods and fields itself against the type
		}
		return fmt.Sprintf("unknown name %s (%s%s has no field %s)", strings.Join(path[:2], "."),
			didYouMean(path[1], methodNames(n.zero)), n.Key, path[1])
	}
	if !slices.Contains(fields, path[1]) {
		return fmt.Sprintf("unknown name %s (%s%s has %s)", strings.Join(path[:2], "."),
			didYouMean(path[1], fields, n.Key+"."), n.Key, strings.Join(fields, ", "))
	}
	if len(path) == 2 || template && liquidProperty(path[2]) {
		return ""
	}
	if !slices.Contains(n.Fields, path[1]+".X") {
		return belowValue(path, 2)
	}
	if n.Key != "contact" || path[1] != "fields" {
		return ""
	}
	if field := path[2]; !c.Config.HasField(field) {
		hint := "declare it under fields"
		if guess := config.Suggest(field, c.Config.Fields); guess != "" {
			hint = fmt.Sprintf("did you mean contact.fields.%s?", guess)
		}
		return fmt.Sprintf("contact.fields.%s: field %q is not declared under fields (%s)", field, field, hint)
	}
	if len(path) == 3 || template && liquidProperty(path[3]) {
		return ""
	}
	return belowValue(path, 3) // a field holds text
}

// belowValue is the problem of path, whose first n names end at a text,
// a list or a flag, read further: message.body.x would render empty and
// fail a condition.
func belowValue(path []string, n int) string {
	return fmt.Sprintf("unknown name %s (%s has no names below it)", strings.Join(path[:n+1], "."), strings.Join(path[:n], "."))
}

// lookupName returns the declared name key, or nil.
func lookupName(key string) *Name {
	for i := range Names {
		if Names[i].Key == key {
			return &Names[i]
		}
	}
	return nil
}

// nameKeys lists the top-level names.
func nameKeys() []string {
	keys := make([]string, len(Names))
	for i, n := range Names {
		keys[i] = n.Key
	}
	return keys
}

// fieldNames lists the fields right below n ("fields" for "fields.X"), or
// nil when n has none.
func (n *Name) fieldNames() []string {
	var out []string
	for _, f := range n.Fields {
		f, _, _ = strings.Cut(f, ".")
		out = append(out, f)
	}
	return out
}

// methodNames lists the exported methods of v's type.
func methodNames(v any) []string {
	t := reflect.TypeOf(v)
	out := make([]string, t.NumMethod())
	for i := range out {
		out[i] = t.Method(i).Name
	}
	return out
}

// didYouMean is the hint "did you mean PREFIX+X? " for the name among
// names closest to word, or "".
func didYouMean(word string, names []string, prefix ...string) string {
	guess := config.Suggest(word, names)
	if guess == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %s%s? ", strings.Join(prefix, ""), guess)
}

// liquidProperty reports whether name is a property Liquid gives every
// value that has a length: {{ contact.tags.size }}.
func liquidProperty(name string) bool {
	return name == "size" || name == "first" || name == "last"
}

// checkNames records nothing; it returns the problems of the names paths,
// deduplicated, a path that is the start of another one left out (the
// longer one tells more), one message a line joined by "; ".
//
// It also returns the index in paths of the first name it names, -1 when
// the message is empty.
func (c *Compiler) checkNames(paths [][]string, skip map[string]bool, template bool) (string, int) {
	var msgs []string
	first := -1
	for i, p := range paths {
		if skip[p[0]] || slices.ContainsFunc(paths[i+1:], func(q []string) bool { return len(q) > len(p) && slices.Equal(q[:len(p)], p) }) {
			continue
		}
		if m := c.checkName(p, template); m != "" && !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
			if first < 0 {
				first = i
			}
		}
	}
	return strings.Join(msgs, "; "), first
}

// exprNames returns the names the expression src reads: each chain of
// member accesses by constant names from an identifier that is one of
// Names (other identifiers are variables of the expression, which expr
// checks itself); and for each, the byte offset of its identifier in src.
func exprNames(src string) ([][]string, []int) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil
	}
	v := &exprNameVisitor{}
	ast.Walk(&tree.Node, v)
	offsets := make([]int, len(v.at))
	for i, r := range v.at {
		offsets[i] = byteOffset(src, r)
	}
	return v.paths, offsets
}

// byteOffset is the byte offset of the rune at rune offset r of src (expr
// counts runes), or -1 past its end.
func byteOffset(src string, r int) int {
	n := 0
	for b := range src {
		if n == r {
			return b
		}
		n++
	}
	return -1
}

type exprNameVisitor struct {
	paths [][]string
	at    []int // the rune offset of each path's identifier
}

// Visit implements ast.Visitor: it keeps the path of each member chain that
// reaches an identifier through constant names only.
func (v *exprNameVisitor) Visit(node *ast.Node) {
	var path []string
	for n := *node; ; {
		switch x := n.(type) {
		case *ast.IdentifierNode:
			if lookupName(x.Value) == nil || len(path) == 0 {
				return
			}
			slices.Reverse(path)
			v.paths = append(v.paths, append([]string{x.Value}, path...))
			v.at = append(v.at, x.Location().From)
			return
		case *ast.MemberNode:
			s, ok := x.Property.(*ast.StringNode)
			if !ok || x.Method {
				return
			}
			path = append(path, s.Value)
			n = x.Node
		case *ast.ChainNode:
			n = x.Node
		default:
			return
		}
	}
}

// liquidNames collects the names a parsed Liquid template reads, and the
// local names it sets ({% assign %}, {% capture %}, loop variables).
type liquidNames struct {
	paths [][]string
	// marks holds, for each of paths, the source of the markup it was
	// read in ("{{ contact.feilds.x }}"), so that a problem can say where.
	marks  []string
	mark   string // the markup being read
	locals map[string]bool
	// unclosed is the source of a text node that holds "{{" or "{%": markup
	// the parser took for text, which would be sent as written.
	unclosed string
}

func (ln *liquidNames) node(n render.Node) {
	switch n := n.(type) {
	case *render.SeqNode:
		for _, c := range n.Children {
			ln.node(c)
		}
	case *render.TextNode:
		if ln.unclosed == "" && (strings.Contains(n.Source, "{{") || strings.Contains(n.Source, "{%")) {
			ln.unclosed = n.Source
		}
	case *render.ObjectNode:
		ln.mark = n.Source
		ln.expr(n.Args)
	case *render.TagNode:
		ln.mark = n.Source
		ln.tag(n.Name, n.Args)
	case *render.BlockNode:
		if n.Name == "comment" || n.Name == "raw" {
			return
		}
		ln.mark = n.Source
		ln.tag(n.Name, n.Args)
		for _, c := range n.Body {
			ln.node(c)
		}
		for _, c := range n.Clauses {
			ln.node(c)
		}
	}
}

// tag reads the arguments of tag name.
func (ln *liquidNames) tag(name, args string) {
	switch name {
	case "assign":
		local, value, _ := strings.Cut(args, "=")
		ln.locals[strings.TrimSpace(local)] = true
		ln.expr(value)
	case "capture":
		ln.locals[strings.Trim(strings.TrimSpace(args), `"'`)] = true
	case "for", "tablerow":
		ln.locals["forloop"], ln.locals["tablerowloop"] = true, true
		local, rest, _ := strings.Cut(strings.TrimSpace(args), " ")
		ln.locals[local] = true
		rest = strings.TrimPrefix(strings.TrimSpace(rest), "in")
		ln.expr(rest, "reversed")
	case "cycle", "else", "break", "continue":
		// string literals, or nothing
	default: // if, unless, elsif, case, when, include
		ln.expr(args)
	}
}

// expr adds the names the Liquid expression src reads: each identifier
// that is not a keyword, a filter's or a parameter's name (nor one of
// skip), with the properties after it.
func (ln *liquidNames) expr(src string, skip ...string) {
	toks := liquidTokens(src)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokIdent || liquidKeyword(t.text) || slices.Contains(skip, t.text) || i > 0 && toks[i-1].text == "|" {
			continue
		}
		path := []string{t.text}
		for i+1 < len(toks) {
			switch next := toks[i+1]; {
			case next.kind == tokProperty:
				path = append(path, next.text)
				i++
				continue
			case next.text == "[" && i+3 < len(toks) && toks[i+2].kind == tokString && toks[i+3].text == "]":
				path = append(path, toks[i+2].text)
				i += 3
				continue
			}
			break
		}
		ln.paths = append(ln.paths, path)
		ln.marks = append(ln.marks, ln.mark)
	}
}

// liquidKeyword reports whether word is a word of Liquid's expression
// language rather than a name; empty and blank read as nil.
func liquidKeyword(word string) bool {
	switch word {
	case "and", "or", "contains", "in", "true", "false", "nil", "empty", "blank":
		return true
	}
	return false
}

// liquidToken is a token of a Liquid expression, as the library's scanner
// cuts them.
type liquidToken struct {
	kind int
	text string // a string literal's content, a property's name
}

const (
	tokOther    = iota // an operator, a bracket, a number
	tokIdent           // a name
	tokKeyword         // a parameter name with its colon: "default:"
	tokProperty        // .name
	tokString          // 'text' or "text"
)

// liquidTokens cuts src into tokens: identifiers are a letter or _ then
// letters, digits, _ or -, and may end with ?; a property is . and an
// identifier; an identifier right before a colon is a parameter name.
func liquidTokens(src string) []liquidToken {
	var toks []liquidToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 {
				return toks // not a template that parses
			}
			toks = append(toks, liquidToken{tokString, src[i+1 : i+1+end]})
			i += end + 2
		case isIdentStart(c):
			j := identEnd(src, i)
			if j < len(src) && src[j] == ':' {
				toks = append(toks, liquidToken{tokKeyword, src[i:j]})
				i = j + 1
				continue
			}
			toks = append(toks, liquidToken{tokIdent, src[i:j]})
			i = j
		case c == '.' && i+1 < len(src) && isIdentStart(src[i+1]):
			j := identEnd(src, i+1)
			toks = append(toks, liquidToken{tokProperty, src[i+1 : j]})
			i = j
		case c >= '0' && c <= '9':
			for i < len(src) && (src[i] >= '0' && src[i] <= '9' || src[i] == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9') {
				i++
			}
			toks = append(toks, liquidToken{tokOther, "0"})
		default:
			toks = append(toks, liquidToken{tokOther, string(c)})
			i++
		}
	}
	return toks
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// identEnd returns the end of the identifier starting at i.
func identEnd(src string, i int) int {
	j := i + 1
	for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9' || src[j] == '-') {
		j++
	}
	if j < len(src) && src[j] == '?' {
		j++
	}
	return j
}
