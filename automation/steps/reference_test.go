package steps_test

import (
	"encoding"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// This test keeps README's configuration reference true: every key the
// config decoder accepts, and every field each registered step type
// accepts, is shown in one of the YAML blocks of README's "Configuration
// reference" section; and every key those blocks show is accepted. It lives
// here because it needs every step type registered.
//
// Adding a config key or a step field: show it in README's reference with a
// comment saying what it does (file keys in the block that starts with
// `server:`, step fields in the block that starts with `steps:`, one line
// per step type), and this test passes again.

const readme = "../../README.md"

// referenceBlocks returns the YAML blocks of README's "Configuration
// reference" section (up to the next "## " heading).
func referenceBlocks(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "\n## Configuration reference\n")
	if start < 0 {
		t.Fatalf("%s has no \"## Configuration reference\" section", readme)
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// acceptedKeys lists the key paths the decoder takes for type t, by its
// yaml tags: "server.listen", "automations.keywords" (lists add nothing to
// the path). Steps are checked on their own (stepFields).
func acceptedKeys(t reflect.Type, prefix string, into map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(textUnmarshaler) || t == reflect.TypeFor[config.Step]() {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := join(prefix, name)
		into[path] = true
		acceptedKeys(f.Type, path, into)
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// shownKeys lists the key paths YAML node n shows, read as type t; a key
// that t does not have is listed too (the comparison reports it). Under a
// map, keys are names the admin chooses and are not followed.
func shownKeys(n *yaml.Node, t reflect.Type, prefix string, into map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			shownKeys(c, t, prefix, into)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for _, c := range n.Content {
			shownKeys(c, t.Elem(), prefix, into)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct && t != reflect.TypeFor[config.Step]():
		for i := 0; i+1 < len(n.Content); i += 2 {
			name := n.Content[i].Value
			path := join(prefix, name)
			f, ok := fieldByTag(t, name)
			if !ok && t == reflect.TypeFor[config.Providers]() && n.Content[i+1].Kind == yaml.MappingNode {
				shownProviderSection(n.Content[i+1], into)
				continue
			}
			into[path] = true
			if ok {
				shownKeys(n.Content[i+1], f.Type, path, into)
			}
		}
	}
}

// shownProviderSection reads the section of a provider other than Twilio
// (Meta's, say): its own keys are the provider's to check, but its numbers
// are config.Number entries like Twilio's, so a number key it shows counts
// as shown where the config type holds it.
func shownProviderSection(n *yaml.Node, into map[string]bool) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "numbers" {
			shownKeys(n.Content[i+1], reflect.TypeFor[[]config.Number](), "providers.twilio.numbers", into)
		}
	}
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var allowedList = regexp.MustCompile(`\(step type "([^"]+)"\) \((?:did you mean "[^"]*"\? )?(?:allowed: ([^)]*)|it takes no keys)\)`)

// stepFields asks the step registry which fields each type accepts: a step
// with a key no type has is refused with the list of the keys its type
// takes. The keys every step may have (id, name, next) are checked apart.
func stepFields(t *testing.T) map[string][]string {
	t.Helper()
	var b strings.Builder
	b.WriteString("automations:\n  - id: probe\n    keywords: [PROBE]\n    steps:\n")
	for _, typ := range engine.Types() {
		fmt.Fprintf(&b, "      - { type: %s, zz_not_a_field: 1 }\n", typ)
	}
	cfg, problems := config.Parse("probe.yaml", []byte(b.String()), func(string) (string, bool) { return "", false })
	if cfg == nil {
		t.Fatalf("probe config: %v", problems)
	}
	_, problems = engine.Compile(cfg)
	fields := map[string][]string{}
	for _, p := range problems {
		m := allowedList.FindStringSubmatch(p.Message)
		if m == nil || !strings.Contains(p.Message, `"zz_not_a_field"`) {
			continue
		}
		keys := []string{"type"}
		if m[2] != "" {
			keys = append(keys, strings.Split(m[2], ", ")...)
		}
		fields[m[1]] = keys
	}
	for _, typ := range engine.Types() {
		if _, ok := fields[typ]; !ok {
			t.Fatalf("step type %q did not say which fields it takes; problems:\n%v", typ, problems)
		}
	}
	return fields
}

// shownStepFields reads a `steps:` block: each item is one step type with
// every field it takes.
func shownStepFields(t *testing.T, n *yaml.Node) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		var typ string
		var keys []string
		for i := 0; i+1 < len(item.Content); i += 2 {
			keys = append(keys, item.Content[i].Value)
			if item.Content[i].Value == "type" {
				typ = item.Content[i+1].Value
			}
		}
		if typ == "" {
			t.Errorf("README's steps reference has a step without a type at line %d", item.Line)
			continue
		}
		out[typ] = append(out[typ], keys...)
	}
	return out
}

func TestREADMEConfigReferenceIsTrue(t *testing.T) {
	accepted := map[string]bool{}
	acceptedKeys(reflect.TypeFor[config.Config](), "", accepted)
	shown := map[string]bool{}
	var shownSteps map[string][]string
	for _, block := range referenceBlocks(t) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
			t.Fatalf("README's reference has a YAML block that does not parse: %v\n%s", err, block)
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode && len(doc.Content[0].Content) == 2 && doc.Content[0].Content[0].Value == "steps" {
			shownSteps = shownStepFields(t, doc.Content[0].Content[1])
			continue
		}
		shownKeys(&doc, reflect.TypeFor[config.Config](), "", shown)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range accepted {
			if !yield(k) {
				return
			}
		}
	}) {
		if !shown[k] {
			t.Errorf("config key %q is accepted but README's \"Configuration reference\" does not show it: add it to the YAML block with a comment saying what it does", k)
		}
	}
	for k := range shown {
		if !accepted[k] {
			t.Errorf("README's \"Configuration reference\" shows %q, which the config does not accept", k)
		}
	}
	if shownSteps == nil {
		t.Fatal("README's \"Configuration reference\" has no YAML block starting with `steps:` (one line per step type, with every field)")
	}
	common := []string{"id", "name", "next"}
	for _, f := range common {
		if !slices.ContainsFunc(slices.Collect(maps.Values(shownSteps)), func(keys []string) bool { return slices.Contains(keys, f) }) {
			t.Errorf("README's steps reference block does not show %q, which every step may have", f)
		}
	}
	for typ, want := range stepFields(t) {
		want = append(want, common...)
		got, ok := shownSteps[typ]
		if !ok {
			t.Errorf("step type %q is not in README's steps reference block", typ)
			continue
		}
		for _, f := range want {
			if !slices.Contains(got, f) && !slices.Contains(common, f) {
				t.Errorf("step type %q takes %q, which README's steps reference block does not show", typ, f)
			}
		}
		for _, f := range got {
			if !slices.Contains(want, f) {
				t.Errorf("README's steps reference block shows %q for step type %q, which does not take it", f, typ)
			}
		}
	}
	for typ := range shownSteps {
		if !slices.Contains(engine.Types(), typ) {
			t.Errorf("README's steps reference block shows step type %q, which is not registered", typ)
		}
	}
}
