package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/keyway-sms/keyway/keywords"
)

// validate checks the decoded configuration, defaults applied, and returns
// every problem found. Keyword collisions and the fields of each step type
// are checked by the automation package.
func (c *Config) validate() Problems {
	k := &checker{c: c}
	k.server()
	k.storage()
	k.defaults()
	k.twilio()
	k.providers()
	k.email()
	k.http()
	k.compliance()
	k.staff()
	k.users()
	k.groups()
	k.fields()
	k.automations()
	k.events()
	return k.problems
}

// checker collects the problems of a configuration.
type checker struct {
	c        *Config
	problems Problems
	// numbers maps the channel and number of each sender number checked so
	// far, of any provider, to the path of the first.
	numbers map[string]string
}

func (k *checker) errorf(path, format string, args ...any) {
	k.problems = append(k.problems, k.c.Problemf(path, format, args...))
}

func (k *checker) warnf(path, format string, args ...any) {
	k.problems = append(k.problems, k.c.Warningf(path, format, args...))
}

// at renders where the node at path stands, for a "first at" mention.
func (k *checker) at(path string) string { return place(k.c.File, k.c.At(path)) }

func (k *checker) server() {
	s, tw := k.c.Server, k.c.Providers.Twilio
	if err := checkListen(s.Listen); err != nil {
		k.errorf("server.listen", "server.listen: %q is not an address to listen on: %v; write [host]:port, e.g. \":8080\" or \"127.0.0.1:8080\"", s.Listen, err)
	}
	switch {
	case s.PublicURL != "" && !isHTTPURL(s.PublicURL):
		k.errorf("server.public_url", "server.public_url: %q is not an absolute http(s) URL", s.PublicURL)
	case s.PublicURL == "" && !tw.DevMode():
		k.warnf("server.public_url", "server.public_url is not set: signatures are checked against the scheme and host each request arrived with; set it to the URL Twilio calls (needed behind a proxy)")
	}
	if s.MaxBodyBytes <= 0 {
		k.errorf("server.max_body_bytes", "server.max_body_bytes: must be more than 0, got %d", s.MaxBodyBytes)
	}
	if s.MaxConnections < 0 {
		k.errorf("server.max_connections", "server.max_connections: must be more than 0, got %d", s.MaxConnections)
	}
	if s.AdminListen != "" {
		k.adminListen(s)
	}
	k.adminToken()
}

// adminToken checks that admin.token, when set, is long enough to resist
// guessing: the admin API and the dashboard take it from anybody who can
// reach them. Dev mode (every provider without credentials: nothing is
// sent) takes any token, for trying keyway out; one live provider is
// enough for the check.
func (k *checker) adminToken() {
	t := k.c.Admin.Token
	if t == "" || len(t) >= MinAdminToken || k.c.DevMode() {
		return
	}
	k.errorf("admin.token", "admin.token: too short to resist guessing (length %d); use at least %d random characters, e.g. the output of `openssl rand -hex 16`", len(t), MinAdminToken)
}

// adminListen checks server.admin_listen: an address, not listen's, and
// preferably not every interface.
func (k *checker) adminListen(s Server) {
	if err := checkListen(s.AdminListen); err != nil {
		k.errorf("server.admin_listen", "server.admin_listen: %q is not an address to listen on: %v; write host:port, e.g. \"127.0.0.1:8081\"", s.AdminListen, err)
		return
	}
	if _, port, _ := net.SplitHostPort(s.AdminListen); s.AdminListen == s.Listen && port != "0" { // port 0: each gets a free port
		k.errorf("server.admin_listen", "server.admin_listen: %q is server.listen too; give the admin listener an address of its own, or leave admin_listen out to serve everything on listen", s.AdminListen)
		return
	}
	if listensOnBoth(s.Listen, s.AdminListen) {
		k.errorf("server.admin_listen", "server.admin_listen: %q takes the port of server.listen (%q) on an address it covers too, so keyway could not listen on both; give the admin listener another port", s.AdminListen, s.Listen)
		return
	}
	host, _, _ := net.SplitHostPort(s.AdminListen)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		k.warnf("server.admin_listen", "server.admin_listen: %q listens on every interface; put the admin API and dashboard on loopback (\"127.0.0.1:8081\") or a private network address", s.AdminListen)
	}
}

