// Package meta is keyway's provider for the WhatsApp Cloud API, Meta's own
// WhatsApp Business API: it answers Meta's webhook verification handshake,
// verifies and parses the webhooks Meta posts (several messages and
// statuses in one request), and sends through the Graph API. Without an app
// secret and an access token it runs in dev mode: signatures are not
// checked and sends are logged instead of made.
//
//	providers:
//	  meta:
//	    app_secret: "${META_APP_SECRET}"
//	    verify_token: "${META_VERIFY_TOKEN}"
//	    access_token: "${META_ACCESS_TOKEN}"
//	    api_base_url: "https://graph.facebook.com/v21.0"
//	    numbers:
//	      - { number: "+15550001234", phone_number_id: "106540352242922", mps: 80 }
package meta

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Name is the provider's name and its key under providers.
const Name = "meta"

// Path is the webhook Meta is pointed at: GET for the handshake, POST for
// messages and statuses.
const Path = "/webhooks/meta"

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the raw
// body, keyed with the app secret.
const SignatureHeader = "X-Hub-Signature-256"

// DefaultAPIBaseURL is the Graph API version keyway speaks unless
// api_base_url says otherwise.
const DefaultAPIBaseURL = "https://graph.facebook.com/v21.0"

// DefaultMPS is Meta's default throughput of a business phone number.
const DefaultMPS = 80

// devNotice is the warning logged at start in dev mode.
const devNotice = "DEV MODE: no Meta app secret or access token. WhatsApp Cloud API messages are logged and stored, NOT sent; webhook signatures are NOT checked. Set providers.meta.app_secret and access_token for production."

// Settings are the keys of providers.meta besides numbers.
type Settings struct {
	AppSecret   string `yaml:"app_secret"`
	VerifyToken string `yaml:"verify_token"`
	AccessToken string `yaml:"access_token"`
	APIBaseURL  string `yaml:"api_base_url"`
}

// credentials are the keys Meta needs to run live: the app secret checks
// webhooks, the access token sends.
func (s Settings) credentials() []providers.Credential {
	return []providers.Credential{{Key: "app_secret", Value: s.AppSecret}, {Key: "access_token", Value: s.AccessToken}}
}

func init() {
	providers.Register(providers.Registration{Name: Name, New: fromConfig, CheckConfig: check, DevMode: devMode, Templates: config.TemplatesByName})
	config.SetNumberDefaults(Name, config.ChannelWhatsApp, DefaultMPS)
}

// check checks providers.meta at load: both credentials or neither, an
// absolute api_base_url, a verify token when live (a warning), and numbers
// on WhatsApp with a phone_number_id.
func check(c *config.Config, s *config.ProviderSection) config.Problems {
	var set Settings
	ps := c.DecodeSection(s, &set)
	ps = append(ps, providers.CheckCredentials(c, s, set.credentials()...)...)
	ps = append(ps, providers.CheckAPIBaseURL(c, s, set.APIBaseURL)...)
	if set.VerifyToken == "" && !providers.LacksCredential(set.credentials()...) {
		ps = append(ps, c.Warningf(s.Path, "%s.verify_token is empty: Meta's webhook handshake (GET %s) is refused until you set one, so Meta cannot be pointed at keyway", s.Path, Path))
	}
	ids := map[string]string{}
	for i, n := range s.Numbers {
		path := s.Path + ".numbers[" + itoa(i) + "]"
		if n.Channel != config.ChannelWhatsApp {
			ps = append(ps, c.Problemf(path+".channel", "%s: the WhatsApp Cloud API sends on whatsapp only, not %q", path, n.Channel))
		}
		switch first, dup := ids[n.PhoneNumberID]; {
		case strings.TrimSpace(n.PhoneNumberID) == "":
			ps = append(ps, c.Problemf(path, "%s: missing phone_number_id (WhatsApp Manager > Phone numbers, or the API Setup page of the Meta app)", path))
		case dup:
			ps = append(ps, c.Problemf(path+".phone_number_id", "%s: duplicate phone_number_id %q (first at %s)", path, n.PhoneNumberID, first))
		default:
			ids[n.PhoneNumberID] = path
		}
	}
	return ps
}

// devMode says why the provider of section s runs in dev mode: with neither
// an app secret to check webhooks nor an access token to send (one without
// the other is a problem that check reports).
func devMode(c *config.Config, s *config.ProviderSection) string {
	var set Settings
	_ = c.DecodeSection(s, &set) // check reports its problems
	if providers.NoCredential(set.credentials()...) {
		return "no Meta app secret or access token"
	}
	return ""
}

// Meta is the WhatsApp Cloud API provider. It is safe for concurrent use.
type Meta struct {
	set    Settings
	dev    bool
	base   string            // api_base_url without a trailing slash
	ids    map[string]string // our number (E.164) → phone_number_id
	byID   map[string]string // phone_number_id → our number
	region string
	log    zerolog.Logger
	client *http.Client
}

// fromConfig builds the provider when the config has providers.meta.
func fromConfig(cfg *config.Config, log zerolog.Logger) (providers.Provider, error) {
	set, s, ok, err := providers.DecodeSettings[Settings](cfg, Name)
	if !ok || err != nil {
		return nil, err
	}
	return New(set, s.Numbers, cfg.Defaults.Region, log), nil
}

// New returns the provider for set and numbers. Without an app secret or an
// access token it runs in dev mode.
func New(set Settings, numbers []config.Number, region string, log zerolog.Logger) *Meta {
	if set.APIBaseURL == "" {
		set.APIBaseURL = DefaultAPIBaseURL
	}
	m := &Meta{
		set: set, dev: providers.LacksCredential(set.credentials()...),
		base: strings.TrimRight(set.APIBaseURL, "/"), ids: map[string]string{}, byID: map[string]string{},
		region: region, log: log.With().Str("provider", Name).Logger(),
		client: providers.NewAPIClient(15 * time.Second),
	}
	for _, n := range numbers {
		m.ids[n.Number] = n.PhoneNumberID
		m.byID[n.PhoneNumberID] = n.Number
	}
	return m
}

// Name returns "meta".
func (m *Meta) Name() string { return Name }

// Routes returns the handshake and the webhook, on one path.
func (m *Meta) Routes() []providers.Route {
	return []providers.Route{
		{Method: http.MethodGet, Path: Path, Kind: providers.RouteVerify, ContentType: "text/plain"},
		{Method: http.MethodPost, Path: Path, Kind: providers.RouteInbound, ContentType: "text/plain", Answer: "ok"},
	}
}

// DevNotice returns the dev mode warning without credentials, else "".
func (m *Meta) DevNotice() string {
	if m.dev {
		return devNotice
	}
	return ""
}

// MediaURL is where keyway fetches the media with id, with the access
// token as a bearer token: the Graph API answers with the media's
// details, its download url among them.
func (m *Meta) MediaURL(id string) string { return m.base + "/" + url.PathEscape(id) }

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

var _ providers.Provider = (*Meta)(nil)
