package automation

import (
	"context"
	"fmt"

	"github.com/keyway-sms/keyway/providers"
)

// statusRank orders delivery statuses so that a late callback never
// moves a message back (a "sent" arriving after "delivered").
var statusRank = map[string]int{
	StatusQueued: 1, "accepted": 1, "scheduled": 1, "sending": 2, StatusSent: 3,
	"delivered": 4, "read": 5, "undelivered": 4, StatusFailed: 4,
}

// UpdateStatus records a provider's delivery status report on the outbound
// message it is about. It reports false when no such message is stored.
func (e *Engine) UpdateStatus(ctx context.Context, provider string, s providers.Status) (bool, error) {
	found := false
	err := e.store.Update(ctx, func(tx Tx) error {
		found = false
		m, err := tx.MessageByProviderID(provider, s.ProviderID)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if statusRank[s.Status] < statusRank[m.Status] {
			return nil
		}
		m.Status, m.UpdatedAt = s.Status, e.clock.Now()
		if s.ErrorCode != 0 {
			m.ErrorCode, m.Error = s.ErrorCode, s.ErrorMessage
			if m.Error == "" {
				m.Error = fmt.Sprintf("provider error %d", s.ErrorCode)
			}
		}
		if s.ErrorCode == 21610 {
			if err := markOptedOut(tx, m.Contact, m.UpdatedAt); err != nil {
				return err
			}
		}
		return tx.PutMessage(m)
	})
	if err != nil {
		return false, fmt.Errorf("automation: status of %s: %w", s.ProviderID, err)
	}
	return found, nil
}
