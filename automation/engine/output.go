package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/osteele/liquid"
)

// filterOutput is the filter every {{ output }} of a template passes
// through last (ParseTemplate appends it): an object, or a list read from
// JSON (an http response, vars), is shown as compact JSON where Liquid
// would print Go's map[...] syntax or run the items together.
const filterOutput = "output_text"

func init() {
	RegisterFilter(filterOutput, outputValue)
}

// outputValue is v as an output writes it: an object or a JSON list as
// its compact JSON text, anything else as it is, for Liquid to print.
func outputValue(v any) any {
	if _, isList := v.([]any); isList || isMap(v) {
		if s, ok := CompactJSON(v); ok {
			return s
		}
	}
	return v
}

// OutputText is v as a template's output shows it: nothing is empty, an
// object or a list read from JSON is compact JSON, another list (message
// media, contact tags) is its items run together, a time is written as
// Liquid writes it. Filters that escape an output (a URL's, an XML
// document's) escape this text.
func OutputText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []string:
		return strings.Join(v, "")
	case time.Time:
		return v.Format("2006-01-02 15:04:05 -0700")
	}
	if s, ok := outputValue(v).(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// isMap reports whether v is a map of any type.
func isMap(v any) bool {
	return v != nil && reflect.TypeOf(v).Kind() == reflect.Map
}

// CompactJSON is v as compact JSON, with <, > and & as they are; false
// when v has no JSON form.
func CompactJSON(v any) (string, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}

// withTextOutputs returns t parsed again with every output passing
// through filterOutput. The names were checked on t as written, so that a
// problem stands on the markup the file shows.
func (t *Template) withTextOutputs(eng *liquid.Engine) (*Template, error) {
	var tpl *liquid.Template
	err := unpanic(func() (err error) { tpl, err = eng.ParseString(WithOutputFilter(t.src, filterOutput)); return err })
	if err != nil {
		return nil, liquidError(t.src, err)
	}
	return &Template{src: t.src, tpl: tpl}, nil
}

// WithOutputFilter appends "| filter" to every {{ output }} of the Liquid
// template src, outside {% raw %} blocks. Quoted strings inside an output
// may hold "}}".
func WithOutputFilter(src, filter string) string {
	var b strings.Builder
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], "{%"):
			end := MarkupEnd(src, i+2, "%}")
			tag := src[i:end]
			b.WriteString(tag)
			i = end
			if liquidTagName(tag) == "raw" {
				j := strings.Index(src[i:], "endraw")
				if j < 0 {
					b.WriteString(src[i:])
					return b.String()
				}
				after := MarkupEnd(src, i+j, "%}")
				b.WriteString(src[i:after])
				i = after
			}
		case strings.HasPrefix(src[i:], "{{"):
			end := MarkupEnd(src, i+2, "}}")
			if end-i < 4 || !strings.HasSuffix(src[i:end], "}}") {
				b.WriteString(src[i:]) // unterminated: the parser has reported it
				return b.String()
			}
			inner := src[i+2 : end-2]
			trim := ""
			if strings.HasSuffix(inner, "-") {
				inner, trim = inner[:len(inner)-1], "-"
			}
			fmt.Fprintf(&b, "{{%s | %s %s}}", strings.TrimRight(inner, " \t\r\n"), filter, trim)
			i = end
		default:
			b.WriteByte(src[i])
			i++
		}
	}
	return b.String()
}

// OneOutput reports whether src is one {{ output }} and nothing else.
func OneOutput(src string) bool {
	return strings.HasPrefix(src, "{{") && len(src) >= 4 && MarkupEnd(src, 2, "}}") == len(src) && strings.HasSuffix(src, "}}")
}

// MarkupEnd returns the index just after the closing delimiter of Liquid
// markup whose body starts at i in src, skipping quoted strings; len(src)
// if unclosed.
func MarkupEnd(src string, i int, closing string) int {
	var quote byte
	for ; i < len(src); i++ {
		ch := src[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case strings.HasPrefix(src[i:], closing):
			return i + len(closing)
		}
	}
	return len(src)
}

// liquidTagName returns the name of the Liquid tag "{% name args %}".
func liquidTagName(tag string) string {
	body := strings.TrimPrefix(tag, "{%")
	body = strings.TrimSuffix(body, "%}")
	body = strings.Trim(body, "- \t\r\n")
	name, _, _ := strings.Cut(body, " ")
	return name
}
