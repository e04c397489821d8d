package providers

import (
	"fmt"
	"strings"

	"github.com/keyway-sms/keyway/config"
)

// DecodeSettings decodes the keys of providers.<name> in cfg other than
// numbers into a T (see config.DecodeSection). ok is false when cfg has no
// such section; err names the provider.
func DecodeSettings[T any](cfg *config.Config, name string) (set T, s *config.ProviderSection, ok bool, err error) {
	s, ok = cfg.Providers.Section(name)
	if !ok {
		return set, nil, false, nil
	}
	if err := cfg.DecodeSection(s, &set).Err(); err != nil {
		return set, s, true, fmt.Errorf("%s: %w", name, err)
	}
	return set, s, true, nil
}

// CheckAPIBaseURL returns the problem of api_base_url raw in section s:
// none when it is empty (the provider's default) or an absolute http(s)
// URL without credentials, a query or a fragment.
func CheckAPIBaseURL(c *config.Config, s *config.ProviderSection, raw string) config.Problems {
	if raw == "" {
		return nil
	}
	if why := config.APIBaseURLProblem(raw); why != "" {
		return config.Problems{c.Problemf(s.Path+".api_base_url", "%s.api_base_url: %q %s", s.Path, raw, why)}
	}
	return nil
}

// Credential is one key of a provider section that the provider needs to
// run live, and its value.
type Credential struct{ Key, Value string }

// CheckCredentials returns the problem of section s when some of creds are
// set and others empty: a provider runs live with all of them, or in dev
// mode with none. The problem stands at the first empty one.
func CheckCredentials(c *config.Config, s *config.ProviderSection, creds ...Credential) config.Problems {
	var set, empty []string
	for _, k := range creds {
		if k.Value == "" {
			empty = append(empty, k.Key)
		} else {
			set = append(set, k.Key)
		}
	}
	if len(set) == 0 || len(empty) == 0 {
		return nil
	}
	return config.Problems{c.Problemf(s.Path+"."+empty[0], "%s: %s set but %s empty: set them all for production, or none for dev mode",
		s.Path, strings.Join(set, " and "), strings.Join(empty, " and "))}
}

// NoCredential reports whether every one of creds is empty: the section is
// meant for dev mode (see config.DevCheck). Some set and others empty is a
// problem that CheckCredentials reports.
func NoCredential(creds ...Credential) bool {
	for _, k := range creds {
		if k.Value != "" {
			return false
		}
	}
	return true
}

// LacksCredential reports whether any of creds is empty: then the provider
// runs in dev mode.
func LacksCredential(creds ...Credential) bool {
	for _, k := range creds {
		if k.Value == "" {
			return true
		}
	}
	return false
}
