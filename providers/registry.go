package providers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
)

// RouteKind says what a provider's webhook carries.
type RouteKind string

// The kinds of webhook a provider may declare.
const (
	// RouteInbound carries messages from contacts, and may carry delivery
	// statuses too (Meta sends both on one route).
	RouteInbound RouteKind = "inbound"
	// RouteStatus carries delivery status reports. The first such route
	// of a provider is the status callback its sends ask for, with
	// keyway's message id in the query as msg.
	RouteStatus RouteKind = "status"
	// RouteVerify is a verification handshake (Meta's GET with
	// hub.challenge): Parse returns the answer in Batch.Answer.
	RouteVerify RouteKind = "verify"
)

// Route is one webhook a provider declares. The gateway mounts it, answers
// 413 to a body over server.max_body_bytes, and otherwise answers as
// WebhookStatus says of the error ParseWebhook returns: 401 to a request
// whose error wraps ErrUnauthorized, 403 to one wrapping ErrSignature, 400
// to one wrapping ErrMalformed, and a request it took with 200,
// ContentType and Answer (or Batch.Answer).
type Route struct {
	Method string // e.g. http.MethodPost
	Path   string // e.g. "/webhooks/twilio"
	Kind   RouteKind
	// ContentType and Answer are the answer to a request the gateway took
	// (Twilio: text/xml and an empty TwiML <Response/>).
	ContentType string
	Answer      string
}

// Registration declares a provider to keyway. A provider package calls
// Register with it from its init, as courier's handlers do, and the
// command imports the package for that side effect alone:
//
//	func init() {
//		providers.Register(providers.Registration{Name: "acme", New: newFromConfig, CheckConfig: check})
//	}
type Registration struct {
	// Name is the provider's key under providers in the config, and its
	// Provider's Name.
	Name string
	// New builds the provider from the config, or returns nil when the
	// config does not set it up (then nothing of it is mounted).
	New func(cfg *config.Config, log zerolog.Logger) (Provider, error)
	// CheckConfig checks the keys of the provider's config section other
	// than its numbers (see config.ProviderSection); nil for a section of
	// numbers only, and for Twilio, whose section config types itself.
	CheckConfig config.SectionCheck
	// DevMode says why the provider would run in dev mode on its section
	// (its credentials are empty), or "" when it would run live, so that
	// validate and serve can say which provider runs how before building
	// it; nil for a provider that always runs live, and for Twilio, whose
	// section config types itself.
	DevMode config.DevCheck
	// Templates is how the provider's numbers send WhatsApp templates;
	// zero for a provider that sends none.
	Templates config.TemplateForm
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Registration{}
)

// Register adds a provider and declares its key under providers to the
// config. It panics on a registration without a name or New, and on a
// name registered twice.
func Register(r Registration) {
	if r.Name == "" || r.New == nil {
		panic(fmt.Sprintf("providers: Register needs a Name and New, got %+v", r))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[r.Name]; dup {
		panic(fmt.Sprintf("providers: %q registered twice", r.Name))
	}
	config.RegisterProvider(r.Name, r.CheckConfig)
	if r.DevMode != nil {
		config.SetDevCheck(r.Name, r.DevMode)
	}
	if r.Templates != config.TemplatesNone {
		config.SetTemplateForm(r.Name, r.Templates)
	}
	registry[r.Name] = r
}

// Registered returns the names of the registered providers, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Build builds every registered provider that cfg sets up, by name, and
// checks the routes they declare.
func Build(cfg *config.Config, log zerolog.Logger) ([]Provider, error) {
	var out []Provider
	for _, name := range Registered() {
		registryMu.RLock()
		r := registry[name]
		registryMu.RUnlock()
		p, err := r.New(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("providers: %s: %w", name, err)
		}
		if p == nil {
			continue
		}
		if p.Name() != name {
			return nil, fmt.Errorf("providers: %s built a provider named %q", name, p.Name())
		}
		out = append(out, p)
	}
	if err := CheckRoutes(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckRoutes checks the routes of ps: each has a method, a path starting
// with "/" and a known kind, and no two providers claim the same method and
// path.
func CheckRoutes(ps []Provider) error {
	seen := map[string]string{} // method and path → provider
	for _, p := range ps {
		for _, r := range p.Routes() {
			key := r.Method + " " + r.Path
			switch {
			case r.Method == "" || strings.ToUpper(r.Method) != r.Method:
				return fmt.Errorf("providers: %s: route %q: method must be upper case, e.g. POST", p.Name(), key)
			case !strings.HasPrefix(r.Path, "/"):
				return fmt.Errorf("providers: %s: route %q: path must start with /", p.Name(), key)
			case r.Kind != RouteInbound && r.Kind != RouteStatus && r.Kind != RouteVerify:
				return fmt.Errorf("providers: %s: route %q: unknown kind %q", p.Name(), key, r.Kind)
			}
			if other, dup := seen[key]; dup {
				return fmt.Errorf("providers: %s and %s both declare %s", other, p.Name(), key)
			}
			seen[key] = p.Name()
		}
	}
	return nil
}

// StatusRoute returns the first route of p of kind RouteStatus, and whether
// it has one.
func StatusRoute(p Provider) (Route, bool) {
	for _, r := range p.Routes() {
		if r.Kind == RouteStatus {
			return r, true
		}
	}
	return Route{}, false
}

// ParseWebhook parses a request on route of p, as the gateway and the
// provider test harness both do: p's Parse, then, on a status route, the
// keyway message id that the status callback's query carries as msg on
// each status that has none.
func ParseWebhook(p Provider, route Route, r *Request) (Batch, error) {
	if r == nil {
		return Batch{}, fmt.Errorf("providers: %s: no request: %w", p.Name(), ErrMalformed)
	}
	b, err := p.Parse(route, r)
	if err != nil {
		return Batch{}, err
	}
	if route.Kind == RouteStatus {
		if u, err := url.Parse(r.URL); err == nil {
			if id := u.Query().Get("msg"); id != "" {
				for i := range b.Statuses {
					if b.Statuses[i].MessageID == "" {
						b.Statuses[i].MessageID = id
					}
				}
			}
		}
	}
	return b, nil
}

// WebhookStatus is the HTTP status a webhook is answered with when parsing
// it returned err: 200 for nil, 401 for a bad or missing bearer token, 403
// for any other bad or missing signature, 400 for a malformed request, 500
// otherwise.
func WebhookStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrSignature):
		return http.StatusForbidden
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// WebhookRefusal is the body a webhook is answered with when parsing it
// returned err (not nil): what is wrong in words the caller may read,
// after the status's name, e.g. "forbidden: the verify token does not
// match". It never holds the error's own text, which names numbers and
// ids.
func WebhookRefusal(err error) string {
	switch {
	case errors.Is(err, ErrVerifyToken):
		return "forbidden: the verify token does not match"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized: bad or missing token"
	case errors.Is(err, ErrSignature):
		return "forbidden: bad or missing signature"
	case errors.Is(err, ErrNotHandshake):
		return "bad request: not a subscription handshake"
	case errors.Is(err, ErrMalformed):
		return "bad request: malformed request"
	}
	return "internal error"
}
