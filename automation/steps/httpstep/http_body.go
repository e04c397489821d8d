package httpstep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Body encodings of an http step, and the Content-Type each sends.
const (
	bodyJSON      = "json"
	bodyForm      = "form"
	bodyMultipart = "multipart"
	bodyXML       = "xml"
	bodyYAML      = "yaml"
	bodyText      = "text"
)

var bodyContentTypes = map[string]string{
	bodyJSON:      "application/json",
	bodyForm:      "application/x-www-form-urlencoded",
	bodyMultipart: "multipart/form-data",
	bodyXML:       "application/xml",
	bodyYAML:      "application/yaml",
	bodyText:      "text/plain; charset=utf-8",
}

// httpBodyFields is the `body` of an http step as written: exactly one of
// its fields is set.
type httpBodyFields struct {
	JSON      *yaml.Node        `yaml:"json"`
	Form      map[string]string `yaml:"form"`
	Multipart map[string]string `yaml:"multipart"`
	XML       *string           `yaml:"xml"`
	YAML      *yaml.Node        `yaml:"yaml"`
	Text      *string           `yaml:"text"`
}

// httpBody is a compiled request body.
type httpBody struct {
	kind   string
	shape  *bodyShape       // json, yaml
	fields []bodyField      // form, multipart: sorted by name
	tpl    *engine.Template // xml, text
}

type bodyField struct {
	name string
	tpl  *engine.Template
}

// compileBody checks and compiles an http step's body; nil means no body
// (or a problem, recorded).
func compileBody(c *engine.Compiler, s *config.Step, f *httpBodyFields) *httpBody {
	if f == nil {
		return nil
	}
	var given []string
	if f.JSON != nil {
		given = append(given, bodyJSON)
	}
	if f.Form != nil {
		given = append(given, bodyForm)
	}
	if f.Multipart != nil {
		given = append(given, bodyMultipart)
	}
	if f.XML != nil {
		given = append(given, bodyXML)
	}
	if f.YAML != nil {
		given = append(given, bodyYAML)
	}
	if f.Text != nil {
		given = append(given, bodyText)
	}
	if len(given) != 1 {
		what := "none"
		if len(given) > 1 {
			what = strings.Join(given, " and ")
		}
		c.Problemf(s, "body", "body takes exactly one of json, form, multipart, xml, yaml or text (got %s)", what)
		return nil
	}
	hb := &httpBody{kind: given[0]}
	field := "body." + hb.kind
	ok := true
	switch hb.kind {
	case bodyJSON:
		hb.shape, ok = compileShape(c, s, field, f.JSON, true)
	case bodyYAML:
		hb.shape, ok = compileShape(c, s, field, f.YAML, false)
	case bodyForm, bodyMultipart:
		m := f.Form
		if hb.kind == bodyMultipart {
			m = f.Multipart
		}
		for _, name := range sortedMapKeys(m) {
			t := c.Template(s, field+"."+name, m[name])
			ok = ok && t != nil
			hb.fields = append(hb.fields, bodyField{name: name, tpl: t})
		}
	case bodyXML:
		hb.tpl = escapedTemplate(c, s, field, *f.XML, filterXMLEscape)
		ok = hb.tpl != nil
	case bodyText:
		hb.tpl = c.Template(s, field, *f.Text)
		ok = hb.tpl != nil
	}
	if !ok {
		return nil
	}
	return hb
}