// listensOnBoth reports whether listeners on a and b would take the same
// port on the same address: one port (not 0), and one host on every
// interface, or both the same host, loopback names included.
func listensOnBoth(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	norm := func(h string) string {
		h = strings.ToLower(h)
		if h == "localhost" {
			return "127.0.0.1"
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.IsUnspecified() {
				return ""
			}
			return ip.Unmap().String()
		}
		return h
	}
	ha, hb = norm(ha), norm(hb)
	return ha == "" || hb == "" || ha == hb
}

// checkListen says why addr is not an address net.Listen("tcp", addr) can
// take, or returns nil. A host that is a name is checked for its form only:
// whether it resolves depends on where keyway runs.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err) // the address is already quoted in the message
		}
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is not a port number from 0 to 65535", port)
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil && !hostname.MatchString(host) {
		return fmt.Errorf("host %q is not an IP address or a hostname", host)
	}
	return nil
}

func (k *checker) storage() {
	p := k.c.Storage.Path
	if k.c.Storage.Postgres != "" {
		// A path beside postgres (the starter pack's default, or a file
		// kept from before the move) is not used: PostgreSQL is, and the
		// path only draws a warning.
		if p != "" {
			k.warnf("storage.path", "storage.path is not used while storage.postgres is set: PostgreSQL is used instead of the bbolt file")
		}
		return
	}
	if base := filepath.Base(p); strings.HasSuffix(p, "/") || base == "." || base == ".." || isDir(p) {
		k.errorf("storage.path", "storage.path: %q names a folder; name the database file in it, e.g. \"./data/keyway.db\"", p)
	}
}

func (k *checker) defaults() {
	d := k.c.Defaults
	if _, err := time.LoadLocation(d.Timezone); err != nil {
		k.errorf("defaults.timezone", "defaults.timezone: unknown time zone %q", d.Timezone)
	}
	if !phonenumbers.GetSupportedRegions()[strings.ToUpper(d.Region)] {
		k.errorf("defaults.region", "defaults.region: unknown region %q (use a two-letter code such as US or GB)", d.Region)
	}
}

func (k *checker) twilio() {
	tw := k.c.Providers.Twilio
	switch {
	case tw.AccountSID != "" && tw.AuthToken == "":
		k.errorf("providers.twilio.auth_token", "providers.twilio: account_sid is set but auth_token is empty")
	case tw.AccountSID == "" && tw.AuthToken != "":
		k.errorf("providers.twilio.account_sid", "providers.twilio: auth_token is set but account_sid is empty")
	case !tw.DevMode() && len(tw.Numbers) == 0:
		k.warnf("providers.twilio", "providers.twilio: credentials are set but there are no numbers to send from")
	}
	if why := APIBaseURLProblem(tw.APIBaseURL); why != "" {
		k.errorf("providers.twilio.api_base_url", "providers.twilio.api_base_url: %q %s", tw.APIBaseURL, why)
	}
	for i, n := range tw.Numbers {
		k.number(fmt.Sprintf("providers.twilio.numbers[%d]", i), n)
		if n.PhoneNumberID != "" {
			path := fmt.Sprintf("providers.twilio.numbers[%d].phone_number_id", i)
			k.errorf(path, "%s: Twilio numbers have no phone_number_id (it belongs under providers.meta)", path)
		}
	}
}

// providers checks the sections of the providers other than Twilio: their
// numbers here, as Twilio's (a number belongs to one provider), and their
// own keys with the check each provider registered.
func (k *checker) providers() {
	for i := range k.c.Providers.Other {
		s := &k.c.Providers.Other[i]
		for j, n := range s.Numbers {
			k.number(fmt.Sprintf("%s.numbers[%d]", s.Path, j), n)
		}
		if check, _ := sectionCheck(s.Name); check != nil {
			k.problems = append(k.problems, check(k.c, s)...)
		}
	}
}

