// Package config holds keyway's configuration file: its types, loading with
// ${ENV} expansion, and validation that reports every problem with its
// FILE:LINE:COL place.
package config

import (
	"gopkg.in/yaml.v3"
)

// Config is a whole keyway configuration file.
type Config struct {
	Server      Server       `yaml:"server"`
	Storage     Storage      `yaml:"storage"`
	Admin       Admin        `yaml:"admin"`
	Defaults    Defaults     `yaml:"defaults"`
	Providers   Providers    `yaml:"providers"`
	HTTP        HTTP         `yaml:"http"`
	Email       Email        `yaml:"email"`
	Compliance  Compliance   `yaml:"compliance"`
	Staff       []Staff      `yaml:"staff"`
	Groups      []Group      `yaml:"groups"`
	Fields      []string     `yaml:"fields"`
	Automations []Automation `yaml:"automations"`
	// Events are the systems told what happened (events.go).
	Events []EventEndpoint `yaml:"events"`

	// AllowEmptyAutomations lets a reload apply a file with no automations
	// while enrollments are active, ending every one of them. Without it
	// such a reload is refused: a file that lost its automations is far
	// more often half-written than meant.
	AllowEmptyAutomations bool `yaml:"allow_empty_automations"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`
	// Hash is the SHA-256 of the file's content, in hex: processes that
	// share a database should run the same file, and show this to prove it.
	Hash string `yaml:"-"`
	// pos maps a node path such as "automations[0].keywords[1]" to where it
	// stands in File.
	pos map[string]Pos
	// styles holds the style of each scalar by its node path, and lines
	// the file's lines: ProblemInside places a problem inside a value.
	styles map[string]yaml.Style
	lines  []string
	// unset holds, by the place of each value, the environment variables
	// of its plain ${NAME} references that gave nothing (NameUnsetVariables).
	unset map[Pos][]string
	// emptied holds the place of each quoted value that its references
	// made empty (see decoder.readsAbsent), for DecodeStep and DecodeSection.
	emptied map[Pos]bool
	// stepUnset holds the values of steps' own fields that their quoted
	// references emptied, whose warnings DecodeStep gives (deferUnset).
	stepUnset []unsetValue
	// refused holds the paths of the values DecodeStep and DecodeSection
	// refused (Refused).
	refused map[string]bool
	// hidden is what the file's duplicate top-level keys hide (Hidden).
	hidden *Hidden
}

// Server is the HTTP listener.
type Server struct {
	Listen       string `yaml:"listen"`
	PublicURL    string `yaml:"public_url"`
	MaxBodyBytes int    `yaml:"max_body_bytes"`
	// AdminListen, when set, is where the admin API, the dashboard and
	// /metrics are served instead of on Listen: an address on loopback or a
	// private network, out of the Internet's reach.
	AdminListen string `yaml:"admin_listen"`
	// MaxConnections is how many connections each listener serves at once
	// (default 1024); one more is answered 503 and closed, so that a flood
	// of connections cannot take the memory their bodies would need.
	MaxConnections int `yaml:"max_connections"`
}

// Storage is where keyway keeps its state: the embedded bbolt file at
// Path (the default), or the PostgreSQL database Postgres names, which any
// number of keyway processes may share. Setting both is an error.
type Storage struct {
	// Path is the bbolt file; it defaults to "./data/keyway.db" only when
	// Postgres is not set.
	Path string `yaml:"path"`
	// Postgres is a PostgreSQL DSN (URL or key=value string).
	Postgres string `yaml:"postgres"`
	// Retention is how long stored messages, inbound and outbound, are
	// kept; older ones are pruned. Zero (the default) keeps them forever.
	Retention Duration `yaml:"retention"`
}

// MinAdminToken is the shortest admin.token accepted outside dev mode: a
// token anybody on the Internet may try must resist guessing.
const MinAdminToken = 16

// Admin configures the admin API, which is off while Token is empty, and
// the dashboard's logins: the token, and the Users with their roles.
type Admin struct {
	Token string `yaml:"token"`
	Users []User `yaml:"users"`
}

// Defaults apply where a number or a time has no region or zone of its own.
type Defaults struct {
	Region   string `yaml:"region"`
	Timezone string `yaml:"timezone"`
}

// Providers holds the messaging providers' settings, one section per
// provider under its key. Twilio's section is typed here, as the file format writes it;
// the section of any other provider is read as a ProviderSection, under a
// key that provider declared with RegisterProvider (see providers.go).
type Providers struct {
	Twilio Twilio `yaml:"twilio"`
	// Other holds the sections of the other providers, in file order.
	Other []ProviderSection `yaml:"-"`
	// TwilioAt is how many of Other come before the twilio section in the
	// file (0 when it comes first or there is none), so that the numbers
	// are listed in file order.
	TwilioAt int `yaml:"-"`
}

