package httpstep

import (
	"net/url"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func TestURLTemplateEscapesValues(t *testing.T) {
	c := engine.NewCompiler(&config.Config{})
	parse := func(src, filter string) *engine.Template {
		t.Helper()
		tpl, err := c.ParseTemplate(engine.WithOutputFilter(src, filter))
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	ut := &urlTemplate{
		scheme: "https", host: "crm.test", base: "https://crm.test",
		path:  parse("/contacts/{{ vars.v }}/{{ vars.v | prepend: 'n-' }}", filterPathEscape),
		query: parse("q={{ vars.v }}&x=1", filterQueryEscape),
	}
	cases := []struct{ value, path, query string }{
		{"ann", "/contacts/ann/n-ann", "q=ann&x=1&z=%2B1"},
		{"..", "/contacts/%2E%2E/n-..", "q=..&x=1&z=%2B1"},
		{"x/../../admin?y=1#f", "/contacts/x%2F..%2F..%2Fadmin%3Fy=1%23f/n-x%2F..%2F..%2Fadmin%3Fy=1%23f", "q=x%2F..%2F..%2Fadmin%3Fy%3D1%23f&x=1&z=%2B1"},
		{"@evil.test:80", "/contacts/@evil.test:80/n-@evil.test:80", "q=%40evil.test%3A80&x=1&z=%2B1"},
	}
	for _, cs := range cases {
		u, err := ut.render(map[string]any{"vars": map[string]any{"v": cs.value}}, url.Values{"z": {"+1"}})
		if err != nil {
			t.Fatalf("%q: %v", cs.value, err)
		}
		if u.Host != "crm.test" || u.EscapedPath() != cs.path || u.RawQuery != cs.query {
			t.Errorf("%q: got host %s path %s query %s; want crm.test %s %s", cs.value, u.Host, u.EscapedPath(), u.RawQuery, cs.path, cs.query)
		}
	}
	// Other values show as Liquid shows them, then escaped.
	others := []struct {
		value       any
		path, query string
	}{
		{nil, "/contacts//n-", "q=&x=1"},
		{7.0, "/contacts/7/n-7", "q=7&x=1"},
		{[]string{"a b", "/"}, "/contacts/a%20b%2F/n-%5Ba%20b%20%2F%5D", "q=a+b%2F&x=1"}, // prepend shows a list as [a b /]
	}
	for _, cs := range others {
		u, err := ut.render(map[string]any{"vars": map[string]any{"v": cs.value}}, nil)
		if err != nil {
			t.Fatalf("%q: %v", cs.value, err)
		}
		if u.Host != "crm.test" || u.EscapedPath() != cs.path || u.RawQuery != cs.query {
			t.Errorf("%v: got host %s path %s query %s; want crm.test %s %s", cs.value, u.Host, u.EscapedPath(), u.RawQuery, cs.path, cs.query)
		}
	}
}

func TestHTTPWorstCase(t *testing.T) {
	cases := []struct {
		timeout time.Duration
		retries int
		want    time.Duration
	}{
		{10 * time.Second, 0, 10 * time.Second},
		{10 * time.Second, 3, 40*time.Second + 3500*time.Millisecond},
		{time.Second, 5, 6*time.Second + 15500*time.Millisecond},
	}
	for _, c := range cases {
		st := &HTTPStep{Timeout: c.timeout, Retries: c.retries}
		if got := st.worstCase(); got != c.want {
			t.Errorf("timeout %v retries %d: worst case %v, want %v", c.timeout, c.retries, got, c.want)
		}
	}
	if got := (&HTTPStep{Timeout: time.Second, Retries: 1 << 30}).worstCase(); got <= httpMaxTotal {
		t.Errorf("huge retries: worst case %v, want more than %v", got, httpMaxTotal)
	}
}
