package engine

import (
	"context"
	"fmt"
	"strings"
)

// ContactChange is one contact's change in a batch (a CSV import's row):
// the contact's phone (its key) and the update, as UpdateContact takes.
type ContactChange struct {
	Phone  string
	Update ContactUpdate
}

// ContactOutcome is what became of one ContactChange: whether the contact
// was created, or why the change was refused (ErrOptInRefused), the other
// changes of the batch going ahead.
type ContactOutcome struct {
	Created bool
	Err     error
}

// UpdateContacts applies changes in one transaction, in order, by the
// rules of UpdateContact (a contact that opted out itself is not opted
// back in without Force and a Reason: that change alone is refused, and
// nothing of it is written). Each change is an upsert of what it says, so
// applying a batch again changes nothing more. The caller keeps batches to
// a few hundred changes, so that a commit stays short, and checks that
// fields and groups are declared.
func (e *Engine) UpdateContacts(ctx context.Context, changes []ContactChange) ([]ContactOutcome, error) {
	out, err := transactValue(ctx, e, nil, func(x *unitOfWork) ([]ContactOutcome, error) {
		out := make([]ContactOutcome, len(changes))
		for i, ch := range changes {
			var c *Contact
			if t, ok := x.turns[ch.Phone]; ok {
				c = t.contact
			} else {
				stored, err := x.tx.Contact(ch.Phone)
				switch {
				case isNotFound(err):
					out[i].Created = true
				case err != nil:
					return nil, err
				}
				c = stored
			}
			if c != nil && refusesOptIn(c, ch.Update) {
				out[i].Err = ErrOptInRefused
				continue
			}
			t, err := x.turn(ch.Phone)
			if err != nil {
				return nil, err
			}
			if err := e.applyUpdate(t, ch.Update, "opted out by a contacts import"); err != nil {
				return nil, err
			}
			t.contact.Imported = &Imported{At: t.now, By: ActorOf(ctx)}
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("engine: update contacts: %w", err)
	}
	return out, nil
}

// refusesOptIn reports whether u would opt c back in although c opted
// out itself, without Force and a Reason.
func refusesOptIn(c *Contact, u ContactUpdate) bool {
	return u.OptedOut != nil && !*u.OptedOut && c.OptedOut && !c.OptedOutByAdmin && (!u.Force || strings.TrimSpace(u.Reason) == "")
}