// number checks the sender number n at path against the numbers before it.
func (k *checker) number(path string, n Number) {
	if k.numbers == nil {
		k.numbers = map[string]string{}
	}
	key := n.Channel + " " + n.Number
	first, dup := k.numbers[key]
	switch {
	case n.Number == "":
		k.errorf(path, "%s: missing number", path)
	case n.Channel == ChannelWhatsApp && !isPhone(n.Number, k.c.Defaults.Region):
		k.errorf(path+".number", "%s: %q is not a valid phone number (a WhatsApp sender is one)", path, n.Number)
	case !isSender(n.Number, k.c.Defaults.Region):
		k.errorf(path+".number", "%s: %q is not a valid phone number nor a short code (3 to 8 digits)", path, n.Number)
	case dup:
		k.errorf(path+".number", "%s: duplicate %s number %q (first at %s)", path, n.Channel, n.Number, k.at(first))
	default:
		k.numbers[key] = path + ".number"
	}
	if n.Channel != ChannelSMS && n.Channel != ChannelWhatsApp {
		k.errorf(path+".channel", "%s: channel must be sms or whatsapp, not %q", path, n.Channel)
	}
	if n.MPS < 0 {
		k.errorf(path+".mps", "%s: mps must not be negative, got %g", path, n.MPS)
	}
}

func (k *checker) email() {
	s := k.c.Email.SMTP
	if s == nil {
		return
	}
	if s.Host == "" {
		k.errorf("email.smtp", "email.smtp: missing host")
	}
	if s.Port < 1 || s.Port > 65535 {
		k.errorf("email.smtp.port", "email.smtp.port: must be between 1 and 65535, got %d", s.Port)
	}
	switch s.TLS {
	case "none", "starttls", "tls":
	default:
		k.errorf("email.smtp.tls", "email.smtp.tls: must be none, starttls or tls, not %q", s.TLS)
	}
	if s.From == "" {
		k.errorf("email.smtp", "email.smtp: missing from (the sender address)")
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		k.errorf("email.smtp.from", "email.smtp.from: %q is not a valid address: %v", s.From, err)
	}
}

// hostname is a DNS name, underscores allowed as in container names.
var hostname = regexp.MustCompile(`^(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$`)

func (k *checker) http() {
	for i, h := range k.c.HTTP.AllowHosts {
		path := fmt.Sprintf("http.allow_hosts[%d]", i)
		if _, err := ParseAllowHost(h); err != nil {
			k.errorf(path, "%s: %s", path, strings.TrimPrefix(err.Error(), "config: "))
		}
	}
}

func (k *checker) compliance() {
	c := k.c.Compliance
	families := []struct {
		name string
		rule ComplianceRule
	}{{"opt_out", c.OptOut}, {"opt_in", c.OptIn}, {"help", c.Help}}
	type first struct{ family, path string }
	// Compliance words match the whole message after normalisation, so
	// "STOP ALL", "stop  all" and "Stop all!" are one word.
	seen := map[string]first{} // normalised keyword → where it first stands
	for _, f := range families {
		for i, kw := range f.rule.Keywords {
			path := fmt.Sprintf("compliance.%s.keywords[%d]", f.name, i)
			word := keywords.Normalize(kw)
			prev, dup := seen[word]
			switch {
			case word == "":
				k.errorf(path, "%s: empty keyword", path)
			case !dup:
				seen[word] = first{f.name, path}
			case prev.family != f.name:
				k.errorf(path, "%s: keyword %q is both %s and %s (first at %s)", path, kw, prev.family, f.name, k.at(prev.path))
			}
		}
	}
	// Compliance replies are no templates: markup in one would reach the
	// customer as it stands.
	for _, f := range families {
		if strings.Contains(f.rule.Reply, "{{") || strings.Contains(f.rule.Reply, "{%") {
			path := "compliance." + f.name + ".reply"
			k.errorf(path, "%s holds template markup; compliance replies are sent as written, so it would reach the customer as it stands", path)
		}
	}
	if c.LoopGuard.Max < 0 {
		k.errorf("compliance.loop_guard.max", "compliance.loop_guard.max: %d is negative; it is how many automated messages a contact may get per compliance.loop_guard.per", c.LoopGuard.Max)
	}
	if q := c.QuietHours; q != nil {
		k.quietHours(q)
	}
	if c.Help.Reply == defaultHelpReply {
		k.warnf("compliance.help.reply", "compliance.help.reply: the default help reply does not name your brand; carriers expect it to")
	}
}

