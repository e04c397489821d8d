package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "automation without id",
			src: `automations:
  - name: x
    keywords: [A]
    steps: [{type: reply}]
`,
			want: []string{`k.yaml:2:5: automation 1: missing id`},
		},
		{
			name: "duplicate automation ids",
			src: `automations:
  - id: join
    keywords: [A]
    steps: [{type: reply}]
  - id: join
    keywords: [B]
    steps: [{type: reply}]
`,
			want: []string{`k.yaml:5:9: duplicate automation id "join" (first at k.yaml:2:9)`},
		},
		{
			name: "unknown match",
			src: `automations:
  - id: a
    keywords: [A]
    match: fuzzy
    steps: [{type: reply}]
`,
			want: []string{`k.yaml:4:12: automation "a": match must be first_word or exact, not "fuzzy"`},
		},
		{
			name: "two catch_all automations",
			src: `automations:
  - id: a
    catch_all: true
    steps: [{type: reply}]
  - id: b
    catch_all: true
    steps: [{type: reply}]
`,
			want: []string{`k.yaml:6:16: automation "b" and automation "a" (k.yaml:3:16) are both catch_all; only one automation may be`},
		},
		{
			name: "nothing to run and nothing to start it",
			src: `automations:
  - id: a
`,
			want: []string{
				`k.yaml:2:5: warning: automation "a" has no steps`,
				`k.yaml:2:5: warning: automation "a" has no keywords, no schedule and is not catch_all: only a start_automation step or the admin API can start it`,
			},
		},
		{
			name: "catch_all or schedule is a start",
			src: `groups: [{id: g}]
automations:
  - id: a
    catch_all: true
    steps: [{type: reply}]
  - id: b
    schedule: { cron: "@weekly", group: g, timezone: Europe/Paris }
    steps: [{type: reply}]
`,
		},
		{
			name: "bad schedule",
			src: `groups:
  - { id: news }
automations:
  - id: w
    schedule: { cron: "0 10 * *", group: nope, timezone: Mars/Base }
    steps: [{type: reply}]
`,
			want: []string{
				`k.yaml:5:23: automation "w" schedule: invalid cron "0 10 * *": expected exactly 5 fields, found 4: [0 10 * *]`,
				`k.yaml:5:42: automation "w" schedule: group "nope" is not declared under groups`,
				`k.yaml:5:58: automation "w" schedule: unknown time zone "Mars/Base"`,
			},
		},
		{
			name: "schedule that never ticks",
			src: `groups: [{id: g}]
automations:
  - id: w
    schedule: { cron: "0 10 31 2 *", group: g }
    steps: [{type: reply}]
`,
			want: []string{
				`k.yaml:4:23: automation "w" schedule: invalid cron "0 10 31 2 *": it never matches: no date has that day of the month in that month (e.g. 31 February)`,
			},
		},
		{
			name: "schedule without cron or group",
			src: `automations:
  - id: w
    schedule: { timezone: UTC }
    steps: [{type: reply}]
`,
			want: []string{
				`k.yaml:3:15: automation "w" schedule: missing cron`,
				`k.yaml:3:15: automation "w" schedule: missing group (whose members it starts)`,
			},
		},
		{
			name: "steps",
			src: `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { id: ask, type: reply }
      - { name: no type }
      - { id: ask, type: reply }
      - { id: end, type: reply }
      - { type: reply, next: bye2 }
      - { type: reply, next: ask }
      - { type: reply, next: end }
`,
			want: []string{
				`k.yaml:6:9: automation "join" step 2: missing type`,
				`k.yaml:7:15: automation "join" step 3: duplicate step id "ask" (first at k.yaml:5:15)`,
				`k.yaml:8:15: automation "join" step 4: step id "end" is reserved (next: end finishes the enrollment)`,
				`k.yaml:9:30: automation "join" step 5: next "bye2" is not a step of this automation`,
			},
		},
		{
			name: "steps of an automation without id",
			src: `automations:
  - keywords: [A]
    steps: [{type: reply, next: x}]
`,
			want: []string{
				`k.yaml:2:5: automation 1: missing id`,
				`k.yaml:3:33: automation 1 step 1: next "x" is not a step of this automation`,
			},
		},
		{
			name: "groups and fields",
			src: `groups:
  - { name: x }
  - { id: news }
  - { id: news }
fields: [a, " ", a]
`,
			want: []string{
				`k.yaml:2:5: groups[0]: missing id`,
				`k.yaml:4:11: duplicate group id "news" (first at k.yaml:3:11)`,
				`k.yaml:5:13: fields[1]: empty field name`,
				`k.yaml:5:18: duplicate field "a" (first at k.yaml:5:10)`,
			},
		},
		{
			name: "defaults",
			src: `defaults:
  region: XX
  timezone: Mars/Base
`,
			want: []string{
				`k.yaml:2:11: defaults.region: unknown region "XX" (use a two-letter code such as US or GB)`,
				`k.yaml:3:13: defaults.timezone: unknown time zone "Mars/Base"`,
			},
		},
		{
			name: "lower-case region",
			src:  "defaults: { region: gb }\nproviders: { twilio: { numbers: [{ number: \"020 7183 8750\" }] } }\n",
		},
		{
			name: "twilio numbers",
			src: `server: { public_url: "https://x.example" }
providers:
  twilio:
    account_sid: AC1
    auth_token: tok
    numbers:
      - { number: "+1555" }
      - { number: "(500) 555-0006" }
      - { number: "+15005550006", channel: mms, mps: -1 }
      - { number: "+15005550006" }
      - { number: "+15005550006", channel: whatsapp }
      - { channel: sms }
`,
			want: []string{
				`k.yaml:7:19: providers.twilio.numbers[0]: "+1555" is not a valid phone number nor a short code (3 to 8 digits)`,
				`k.yaml:9:44: providers.twilio.numbers[2]: channel must be sms or whatsapp, not "mms"`,
				`k.yaml:9:54: providers.twilio.numbers[2]: mps must not be negative, got -1`,
				`k.yaml:10:19: providers.twilio.numbers[3]: duplicate sms number "+15005550006" (first at k.yaml:8:19)`,
				`k.yaml:12:9: providers.twilio.numbers[5]: missing number`,
			},
		},
		{
			name: "account sid without auth token",
			src: `providers:
  twilio:
    account_sid: AC1
`,
			want: []string{`k.yaml:3:5: providers.twilio: account_sid is set but auth_token is empty`},
		},
		{
			name: "auth token without account sid",
			src: `providers:
  twilio:
    auth_token: ${TOKEN}
`,
			want: []string{`k.yaml:3:5: providers.twilio: auth_token is set but account_sid is empty`},
		},
		{
			name: "credentials without numbers or public url",
			src: `providers:
  twilio: { account_sid: AC1, auth_token: tok, api_base_url: "ftp://x" }
`,
			want: []string{
				`k.yaml:1:1: warning: server.public_url is not set: signatures are checked against the scheme and host each request arrived with; set it to the URL Twilio calls (needed behind a proxy)`,
				`k.yaml:2:11: warning: providers.twilio: credentials are set but there are no numbers to send from`,
				`k.yaml:2:62: providers.twilio.api_base_url: "ftp://x" is not an absolute http(s) URL`,
			},
		},
		{
			name: "server",
			src: `server:
  public_url: "sms.example.com"
  max_body_bytes: -1
`,
			want: []string{
				`k.yaml:2:15: server.public_url: "sms.example.com" is not an absolute http(s) URL`,
				`k.yaml:3:19: server.max_body_bytes: must be more than 0, got -1`,
			},
		},
		{
			name: "bad smtp",
			src: `email:
  smtp: { port: 70000, tls: ssl, from: "not an address" }
`,
			want: []string{
				`k.yaml:2:9: email.smtp: missing host`,
				`k.yaml:2:17: email.smtp.port: must be between 1 and 65535, got 70000`,
				`k.yaml:2:29: email.smtp.tls: must be none, starttls or tls, not "ssl"`,
				`k.yaml:2:40: email.smtp.from: "not an address" is not a valid address: mail: no angle-addr`,
			},
		},
		{
			name: "smtp without from",
			src: `email:
  smtp: { host: h }
`,
			want: []string{`k.yaml:2:9: email.smtp: missing from (the sender address)`},
		},
		{
			name: "allow_hosts",
			src: `http:
  allow_hosts: ["crm.internal", "10.1.0.0/33", "10.2.0.1", "::1", "bad host", "svc_1", "fd00::/8", "crm.internal:8443", "[fd00::5]:80", "10.2.0.1:0", "h:x", "https://crm.internal/api"]
`,
			want: []string{
				`k.yaml:2:33: http.allow_hosts[1]: "10.1.0.0/33" is not a valid CIDR range such as 10.1.0.0/16`,
				`k.yaml:2:67: http.allow_hosts[4]: "bad host" is not a hostname, an IP address or a CIDR range, with or without :port`,
				`k.yaml:2:137: http.allow_hosts[9]: "10.2.0.1:0": port "0" is not a number from 1 to 65535`,
				`k.yaml:2:151: http.allow_hosts[10]: "h:x": port "x" is not a number from 1 to 65535`,
				`k.yaml:2:158: http.allow_hosts[11]: "https://crm.internal/api" is a URL; write its host alone ("crm.internal"), without https:// or a path`,
			},
		},
		{
			name: "compliance keywords",
			src: `compliance:
  opt_out: { keywords: [STOP, " "] }
  opt_in: { keywords: [START, stop, START] }
`,
			want: []string{
				`k.yaml:2:31: compliance.opt_out.keywords[1]: empty keyword`,
				`k.yaml:3:31: compliance.opt_in.keywords[1]: keyword "stop" is both opt_out and opt_in (first at k.yaml:2:25)`,
			},
		},
		{
			name: "multi-word compliance keywords compare normalised",
			src: `compliance:
  opt_out: { keywords: ["STOP ALL", "OPT OUT"] }
  help: { keywords: ["stop  all", "Opt out!", "!!"] }
`,
			want: []string{
				`k.yaml:3:22: compliance.help.keywords[0]: keyword "stop  all" is both opt_out and help (first at k.yaml:2:25)`,
				`k.yaml:3:35: compliance.help.keywords[1]: keyword "Opt out!" is both opt_out and help (first at k.yaml:2:37)`,
				`k.yaml:3:47: compliance.help.keywords[2]: empty keyword`,
			},
		},
		{
			// Compliance replies are sent as written: markup in them would
			// reach the customer as it stands.
			name: "template markup in compliance replies",
			src: `compliance:
  opt_out: { reply: "Bye {{ contact.name }}" }
  opt_in: { reply: "Welcome back {% if contact.name %}friend{% endif %}" }
  help: { reply: "Acme: reply STOP {{ message.body" }
`,
			want: []string{
				`k.yaml:2:21: compliance.opt_out.reply holds template markup; compliance replies are sent as written, so it would reach the customer as it stands`,
				`k.yaml:3:20: compliance.opt_in.reply holds template markup; compliance replies are sent as written, so it would reach the customer as it stands`,
				`k.yaml:4:18: compliance.help.reply holds template markup; compliance replies are sent as written, so it would reach the customer as it stands`,
			},
		},
		{
			// An automation on a channel none of our numbers is on can
			// never be reached.
			name: "whatsapp automation without a whatsapp number",
			src: `providers:
  twilio:
    numbers: [ { number: "+15005550006", channel: sms } ]
automations:
  - id: a
    channel: whatsapp
    keywords: [A]
    steps: [{type: reply, text: hi}]
  - id: b
    channel: sms
    keywords: [B]
    steps: [{type: reply, text: hi}]
`,
			want: []string{`k.yaml:6:14: warning: automation "a": channel whatsapp, but none of the numbers under providers is on whatsapp: no message can reach it`},
		},
		{
			// One mistake, one problem: a value of the wrong shape is not
			// also reported as the id, number or steps it then lacks.
			name: "a value of the wrong shape is one problem",
			src: `providers:
  twilio:
    numbers:
      - "+15005550007"
automations:
  - join
  - id: b
    keywords: [B]
    steps: { type: reply, text: x }
  - id: c
    keywords: [C]
    steps:
      - reply
`,
			want: []string{
				`k.yaml:4:9: providers.twilio.numbers[0]: expected a mapping, got "+15005550007"`,
				`k.yaml:6:5: automation 1: expected a mapping, got "join"`,
				`k.yaml:9:12: automation "b" field steps: expected a list, got a mapping`,
				`k.yaml:13:9: automation "c" step 1: expected a mapping, got "reply"`,
			},
		},
		{
			name: "an unquoted Liquid value",
			src: `compliance:
  help:
    reply: {{ automation.id }}
automations:
  - id: a
    keywords: [A]
    steps: [{ type: end }]
`,
			want: []string{
				`k.yaml:3:12: compliance.help.reply: expected a string, got a mapping: a value that starts with {{ must be quoted (text: "{{ contact.name }}, welcome")`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := mustParse(t, tc.src, map[string]string{"TOKEN": "tok"})
			checkProblems(t, withoutHelpWarning(ps), tc.want)
		})
	}
}

