// Package vonage is keyway's provider for the Vonage Messages API on the
// SMS channel: it verifies the signed JWT Vonage puts on its inbound and
// status webhooks, parses them, and sends through POST /v1/messages. Without
// credentials it runs in dev mode: webhooks are not verified and sends are
// logged instead of made.
//
//	providers:
//	  vonage:
//	    api_key: "${VONAGE_API_KEY}"
//	    api_secret: "${VONAGE_API_SECRET}"
//	    signature_secret: "${VONAGE_SIGNATURE_SECRET}"
//	    api_base_url: "https://api.nexmo.com"
//	    numbers:
//	      - { number: "+447700900123", channel: sms, mps: 30 }
package vonage

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Name is the provider's name and its key under providers.
const Name = "vonage"

// Webhook paths Vonage is pointed at (the application's Messages
// capability: Inbound URL and Status URL).
const (
	InboundPath = "/webhooks/vonage/inbound"
	StatusPath  = "/webhooks/vonage/status"
)

// DefaultAPIBaseURL is where sends go unless api_base_url says otherwise.
const DefaultAPIBaseURL = "https://api.nexmo.com"

// DefaultMPS is Vonage's default throughput of an account's outbound SMS
// API requests, per second.
const DefaultMPS = 30

// devNotice is the warning logged at start in dev mode.
const devNotice = "DEV MODE: no Vonage credentials. Vonage SMS are logged and stored, NOT sent; webhook JWTs are NOT checked. Set providers.vonage.api_key, api_secret and signature_secret for production."

// Settings are the keys of providers.vonage besides numbers.
type Settings struct {
	APIKey          string `yaml:"api_key"`
	APISecret       string `yaml:"api_secret"`
	SignatureSecret string `yaml:"signature_secret"`
	APIBaseURL      string `yaml:"api_base_url"`
}

// credentials are the keys Vonage needs to run live: the api key and
// secret send, the signature secret checks webhooks.
func (s Settings) credentials() []providers.Credential {
	return []providers.Credential{{Key: "api_key", Value: s.APIKey}, {Key: "api_secret", Value: s.APISecret}, {Key: "signature_secret", Value: s.SignatureSecret}}
}

func init() {
	providers.Register(providers.Registration{Name: Name, New: fromConfig, CheckConfig: check, DevMode: devMode})
	config.SetNumberDefaults(Name, config.ChannelSMS, DefaultMPS)
}

// check checks providers.vonage at load: all three credentials or none, an
// absolute api_base_url, and numbers on SMS.
func check(c *config.Config, s *config.ProviderSection) config.Problems {
	var set Settings
	ps := c.DecodeSection(s, &set)
	ps = append(ps, providers.CheckCredentials(c, s, set.credentials()...)...)
	ps = append(ps, providers.CheckAPIBaseURL(c, s, set.APIBaseURL)...)
	for i, n := range s.Numbers {
		path := s.Path + ".numbers[" + strconv.Itoa(i) + "]"
		if n.Channel != "" && n.Channel != config.ChannelSMS {
			ps = append(ps, c.Problemf(path+".channel", "%s: keyway sends through Vonage on sms only, not %q", path, n.Channel))
		}
	}
	return ps
}

// devMode says why the provider of section s runs in dev mode: with none of
// its api key, api secret and signature secret it cannot send nor check a
// JWT (some of them set and others empty is a problem that check reports).
func devMode(c *config.Config, s *config.ProviderSection) string {
	var set Settings
	_ = c.DecodeSection(s, &set) // check reports its problems
	if providers.NoCredential(set.credentials()...) {
		return "no Vonage credentials"
	}
	return ""
}

// Vonage is the Vonage Messages API provider (SMS). It is safe for
// concurrent use.
type Vonage struct {
	set    Settings
	dev    bool
	base   string // api_base_url without a trailing slash
	region string
	log    zerolog.Logger
	client *http.Client
	now    func() time.Time
}

// fromConfig builds the provider when the config has providers.vonage.
func fromConfig(cfg *config.Config, log zerolog.Logger) (providers.Provider, error) {
	set, _, ok, err := providers.DecodeSettings[Settings](cfg, Name)
	if !ok || err != nil {
		return nil, err
	}
	return New(set, cfg.Defaults.Region, log), nil
}

// New returns the provider for set. Without an api key, api secret or
// signature secret it runs in dev mode.
func New(set Settings, region string, log zerolog.Logger) *Vonage {
	if set.APIBaseURL == "" {
		set.APIBaseURL = DefaultAPIBaseURL
	}
	return &Vonage{
		set: set, dev: providers.LacksCredential(set.credentials()...),
		base: strings.TrimRight(set.APIBaseURL, "/"), region: region,
		log:    log.With().Str("provider", Name).Logger(),
		client: providers.NewAPIClient(15 * time.Second),
		now:    time.Now,
	}
}

// Name returns "vonage".
func (v *Vonage) Name() string { return Name }

// Routes returns the inbound and status webhooks. Vonage only looks at the
// status code of the answer.
func (v *Vonage) Routes() []providers.Route {
	return []providers.Route{
		{Method: http.MethodPost, Path: InboundPath, Kind: providers.RouteInbound, ContentType: "text/plain", Answer: "ok"},
		{Method: http.MethodPost, Path: StatusPath, Kind: providers.RouteStatus, ContentType: "text/plain", Answer: "ok"},
	}
}

// DevNotice returns the dev mode warning without credentials, else "".
func (v *Vonage) DevNotice() string {
	if v.dev {
		return devNotice
	}
	return ""
}

var _ providers.Provider = (*Vonage)(nil)