// staff checks the staff list: each a valid phone number, none repeated and
// none of our own sender numbers (staff write to our numbers from theirs).
func (k *checker) staff() {
	seen := map[string]string{} // number → path of the first
	for i, s := range k.c.Staff {
		path := fmt.Sprintf("staff[%d]", i)
		first, dup := seen[s.Number]
		switch {
		case strings.TrimSpace(s.Number) == "":
			k.errorf(path, "%s: missing number", path)
		case !isPhone(s.Number, k.c.Defaults.Region):
			k.errorf(path+".number", "%s: %q is not a valid phone number", path, s.Number)
		case dup:
			k.errorf(path+".number", "%s: duplicate staff number %s (first at %s)", path, s.Number, k.at(first))
		case k.ownNumber(s.Number):
			k.errorf(path+".number", "%s: %s is one of our own sender numbers; staff write from their own phones", path, s.Number)
		default:
			seen[s.Number] = path + ".number"
		}
	}
}

// numberOn reports whether one of the configured sender numbers is on
// channel.
func (k *checker) numberOn(channel string) bool {
	for _, num := range k.c.Numbers() {
		if num.Channel == channel {
			return true
		}
	}
	return false
}

// ownNumber reports whether n is one of the configured sender numbers.
func (k *checker) ownNumber(n string) bool {
	for _, num := range k.c.Numbers() {
		if num.Number == n {
			return true
		}
	}
	return false
}

// quietHours checks compliance.quiet_hours.
func (k *checker) quietHours(q *QuietHours) {
	read := func(key, v string) (int, error) {
		t, err := ParseClock(v)
		switch {
		case strings.TrimSpace(v) == "":
			k.errorf("compliance.quiet_hours."+key, "compliance.quiet_hours: missing %s (a time of day such as %s)", key, map[string]string{"start": "21:00", "end": "08:00"}[key])
		case err != nil:
			k.errorf("compliance.quiet_hours."+key, "compliance.quiet_hours.%s: %v", key, err)
		}
		return t, err
	}
	start, serr := read("start", q.Start)
	end, eerr := read("end", q.End)
	if serr == nil && eerr == nil && start == end {
		k.errorf("compliance.quiet_hours", "compliance.quiet_hours: start and end are both %s; quiet hours need a span", q.Start)
	}
	if _, err := time.LoadLocation(q.Timezone); err != nil {
		k.errorf("compliance.quiet_hours.timezone", "compliance.quiet_hours.timezone: unknown time zone %q", q.Timezone)
	}
}

// clock is HH:MM (or H:MM), 00:00 to 23:59.
var clock = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// ParseClock reads a time of day written "HH:MM", 00:00 to 23:59, into
// minutes since midnight.
func ParseClock(s string) (int, error) {
	m := clock.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a time of day (use HH:MM, from 00:00 to 23:59)", s)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return h*60 + mi, nil
}

func (k *checker) groups() {
	seen := map[string]string{} // id → path of the first
	for i, g := range k.c.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		first, dup := seen[g.ID]
		switch {
		case strings.TrimSpace(g.ID) == "":
			k.errorf(path, "%s: missing id", path)
		case dup:
			k.errorf(path+".id", "duplicate group id %q (first at %s)", g.ID, k.at(first))
		default:
			seen[g.ID] = path + ".id"
		}
	}
}

func (k *checker) fields() {
	seen := map[string]string{} // name → path of the first
	for i, name := range k.c.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		first, dup := seen[name]
		switch {
		case strings.TrimSpace(name) == "":
			k.errorf(path, "%s: empty field name", path)
		case dup:
			k.errorf(path, "duplicate field %q (first at %s)", name, k.at(first))
		default:
			seen[name] = path
		}
	}
}

func (k *checker) automations() {
	ids := map[string]string{} // id → path of the first
	var catchAll *Automation   // the first with catch_all: true
	for i := range k.c.Automations {
		a := &k.c.Automations[i]
		first, dup := ids[a.ID]
		switch {
		case a.ID == "":
			k.errorf(a.Path, "%s: missing id", a.Path)
		case dup:
			k.errorf(a.Path+".id", "duplicate automation id %q (first at %s)", a.ID, k.at(first))
		default:
			ids[a.ID] = a.Path + ".id"
		}
		if a.CatchAll && catchAll != nil {
			k.errorf(a.Path+".catch_all", "%s and %s (%s) are both catch_all; only one automation may be",
				automationName(a), automationName(catchAll), k.at(catchAll.Path+".catch_all"))
		} else if a.CatchAll {
			catchAll = a
		}
		k.automation(a)
	}
}

