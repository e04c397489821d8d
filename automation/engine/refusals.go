package engine

import (
	"context"
	"fmt"
)

// CloseWindow records that the provider refused a free-form message to
// phone on channel as outside the WhatsApp 24-hour window (it knows better
// than keyway when the contact last wrote): the window counts as closed
// until the contact writes again, so that what is sent next takes the
// window's path (its template, or on_error).
func (e *Engine) CloseWindow(ctx context.Context, phone, channel string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		t, err := x.turn(phone)
		if err != nil {
			return err
		}
		delete(t.contact.LastInbound, channel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: close the window of a contact: %w", err)
	}
	return nil
}

// StopMarketing records that the provider refused a message to phone
// because the contact stopped messages that do not answer its own:
// automated messages that do not answer a message it has just sent are
// suppressed from now on (Contact.NoMarketing), until it sends an opt-in
// word.
func (e *Engine) StopMarketing(ctx context.Context, phone string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		t, err := x.turn(phone)
		if err != nil {
			return err
		}
		t.contact.NoMarketing = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: stop messages that are not answers to a contact: %w", err)
	}
	return nil
}
