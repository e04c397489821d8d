package twilio

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Webhook paths Twilio is pointed at (README "HTTP routes").
const (
	InboundPath = "/webhooks/twilio"
	StatusPath  = "/webhooks/twilio/status"
)

// emptyTwiML answers a webhook, as the README says it does (the XML
// declaration is optional in TwiML): keyway sends its replies through the REST
// API, never in the webhook's answer.
const emptyTwiML = `<Response/>`

// devNotice is the warning logged at start in dev mode.
const devNotice = "DEV MODE: no Twilio credentials. Outbound messages are logged and stored, NOT sent; webhook signatures are NOT checked. Set providers.twilio.account_sid and auth_token for production."

func init() {
	providers.Register(providers.Registration{Name: Name, New: fromConfig, Templates: config.TemplatesByContentSID})
}

// fromConfig builds the provider from providers.twilio, unless the config
// leaves Twilio out (no credentials nor numbers beside another provider):
// without credentials it runs in dev mode.
func fromConfig(cfg *config.Config, log zerolog.Logger) (providers.Provider, error) {
	if !cfg.TwilioSetUp() {
		return nil, nil
	}
	return New(cfg.Providers.Twilio, cfg.Defaults.Region, log)
}

// Routes returns Twilio's two webhooks, both answered with an empty TwiML
// document.
func (t *Twilio) Routes() []providers.Route {
	return []providers.Route{
		{Method: http.MethodPost, Path: InboundPath, Kind: providers.RouteInbound, ContentType: "text/xml", Answer: emptyTwiML},
		{Method: http.MethodPost, Path: StatusPath, Kind: providers.RouteStatus, ContentType: "text/xml", Answer: emptyTwiML},
	}
}

// DevNotice returns the dev mode warning without credentials, else "".
func (t *Twilio) DevNotice() string {
	if t.dev {
		return devNotice
	}
	return ""
}

// Parse verifies and parses a request on one of Twilio's routes: a message
// on the inbound route, a delivery status on the status route. Twilio sends
// one of either per request.
func (t *Twilio) Parse(route providers.Route, r *providers.Request) (providers.Batch, error) {
	switch route.Kind {
	case providers.RouteInbound:
		in, err := t.ParseInbound(r)
		if err != nil {
			return providers.Batch{}, err
		}
		return providers.Batch{Messages: []providers.Inbound{in}}, nil
	case providers.RouteStatus:
		s, err := t.ParseStatus(r)
		if err != nil {
			return providers.Batch{}, err
		}
		return providers.Batch{Statuses: []providers.Status{s}}, nil
	}
	return providers.Batch{}, fmt.Errorf("twilio: no webhook of kind %q", route.Kind)
}

// ConsoleURL returns the page of the message with sid id in the Twilio
// console's messaging logs, or "" in dev mode or for an id that is not a
// message sid (SM… or MM…).
func (t *Twilio) ConsoleURL(id string) string {
	if t.dev || len(id) != 34 || (!strings.HasPrefix(id, "SM") && !strings.HasPrefix(id, "MM")) {
		return ""
	}
	return "https://www.twilio.com/console/sms/logs/" + url.PathEscape(t.accountSID) + "/" + url.PathEscape(id)
}

var _ providers.ConsoleLinker = (*Twilio)(nil)