// render returns the body for bindings b and its Content-Type.
func (hb *httpBody) render(b map[string]any) ([]byte, string, error) {
	contentType := bodyContentTypes[hb.kind]
	switch hb.kind {
	case bodyJSON:
		var buf bytes.Buffer
		if err := hb.shape.writeJSON(&buf, b); err != nil {
			return nil, "", fmt.Errorf("json body: %w", err)
		}
		return buf.Bytes(), contentType, nil
	case bodyYAML:
		n, err := hb.shape.yamlNode(b)
		if err != nil {
			return nil, "", fmt.Errorf("yaml body: %w", err)
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(n); err != nil {
			return nil, "", fmt.Errorf("yaml body: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, "", fmt.Errorf("yaml body: %w", err)
		}
		return buf.Bytes(), contentType, nil
	case bodyForm:
		vals, err := hb.renderFields(b)
		if err != nil {
			return nil, "", fmt.Errorf("form body: %w", err)
		}
		form := url.Values{}
		for _, v := range vals {
			form.Add(v[0], v[1])
		}
		return []byte(form.Encode()), contentType, nil
	case bodyMultipart:
		vals, err := hb.renderFields(b)
		if err != nil {
			return nil, "", fmt.Errorf("multipart body: %w", err)
		}
		return multipartBody(vals)
	default: // xml, text
		out, err := hb.tpl.Render(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s body: %w", hb.kind, err)
		}
		return []byte(out), contentType, nil
	}
}

func (hb *httpBody) renderFields(b map[string]any) ([][2]string, error) {
	out := make([][2]string, 0, len(hb.fields))
	for _, f := range hb.fields {
		v, err := f.tpl.Render(b)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		out = append(out, [2]string{f.name, v})
	}
	return out, nil
}

// multipartBody writes fields as multipart/form-data. The boundary is
// derived from the content, so that the same fields always make the same
// body (a repeated call sends the same bytes) and it cannot occur in them
// by chance.
func multipartBody(fields [][2]string) ([]byte, string, error) {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s%d:%s", len(f[0]), f[0], len(f[1]), f[1])
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary("keyway-" + hex.EncodeToString(h.Sum(nil))[:40]); err != nil {
		return nil, "", fmt.Errorf("multipart body: %w", err)
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", fmt.Errorf("multipart body: field %s: %w", f[0], err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("multipart body: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// bodyShape is a YAML structure whose string leaves are templates: the
// json and yaml bodies. Mappings keep the order they were written in.
type bodyShape struct {
	kind  yaml.Kind
	tpl   *engine.Template // a string leaf
	value any              // another scalar: a number, a bool or null
	node  *yaml.Node       // the scalar as written, for the yaml body
	keys  []string         // a mapping's keys
	items []*bodyShape     // a mapping's values or a sequence's items

	// isValue is true when tpl is one {{ output }}, its output passed
	// through filterJSONValue: it renders the JSON value to send, so that
	// an object, a list, a number or true/false goes on as itself.
	isValue bool
}

// compileShape compiles the tree at n, found at field of s; forJSON checks
// that every scalar has a JSON form.
func compileShape(c *engine.Compiler, s *config.Step, field string, n *yaml.Node, forJSON bool) (*bodyShape, bool) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	sh := &bodyShape{kind: n.Kind}
	ok := true
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			item, good := compileShape(c, s, field+"."+k, n.Content[i+1], forJSON)
			ok = ok && good
			sh.keys, sh.items = append(sh.keys, k), append(sh.items, item)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			item, good := compileShape(c, s, engine.FieldIndex(field, i), e, forJSON)
			ok = ok && good
			sh.items = append(sh.items, item)
		}
	case yaml.ScalarNode:
		sh.node = n
		switch n.ShortTag() {
		case "!!null":
		case "!!bool", "!!int", "!!float":
			if err := n.Decode(&sh.value); err != nil {
				c.Problemf(s, field, "%v", err)
				return sh, false
			}
			if forJSON {
				if _, err := json.Marshal(sh.value); err != nil {
					c.Problemf(s, field, "%s has no JSON form: %v", n.Value, err)
					return sh, false
				}
			}
		default: // strings, and timestamps or binaries sent as written
			if engine.OneOutput(n.Value) {
				sh.tpl, sh.isValue = escapedTemplate(c, s, field, n.Value, filterJSONValue), true
			} else {
				sh.tpl = c.Template(s, field, n.Value)
			}
			ok = sh.tpl != nil
		}
	default:
		c.Problemf(s, field, "unsupported YAML node")
		return sh, false
	}
	return sh, ok
}

// writeJSON writes the shape as compact JSON, keys in written order.
func (sh *bodyShape) writeJSON(buf *bytes.Buffer, b map[string]any) error {
	switch sh.kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i, k := range sh.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONValue(buf, k)
			buf.WriteByte(':')
			if err := sh.items[i].writeJSON(buf, b); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range sh.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := item.writeJSON(buf, b); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		if sh.tpl == nil {
			writeJSONValue(buf, sh.value)
			return nil
		}
		out, err := sh.tpl.Render(b)
		if err != nil {
			return err
		}
		if sh.isValue {
			buf.WriteString(out)
		} else {
			writeJSONValue(buf, out)
		}
	}
	return nil
}

// writeJSONValue writes a string, number, bool or nil as JSON, leaving
// <, > and & as they are.
func writeJSONValue(buf *bytes.Buffer, v any) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	// Checked at load time: a scalar always encodes. Encode ends with a
	// newline, which goes.
	_ = enc.Encode(v)
	buf.Truncate(buf.Len() - 1)
}

// yamlNode renders the shape as a YAML node tree.
func (sh *bodyShape) yamlNode(b map[string]any) (*yaml.Node, error) {
	switch sh.kind {
	case yaml.MappingNode, yaml.SequenceNode:
		n := &yaml.Node{Kind: sh.kind}
		for i, item := range sh.items {
			if sh.kind == yaml.MappingNode {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sh.keys[i]})
			}
			v, err := item.yamlNode(b)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		return n, nil
	}
	if sh.tpl == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: sh.node.ShortTag(), Value: sh.node.Value}, nil
	}
	out, err := sh.tpl.Render(b)
	if err != nil {
		return nil, err
	}
	if sh.isValue {
		return jsonYAMLNode(out)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: out}, nil
}

// jsonYAMLNode is the JSON value j as a YAML node, written in block style:
// a text stays a text ("007" is not read as a number).
func jsonYAMLNode(j string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(j), &doc); err != nil || len(doc.Content) != 1 {
		return nil, fmt.Errorf("value %.40q: not one JSON value: %v", j, err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(doc.Content[0])
	return doc.Content[0], nil
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
