package twilio

import (
	"net/http"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Webhook paths Twilio is pointed at (README "HTTP routes").
const (
	InboundPath = "/webhooks/twilio"
	StatusPath  = "/webhooks/twilio/status"
)

// emptyTwiML answers a webhook: keyway sends its replies through the REST
// API, never in the webhook's answer.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// devNotice is the warning logged at start in dev mode.
const devNotice = "DEV MODE: no Twilio credentials. Outbound messages are logged and stored, NOT sent; webhook signatures are NOT checked. Set providers.twilio.account_sid and auth_token for production."

func init() {
	providers.Register(providers.Registration{Name: Name, New: fromConfig})
}

// fromConfig builds the provider from providers.twilio. Twilio is always
// set up: without credentials it runs in dev mode.
func fromConfig(cfg *config.Config, log zerolog.Logger) (providers.Provider, error) {
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
