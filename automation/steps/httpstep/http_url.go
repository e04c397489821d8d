package httpstep

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Filters that escape what a template outputs where plain text would change
// the meaning of the result: a URL's path and query, an XML document. The
// http step appends them to every {{ output }} of such a template, so that
// the filters an admin wrote still see the raw values.
const (
	filterPathEscape  = "path_escape"
	filterQueryEscape = "query_escape"
	filterXMLEscape   = "xml_escape"
	filterJSONValue   = "json_value"
)

// The escaping filters are available to every template of the config.
func init() {
	engine.RegisterFilter(filterPathEscape, pathSegmentEscape)
	engine.RegisterFilter(filterQueryEscape, queryEscape)
	engine.RegisterFilter(filterXMLEscape, xmlTextEscape)
	engine.RegisterFilter(filterJSONValue, jsonValueText)
}

// pathSegmentEscape escapes v to stand inside one path segment: a "/", "?"
// or "#" in it cannot start another segment, the query or the fragment,
// and a value of "." or ".." cannot climb the path.
func pathSegmentEscape(v any) string {
	e := url.PathEscape(engine.OutputText(v))
	if e == "." || e == ".." {
		e = strings.ReplaceAll(e, ".", "%2E")
	}
	return e
}

// queryEscape escapes v to stand as a name or value in a URL's query.
func queryEscape(v any) string { return url.QueryEscape(engine.OutputText(v)) }

// xmlTextEscape escapes v to stand in XML text or an attribute value.
func xmlTextEscape(v any) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(engine.OutputText(v))) // a strings.Builder does not fail
	return b.String()
}

// jsonValueText is v as the JSON value that a json or yaml body's value
// written as one {{ output }} sends: an object, a list, a number or
// true/false as itself, a text as a JSON string (never read as a number),
// nothing as "" (as an output renders it), a time as the text an output
// shows.
func jsonValueText(v any) string {
	if v != nil {
		switch reflect.TypeOf(v).Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64,
			reflect.Map, reflect.Slice, reflect.Array:
			if j, ok := engine.CompactJSON(v); ok {
				return j
			}
		}
	}
	j, _ := engine.CompactJSON(engine.OutputText(v)) // a string always has a JSON form
	return j
}

// escapedTemplate parses src, found in field of s, as a template whose
// outputs all pass through filter. A syntax error is a problem placed at
// field, and nil is returned.
func escapedTemplate(c *engine.Compiler, s *config.Step, field, src, filter string) *engine.Template {
	t := c.Template(s, field, src)
	if t == nil || t.Static() {
		return t
	}
	esc, err := c.ParseTemplate(engine.WithOutputFilter(src, filter))
	if err != nil {
		c.Problemf(s, field, "%v", err)
		return nil
	}
	return esc.WithSource(src)
}

// urlTemplate is an http step's URL: a literal scheme and host, then a
// path and a query that templates may fill, their outputs escaped.
type urlTemplate struct {
	src    string
	scheme string
	host   string           // host[:port], as written
	base   string           // scheme://[userinfo@]host[:port], literal
	path   *engine.Template // outputs path-escaped
	query  *engine.Template // outputs query-escaped; nil without "?"
}

// compileURL checks and parses an http step's url; every problem is placed
// at field, and nil is returned when there was one.
func compileURL(c *engine.Compiler, s *config.Step, field, src string) *urlTemplate {
	if src == "" {
		c.Problemf(s, field, "missing url")
		return nil
	}
	scheme, rest, ok := strings.Cut(src, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		c.Problemf(s, field, "url %q must start with http:// or https://", src)
		return nil
	}
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	authority := rest[:authEnd]
	if strings.Contains(authority, "{{") || strings.Contains(authority, "{%") {
		c.Problemf(s, field, "url %q: the scheme and host must be written out; templates may fill only the path and the query", src)
		return nil
	}
	base := scheme + "://" + authority
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		c.Problemf(s, field, "url %q has no valid host", src)
		return nil
	}
	if c.Config != nil {
		if why := c.Config.HTTP.Refuses(base); why != "" {
			c.Warnf(s, field, "url %q: %s; the step would always fail", src, why)
		}
	}
	// A fragment is never sent: what follows "#" is dropped.
	rest, _, _ = cutOutside(rest[authEnd:], '#')
	pathSrc, querySrc, hasQuery := cutOutside(rest, '?')
	ut := &urlTemplate{src: src, scheme: scheme, host: u.Host, base: base}
	ut.path = escapedTemplate(c, s, field, pathSrc, filterPathEscape)
	if hasQuery {
		ut.query = escapedTemplate(c, s, field, querySrc, filterQueryEscape)
		if ut.query == nil {
			return nil
		}
	}
	if ut.path == nil {
		return nil
	}
	return ut
}

// cutOutside cuts s around the first sep that stands outside Liquid markup.
func cutOutside(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			i = engine.MarkupEnd(s, i+2, "}}")
		case strings.HasPrefix(s[i:], "{%"):
			i = engine.MarkupEnd(s, i+2, "%}")
		case s[i] == sep:
			return s[:i], s[i+1:], true
		default:
			i++
		}
	}
	return s, "", false
}

// render builds the URL from bindings b and the extra query parameters.
// It fails if the result is not a URL to the host written in the config.
func (ut *urlTemplate) render(b map[string]any, extra url.Values) (*url.URL, error) {
	path, err := ut.path.Render(b)
	if err != nil {
		return nil, fmt.Errorf("url path: %w", err)
	}
	raw := ut.base + path
	query := ""
	if ut.query != nil {
		if query, err = ut.query.Render(b); err != nil {
			return nil, fmt.Errorf("url query: %w", err)
		}
	}
	if len(extra) > 0 {
		if query != "" {
			query += "&"
		}
		query += extra.Encode()
	}
	if query != "" {
		raw += "?" + query
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != ut.scheme || u.Host != ut.host {
		return nil, fmt.Errorf("url: the rendered URL goes to %s://%s, not %s://%s", u.Scheme, u.Host, ut.scheme, ut.host)
	}
	return u, nil
}

// redactedURL is the URL as traces and end reasons show it: without the
// userinfo and the query, where secrets may stand.
func redactedURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}