func TestHelpReplyWarning(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"default", "server: {}\n", []string{"k.yaml:1:1: " + helpWarning}},
		{"written out", "compliance:\n  help: { reply: \"Reply STOP to opt out. Msg&data rates may apply.\" }\n", []string{"k.yaml:2:18: " + helpWarning}},
		{"branded", "compliance:\n  help: { reply: \"Acme alerts: reply STOP to opt out.\" }\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := mustParse(t, tc.src, nil)
			checkProblems(t, render(ps), tc.want)
		})
	}
}

func TestScheduleCronWithOnlyAZoneIsAProblem(t *testing.T) {
	src := "groups: [ { id: g } ]\nautomations:\n  - id: s\n    schedule: { cron: \"CRON_TZ=UTC\", group: g }\n    steps: [ { type: end } ]\n"
	_, problems := Parse("c.yaml", []byte(src), nil)
	found := false
	for _, p := range problems.Errors() {
		if strings.Contains(p.String(), "c.yaml:4:23:") && strings.Contains(p.Message, "invalid cron") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no cron problem at 4:23: %v", problems)
	}
}

// A schedule refused for a problem of its own is still a schedule: no
// warning that the automation has none.
func TestRefusedScheduleGivesNoNoScheduleWarning(t *testing.T) {
	src := "groups: [ { id: g } ]\nautomations:\n  - id: a\n    schedule: { cron: \"@daily\", group: g, colour: red }\n    steps: [ { type: end } ]\n"
	_, problems := Parse("c.yaml", []byte(src), nil)
	for _, p := range problems {
		if strings.Contains(p.Message, "no schedule") {
			t.Fatalf("misleading warning: %s", p)
		}
	}
	if len(problems.Errors()) != 1 {
		t.Fatalf("problems: %v", problems)
	}
}

// storage.path naming a folder that exists is a problem, as one written
// with a trailing slash is.
func TestStoragePathThatIsAFolder(t *testing.T) {
	dir := t.TempDir()
	_, ps := mustParse(t, "storage: { path: \""+dir+"\" }\n", nil)
	found := false
	for _, p := range ps.Errors() {
		found = found || strings.Contains(p.Message, "names a folder")
	}
	if !found {
		t.Fatalf("no problem for a folder as storage.path: %v", render(ps))
	}
}