// automation checks one automation apart from its id and catch_all.
func (k *checker) automation(a *Automation) {
	name := automationName(a)
	if a.Match != "first_word" && a.Match != "exact" {
		k.errorf(a.Path+".match", "%s: match must be first_word or exact, not %q", name, a.Match)
	}
	if a.Channel != "" && a.Channel != ChannelSMS && a.Channel != ChannelWhatsApp {
		k.errorf(a.Path+".channel", "%s: channel must be sms or whatsapp, not %q", name, a.Channel)
	} else if a.Channel != "" && len(k.c.Numbers()) > 0 && !k.numberOn(a.Channel) {
		k.warnf(a.Path+".channel", "%s: channel %s, but none of the numbers under providers is on %s: no message can reach it", name, a.Channel, a.Channel)
	}
	if len(a.Steps) == 0 {
		k.warnf(a.Path+".steps", "%s has no steps", name)
	}
	// A schedule written but refused (its problem is reported) still counts:
	// warning that there is none would mislead.
	_, scheduleWritten := k.c.pos[a.Path+".schedule"]
	if len(a.Keywords) == 0 && !a.CatchAll && a.Schedule == nil && !scheduleWritten {
		k.warnf(a.Path, "%s has no keywords, no schedule and is not catch_all: only a start_automation step or the admin API can start it", name)
	}
	if a.Schedule != nil {
		k.schedule(a, name)
	}
	k.steps(a, name)
}

func (k *checker) schedule(a *Automation, name string) {
	s, path := a.Schedule, a.Path+".schedule"
	if s.Cron == "" {
		k.errorf(path, "%s schedule: missing cron", name)
	} else if _, err := ParseCron(s.Cron, time.UTC); err != nil {
		k.errorf(path+".cron", "%s schedule: invalid cron %q: %v", name, s.Cron, err)
	}
	if s.Group == "" {
		k.errorf(path, "%s schedule: missing group (whose members it starts)", name)
	} else if !k.c.HasGroup(s.Group) {
		k.errorf(path+".group", "%s schedule: group %q is not declared under groups", name, s.Group)
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			k.errorf(path+".timezone", "%s schedule: unknown time zone %q", name, s.Timezone)
		}
	}
}

// steps checks the common fields of the automation's steps.
func (k *checker) steps(a *Automation, name string) {
	ids := map[string]string{} // id → path of the first
	for i, s := range a.Steps {
		if s.Node == nil {
			continue // not a mapping, which the decoder reported
		}
		label := fmt.Sprintf("%s step %d", name, i+1)
		if s.Type == "" {
			k.errorf(s.Path, "%s: missing type", label)
		}
		first, dup := ids[s.ID]
		switch {
		case s.ID == "":
		case s.ID == End:
			k.errorf(s.Path+".id", "%s: step id %q is reserved (next: end finishes the enrollment)", label, End)
		case dup:
			k.errorf(s.Path+".id", "%s: duplicate step id %q (first at %s)", label, s.ID, k.at(first))
		default:
			ids[s.ID] = s.Path + ".id"
		}
		if s.Next != "" && !a.HasStep(s.Next) {
			k.errorf(s.Path+".next", "%s: next %q is not a step of this automation", label, s.Next)
		}
	}
}

// automationName names a in messages: by its id, or by its path when it
// has none.
func automationName(a *Automation) string {
	if a.ID == "" {
		return a.Path
	}
	return fmt.Sprintf("automation %q", a.ID)
}

// APIBaseURLProblem says what is wrong with raw as a provider's
// api_base_url (e.g. "is not an absolute http(s) URL"), or "" when it is
// an absolute http(s) URL without credentials, a query or a fragment.
func APIBaseURLProblem(raw string) string {
	if !isHTTPURL(raw) {
		return "is not an absolute http(s) URL"
	}
	if u, _ := url.Parse(raw); u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "must not hold credentials, a query or a fragment"
	}
	return ""
}

// isHTTPURL reports whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isPhone reports whether raw reads as a phone number of region.
func isPhone(raw, region string) bool {
	_, err := E164(raw, region)
	return err == nil
}

// isSender reports whether raw reads as an SMS sender number of region: a
// phone number or a short code.
func isSender(raw, region string) bool {
	_, err := SenderNumber(raw, region, ChannelSMS)
	return err == nil
}

// isDir reports whether path names an existing folder on this machine.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
