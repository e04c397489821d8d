package gateway

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/email"
)

// newMailer returns the SMTP mailer for forward_to_email, or nil when
// email.smtp is not set (emails then fail with a recorded reason). In dev
// mode (a provider without credentials) nothing leaves the gateway: emails
// are logged and stored like texts, not sent.
func newMailer(cfg *config.Config, dev bool, log zerolog.Logger) (providers.Mailer, error) {
	if cfg.Email.SMTP == nil {
		return nil, nil
	}
	if dev {
		log.Warn().Msg("dev mode: emails are logged and stored, not sent to email.smtp")
		return devMailer{log: log}, nil
	}
	m, err := email.New(*cfg.Email.SMTP, log)
	if err != nil {
		return nil, fmt.Errorf("email.smtp: %w", err)
	}
	return m, nil
}

// devMailer logs emails instead of sending them, for dev mode.
type devMailer struct{ log zerolog.Logger }

// Mail logs e: its recipients masked, its subject and body at debug level.
func (d devMailer) Mail(_ context.Context, e providers.Email) error {
	d.log.Info().Str("msg_id", e.ID).Str("to", email.MaskAll(e.To)).Msg("dev mode: email not sent")
	d.log.Debug().Str("msg_id", e.ID).Str("subject", e.Subject).Str("body", e.Body).Msg("dev mode: email")
	return nil
}
