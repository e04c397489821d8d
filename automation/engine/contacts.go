package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrOptInRefused is returned by UpdateContact when asked to opt in a
// contact that opted out itself (a STOP word, an unsubscribe step or its
// provider) without Force and a Reason.
var ErrOptInRefused = errors.New("the contact opted out itself: opting it back in needs \"force\": true and a \"reason\"")

// ContactUpdate is an admin's change to a contact (the admin API's PUT, for
// importing lists). A nil or absent part leaves the contact's own.
type ContactUpdate struct {
	// Name replaces the name.
	Name *string
	// Fields sets each field given; an empty value removes it.
	Fields map[string]string
	// Groups replaces the groups; joining one the contact had left lets
	// scheduled sends to it reach the contact again.
	Groups *[]string
	// Tags replaces the tags.
	Tags *[]string
	// OptedOut opts the contact out (its enrollments end) or back in.
	OptedOut *bool
	// Force and Reason let an admin opt in a contact that opted out
	// itself; the reason is recorded on the contact.
	Force  bool
	Reason string
	// Channel, when set ("whatsapp" for a key written "whatsapp:+1555…"),
	// is the channel a contact that never wrote is reached on; a contact
	// that wrote keeps the channel it last wrote on.
	Channel string
}

// UpdateContact creates or changes the contact with phone as u says, in
// one transaction, and returns it and whether it was created. The caller
// checks that fields and groups are declared.
func (e *Engine) UpdateContact(ctx context.Context, phone string, u ContactUpdate) (*Contact, bool, error) {
	type updated struct {
		contact Contact
		created bool
	}
	res, err := transactValue(ctx, e, nil, func(x *unitOfWork) (updated, error) {
		_, err := x.tx.Contact(phone)
		created := isNotFound(err)
		if err != nil && !created {
			return updated{}, err
		}
		t, err := x.turn(phone)
		if err != nil {
			return updated{}, err
		}
		if err := e.applyUpdate(t, u, "opted out through the admin API"); err != nil {
			return updated{}, err
		}
		c := *t.contact
		c.UpdatedAt = x.now // as transact stamps the stored contact
		return updated{contact: c, created: created}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("engine: update contact: %w", err)
	}
	return &res.contact, res.created, nil
}

// applyUpdate applies u to the turn's contact; an opt-out it makes is
// recorded with optOutReason (how the admin made it).
func (e *Engine) applyUpdate(t *turn, u ContactUpdate, optOutReason string) error {
	c := t.contact
	if refusesOptIn(c, u) {
		return ErrOptInRefused
	}
	if u.OptedOut != nil && !*u.OptedOut && c.OptedOut && !c.OptedOutByAdmin {
		c.ForcedOptIn = &ForcedOptIn{At: t.now, Reason: u.Reason}
	}
	if u.Channel != "" && c.Channel == "" {
		c.Channel = u.Channel
	}
	if u.Name != nil {
		c.Name = *u.Name
	}
	for k, v := range u.Fields {
		if v == "" {
			delete(c.Fields, k)
			continue
		}
		if c.Fields == nil {
			c.Fields = map[string]string{}
		}
		c.Fields[k] = v
	}
	if u.Groups != nil {
		c.Groups = slices.Clone(*u.Groups)
		c.LeftGroups = slices.DeleteFunc(c.LeftGroups, c.InGroup)
	}
	if u.Tags != nil {
		c.Tags = slices.Clone(*u.Tags)
	}
	switch {
	case u.OptedOut == nil || *u.OptedOut == c.OptedOut:
	case *u.OptedOut:
		if err := e.optOutContact(t, optOutReason, nil); err != nil {
			return err
		}
		c.OptedOutByAdmin = true
	default:
		return e.liftOptOut(t, nil)
	}
	return nil
}
