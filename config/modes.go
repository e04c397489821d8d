package config

import "strings"

// DevCheck says why the provider of section s runs in dev mode (sends
// logged and stored, not made; webhooks not verified), e.g. "no Vonage
// credentials", or "" when it runs live. Dev mode is what a section with
// none of its credentials runs in: one with some set and others empty is
// refused by the provider's own check, and so is not said to run in dev
// mode either (an unset variable's warning would promise it otherwise).
type DevCheck func(c *Config, s *ProviderSection) string

// devChecks holds the DevCheck of each provider key that declared one.
var devChecks = map[string]DevCheck{}

// SetDevCheck declares how to tell whether provider name runs in dev mode.
// A provider whose dev mode depends on its credentials calls it from its
// init (providers.Register does, from Registration.DevMode); a provider
// without one runs live.
func SetDevCheck(name string, check DevCheck) {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	devChecks[name] = check
}

// ProviderMode is how one provider the config sets up runs.
type ProviderMode struct {
	Provider string // its key under providers, e.g. "vonage"
	// Dev is why it runs in dev mode, e.g. "no Twilio credentials"; ""
	// when it runs live.
	Dev string
}

// TwilioSetUp reports whether Twilio is one of the config's providers: its
// section has credentials or numbers, or no other provider is set up (then
// Twilio in dev mode is what a bare config runs on).
func (c *Config) TwilioSetUp() bool {
	t := c.Providers.Twilio
	return t.AccountSID != "" || t.AuthToken != "" || len(t.Numbers) > 0 || len(c.Providers.Other) == 0
}

// ProviderModes returns how each provider the config sets up runs: Twilio
// first when it is set up, then the other sections in file order.
func (c *Config) ProviderModes() []ProviderMode {
	var out []ProviderMode
	if c.TwilioSetUp() {
		m := ProviderMode{Provider: "twilio"}
		if t := c.Providers.Twilio; t.AccountSID == "" && t.AuthToken == "" {
			m.Dev = "no Twilio credentials"
		}
		out = append(out, m)
	}
	for i := range c.Providers.Other {
		s := &c.Providers.Other[i]
		sectionsMu.RLock()
		check := devChecks[s.Name]
		sectionsMu.RUnlock()
		m := ProviderMode{Provider: s.Name}
		if check != nil {
			m.Dev = check(c, s)
		}
		out = append(out, m)
	}
	return out
}

// DevMode reports whether every provider the config sets up runs in dev
// mode, so that nothing keyway does leaves it: then a short admin token
// is taken and the log defaults to debug. One live provider is enough for
// it to be false.
func (c *Config) DevMode() bool {
	for _, m := range c.ProviderModes() {
		if m.Dev == "" {
			return false
		}
	}
	return true
}

// ModeSummary says in a few words how the providers run: "live", "dev mode
// (no Twilio credentials)", or per provider when they differ or are
// several, e.g. "twilio live, vonage in dev mode (no Vonage credentials)".
func (c *Config) ModeSummary() string {
	modes := c.ProviderModes()
	if len(modes) == 1 {
		if modes[0].Dev != "" {
			return "dev mode (" + modes[0].Dev + ")"
		}
		return "live"
	}
	parts := make([]string, len(modes))
	for i, m := range modes {
		parts[i] = m.Provider + " live"
		if m.Dev != "" {
			parts[i] = m.Provider + " in dev mode (" + m.Dev + ")"
		}
	}
	return strings.Join(parts, ", ")
}
