package config

import (
	"fmt"
	"reflect"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"
)

// ProviderSection is the section of a provider other than Twilio under
// providers.<name>. Its sender numbers are read and checked here, like
// Twilio's, so that the engine sees every number through Numbers; its other
// keys belong to the provider, which decodes them with DecodeSection.
//
//	providers:
//	  fake:                      # Name "fake", Path "providers.fake"
//	    send_url: "http://..."   # the provider's own key, in Node
//	    numbers:
//	      - { number: "+15005550007", channel: sms, mps: 5 }
type ProviderSection struct {
	// Name is the provider's key under providers.
	Name    string   `yaml:"-"`
	Numbers []Number `yaml:"numbers"`
	// Path is the node path of the section, e.g. "providers.fake".
	Path string `yaml:"-"`
	// Node is the section's mapping, its ${NAME} references expanded; nil
	// when the section is empty.
	Node *yaml.Node `yaml:"-"`
}

// SectionCheck decodes and checks the keys of a provider's section other
// than numbers, with DecodeSection and Problemf, and returns every problem.
type SectionCheck func(c *Config, s *ProviderSection) Problems

// ProviderNumber is a configured sender number and the provider it belongs to.
type ProviderNumber struct {
	Number  string  // E.164
	Channel string  // ChannelSMS or ChannelWhatsApp
	MPS     float64 // sends per second; 0: no limit
	// Provider is the key of the provider's section, e.g. "twilio".
	Provider string
	// Path is where the number is written, e.g. "providers.twilio.numbers[0]".
	Path string
}

var (
	sectionsMu sync.RWMutex
	// sections holds the checks of the provider keys declared with
	// RegisterProvider; a nil check is a section of numbers only.
	sections = map[string]SectionCheck{}
	// numberDefaults holds the channel and mps of a provider's numbers
	// that set none, by provider key (SetNumberDefaults).
	numberDefaults = map[string]Number{}
	// typedProviders are the keys of the sections Providers types itself.
	typedProviders, _ = structKeys(reflect.TypeFor[Providers]())
)

// RegisterProvider declares name as a key under providers: its section is
// read as a ProviderSection and check, when not nil, checks its own keys at
// load. providers.Register calls it for every provider it registers, so
// that a configuration may name exactly the providers compiled in; any
// other key under providers is an unknown key. For a key whose section
// Providers types itself (twilio) it does nothing, and check must be nil.
// It panics on an empty name, a name declared twice, or a check for a typed
// key.
func RegisterProvider(name string, check SectionCheck) {
	if name == "" {
		panic("config: RegisterProvider with an empty name")
	}
	if slices.Contains(typedProviders, name) {
		if check != nil {
			panic(fmt.Sprintf("config: providers.%s is typed by config; it takes no SectionCheck", name))
		}
		return
	}
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	if _, dup := sections[name]; dup {
		panic(fmt.Sprintf("config: provider %q registered twice", name))
	}
	sections[name] = check
}

// SetNumberDefaults gives provider name's numbers that name no channel
// the channel channel (sms otherwise), and those without mps the rate mps
// (no limit otherwise): a provider of one channel and a known throughput
// (Meta's WhatsApp Cloud API: whatsapp, 80) calls it from its init.
func SetNumberDefaults(name, channel string, mps float64) {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	numberDefaults[name] = Number{Channel: channel, MPS: mps}
}

// numberDefault returns what SetNumberDefaults gave provider name's numbers.
func numberDefault(name string) Number {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	return numberDefaults[name]
}

// sectionCheck returns the check of a declared provider key, and whether
// the key is declared.
func sectionCheck(name string) (SectionCheck, bool) {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	check, ok := sections[name]
	return check, ok
}

// providerKeys returns the keys allowed under providers: the typed ones,
// then the declared ones in name order.
func providerKeys() []string {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	declared := make([]string, 0, len(sections))
	for name := range sections {
		declared = append(declared, name)
	}
	slices.Sort(declared)
	return append(slices.Clone(typedProviders), declared...)
}

// Section returns the section of the provider with key name other than
// Twilio, and whether the file has one.
func (p *Providers) Section(name string) (*ProviderSection, bool) {
	for i := range p.Other {
		if p.Other[i].Name == name {
			return &p.Other[i], true
		}
	}
	return nil, false
}

// Numbers returns every configured sender number with its provider, in
// file order: the first number of a channel is the one a send goes from
// when nothing else names one. The engine reads sender numbers only
// through it, so that it names no provider.
func (c *Config) Numbers() []ProviderNumber {
	var out []ProviderNumber
	for _, s := range c.Providers.sections() {
		for i, n := range s.numbers {
			out = append(out, ProviderNumber{Number: n.Number, Channel: n.Channel, MPS: n.MPS,
				Provider: s.name, Path: fmt.Sprintf("%s.numbers[%d]", s.path, i)})
		}
	}
	return out
}

// NumberPaths returns where sender numbers are written, for messages:
// "providers.<name>.numbers" of each provider, Twilio's among them, in file
// order.
func (c *Config) NumberPaths() []string {
	var out []string
	for _, s := range c.Providers.sections() {
		out = append(out, s.path+".numbers")
	}
	return out
}

// numbersSection is a provider section's name, path and numbers.
type numbersSection struct {
	name, path string
	numbers    []Number
}

// sections returns the provider sections in file order, Twilio's where
// TwilioAt puts it (first when the file has none).
func (p *Providers) sections() []numbersSection {
	at := min(max(p.TwilioAt, 0), len(p.Other))
	out := make([]numbersSection, 0, len(p.Other)+1)
	for i, s := range p.Other {
		if i == at {
			out = append(out, numbersSection{"twilio", "providers.twilio", p.Twilio.Numbers})
		}
		out = append(out, numbersSection{s.Name, s.Path, s.Numbers})
	}
	if at == len(p.Other) {
		out = append(out, numbersSection{"twilio", "providers.twilio", p.Twilio.Numbers})
	}
	return out
}

// DecodeSection decodes the keys of provider section s other than numbers
// into the struct into points to, as DecodeStep does for a step: by yaml
// tags, every problem placed where it stands, and a key the struct does not
// have reported as unknown in the section. Its ${NAME} references were
// expanded by Parse. Like DecodeStep it records places into c, so it must
// not run at the same time as another Decode or At on the same Config. It
// panics if into is not a pointer to a struct.
func (c *Config) DecodeSection(s *ProviderSection, into any) Problems {
	return c.decodeInto(s.Node, s.Path, into, keyRule{skip: map[string]bool{"numbers": true}})
}

// Equal reports whether p and q hold the same settings, wherever in the
// file they are written.
func (p Providers) Equal(q Providers) bool {
	if !reflect.DeepEqual(p.Twilio, q.Twilio) || len(p.Other) != len(q.Other) {
		return false
	}
	for i, a := range p.Other {
		b := q.Other[i]
		if a.Name != b.Name || !slices.Equal(a.Numbers, b.Numbers) || !nodeEqual(a.Node, b.Node) {
			return false
		}
	}
	return true
}

// nodeEqual reports whether two YAML trees hold the same values, wherever
// they stand.
func nodeEqual(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !nodeEqual(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
