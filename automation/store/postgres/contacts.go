package postgres

import (
	"errors"
	"fmt"
	"slices"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Contact implements engine.Tx. In an Update it first takes the contact's
// lock.
func (t *pgTx) Contact(phone string) (*engine.Contact, error) {
	if err := t.lockContact(phone); err != nil {
		return nil, err
	}
	var c engine.Contact
	var err error
	if t.writable {
		var raw []byte
		raw, err = t.readContact(phone)
		switch {
		case err == nil && raw == nil:
			err = fmt.Errorf("postgres: contact %q: %w", config.MaskAddress(phone), engine.ErrNotFound)
		case err == nil:
			if err := decodeJSON(raw, &c); err != nil {
				return nil, fmt.Errorf("postgres: decode contact %q: %w", config.MaskAddress(phone), err)
			}
		}
	} else if raw, ok := t.contacts[phone]; ok { // ReadAhead read it
		if raw == nil {
			return nil, fmt.Errorf("postgres: contact %q: %w", config.MaskAddress(phone), engine.ErrNotFound)
		}
		if err := decodeJSON(raw, &c); err != nil {
			return nil, fmt.Errorf("postgres: decode contact %q: %w", config.MaskAddress(phone), err)
		}
		return &c, nil
	} else {
		err = t.getJSON(&c, "contact", config.MaskAddress(phone), `SELECT data FROM contacts WHERE phone = $1`, phone)
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		t.remember(phone, nil)
		return nil, err
	case err != nil:
		return nil, err
	}
	t.remember(phone, &c)
	return &c, nil
}

// contactIndexes are the tables kept from a contact's lists, in the
// transaction that stores it: del removes the contact's rows not among
// the names ($1 phone, $2 names), add adds them.
var contactIndexes = [...]struct {
	what     string
	names    func(c *engine.Contact) []string
	del, add string
}{
	{"groups", func(c *engine.Contact) []string { return c.Groups },
		`DELETE FROM contact_groups WHERE phone = $1 AND NOT (grp = ANY($2))`,
		`INSERT INTO contact_groups (grp, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`},
	// Tags as the record reads them back (engine.RecordText).
	{"tags", func(c *engine.Contact) []string { return engine.RecordTexts(c.Tags) },
		`DELETE FROM contact_tags WHERE phone = $1 AND NOT (tag = ANY($2))`,
		`INSERT INTO contact_tags (tag, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`},
	{"left groups", func(c *engine.Contact) []string { return c.LeftGroups },
		`DELETE FROM contact_left_groups WHERE phone = $1 AND NOT (grp = ANY($2))`,
		`INSERT INTO contact_left_groups (grp, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`},
}

// remember notes, in an Update, what the contact with phone has in each
// index table as the transaction read it under the contact's lock (nil:
// no contact), so that PutContact leaves the tables alone when its lists
// did not change, as in most turns.
func (t *pgTx) remember(phone string, c *engine.Contact) {
	if !t.writable {
		return
	}
	if t.indexed == nil {
		t.indexed = map[string][len(contactIndexes)][]string{}
	}
	var names [len(contactIndexes)][]string
	if c != nil {
		for i, ix := range contactIndexes {
			names[i] = slices.Clone(ix.names(c))
		}
	}
	t.indexed[phone] = names
}

// PutContact implements engine.Tx; it keeps the index tables
// (contactIndexes).
func (t *pgTx) PutContact(c *engine.Contact) error {
	if !t.writable {
		return errReadOnly
	}
	if c.Phone == "" {
		return errors.New("postgres: put contact: no phone")
	}
	data, err := encode("contact", c)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO contacts (phone, data) VALUES ($1, $2)
		ON CONFLICT (phone) DO UPDATE SET data = EXCLUDED.data`, c.Phone, data); err != nil {
		return fmt.Errorf("postgres: put contact %s: %w", config.MaskAddress(c.Phone), err)
	}
	known, read := t.indexed[c.Phone]
	for i, ix := range contactIndexes {
		names := ix.names(c)
		if read && slices.Equal(known[i], names) {
			continue
		}
		if err := t.reindex(c.Phone, names, ix.del, ix.add); err != nil {
			return fmt.Errorf("postgres: put contact %s: %s: %w", config.MaskAddress(c.Phone), ix.what, err)
		}
	}
	t.remember(c.Phone, c)
	return nil
}

// reindex keeps phone's rows of an index table in step with names: del
// removes those not among them ($1 phone, $2 names), add adds them.
func (t *pgTx) reindex(phone string, names []string, del, add string) error {
	if names == nil {
		names = []string{}
	}
	if err := t.exec(del, phone, names); err != nil {
		return err
	}
	return t.exec(add, phone, names)
}

// ContactsInGroup implements engine.Tx.
func (t *pgTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	if limit <= 0 {
		return nil, nil
	}
	return listJSON[engine.Contact](t, "group members", `SELECT c.data FROM contact_groups g JOIN contacts c ON c.phone = g.phone
		WHERE g.grp = $1 AND g.phone > $2 ORDER BY g.phone LIMIT $3`, group, after, int64(limit))
}

// ContactsWithTag implements engine.Tx.
func (t *pgTx) ContactsWithTag(tag, after string, limit int) ([]*engine.Contact, error) {
	if limit <= 0 {
		return nil, nil
	}
	return listJSON[engine.Contact](t, "tagged contacts", `SELECT c.data FROM contact_tags g JOIN contacts c ON c.phone = g.phone
		WHERE g.tag = $1 AND g.phone > $2 ORDER BY g.phone LIMIT $3`, engine.RecordText(tag), after, int64(limit))
}

// ContactsLeftGroup implements engine.Tx.
func (t *pgTx) ContactsLeftGroup(group, after string, limit int) ([]*engine.Contact, error) {
	if limit <= 0 {
		return nil, nil
	}
	return listJSON[engine.Contact](t, "contacts that left a group", `SELECT c.data FROM contact_left_groups g JOIN contacts c ON c.phone = g.phone
		WHERE g.grp = $1 AND g.phone > $2 ORDER BY g.phone LIMIT $3`, group, after, int64(limit))
}

// ContactsPage implements engine.Tx: contacts after the phone given, in
// phone order (the primary key's), all of them when limit is 0.
func (t *pgTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	return listJSON[engine.Contact](t, "contacts", `SELECT data FROM contacts WHERE phone > $1 ORDER BY phone LIMIT $2`, after, limitArg(limit))
}