// Twilio holds the Twilio account and its sender numbers.
type Twilio struct {
	AccountSID string   `yaml:"account_sid"`
	AuthToken  string   `yaml:"auth_token"`
	APIBaseURL string   `yaml:"api_base_url"`
	Numbers    []Number `yaml:"numbers"`
}

// DevMode reports whether Twilio credentials are missing, in which case
// outbound messages are stored instead of sent and signatures are not checked.
func (t Twilio) DevMode() bool { return t.AccountSID == "" || t.AuthToken == "" }

// Number is one sender number of a provider.
type Number struct {
	Number  string  `yaml:"number"`
	Channel string  `yaml:"channel"`
	MPS     float64 `yaml:"mps"`
	// PhoneNumberID is the provider's own id of the number, for a provider
	// that sends by it (Meta's phone_number_id); the provider's check
	// requires it or refuses it.
	PhoneNumberID string `yaml:"phone_number_id"`
}

// HTTP governs what http steps may reach.
type HTTP struct {
	AllowPrivate bool     `yaml:"allow_private"`
	AllowHosts   []string `yaml:"allow_hosts"`
}

// Email configures forward_to_email.
type Email struct {
	SMTP *SMTP `yaml:"smtp"`
}

// SMTP is an outgoing mail server.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      string `yaml:"tls"` // none, starttls (default) or tls
	From     string `yaml:"from"`
}

// Compliance holds the opt-out, opt-in and help keyword families, the loop
// guard and quiet hours.
type Compliance struct {
	OptOut ComplianceRule `yaml:"opt_out"`
	OptIn  ComplianceRule `yaml:"opt_in"`
	Help   ComplianceRule `yaml:"help"`

	LoopGuard LoopGuard `yaml:"loop_guard"`
	// QuietHours is nil when the file sets none: sends are never held.
	QuietHours *QuietHours `yaml:"quiet_hours"`
}

// LoopGuard bounds the automated messages one contact gets: at most Max
// per Per (default 10 a minute).
type LoopGuard struct {
	Max int      `yaml:"max"`
	Per Duration `yaml:"per"`
}

// QuietHours holds sends that do not answer the contact between Start and
// End (HH:MM, End may be the next day) in Timezone (default
// defaults.timezone) until End.
type QuietHours struct {
	Start    string `yaml:"start"`
	End      string `yaml:"end"`
	Timezone string `yaml:"timezone"`
}

// ComplianceRule is one family of compliance keywords and its reply.
type ComplianceRule struct {
	Keywords []string `yaml:"keywords"`
	Reply    string   `yaml:"reply"`
}

// Staff is a person who receives forwards and may answer them from their
// phone. Every number a forward_to_mobile or handoff step sends to is staff
// too, named or not.
type Staff struct {
	Number string `yaml:"number"` // E.164 once loaded
	Name   string `yaml:"name"`
}

// Group is a contact group that steps and schedules refer to by ID.
type Group struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Automation is one keyword automation: what starts it and its steps.
type Automation struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Enabled  *bool    `yaml:"enabled"`
	Keywords []string `yaml:"keywords"`
	Match    string   `yaml:"match"` // first_word (default) or exact
	// Channel, when set (sms or whatsapp), makes the keywords match only
	// messages on that channel.
	Channel           string    `yaml:"channel"`
	OverwriteIfExists bool      `yaml:"overwrite_if_exists"`
	CatchAll          bool      `yaml:"catch_all"`
	Schedule          *Schedule `yaml:"schedule"`
	// ExpireAfter ends an enrollment left waiting for a reply with no timeout.
	ExpireAfter Duration `yaml:"expire_after"`
	Steps       []Step   `yaml:"steps"`

	// Path is the node path of this automation, e.g. "automations[2]".
	Path string `yaml:"-"`
}

// IsEnabled reports whether the automation may enroll contacts; it defaults to true.
func (a *Automation) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// Schedule starts an automation for every member of a group on a cron schedule.
type Schedule struct {
	Cron     string `yaml:"cron"`
	Group    string `yaml:"group"`
	Timezone string `yaml:"timezone"`
	// CatchUp is how old a tick missed while the gateway was down may be and
	// still run at start; older ones are skipped and logged.
	CatchUp Duration `yaml:"catch_up"`
}

// Step is one step of an automation. Its common fields are decoded here; the
// fields of its type stay in Node for the step type to decode with DecodeStep.
type Step struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	Next string `yaml:"next"`

	// Path is the node path of this step, e.g. "automations[0].steps[3]".
	Path string `yaml:"-"`
	// Node is the step's YAML mapping.
	Node *yaml.Node `yaml:"-"`
}

// End is the reserved step target that finishes an enrollment.
const End = "end"

// Channels a number or a message may use.
const (
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
)
