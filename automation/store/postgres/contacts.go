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

// remember notes, in an Update, the groups, tags and left groups of the
// contact with phone as the transaction read them under the contact's
// lock (nil: no contact), so that PutContact leaves the indexes alone
// when they did not change, as in most turns. Tags are kept as the record
// reads them back (engine.RecordText), as the tag index has them.
func (t *pgTx) remember(phone string, c *engine.Contact) {
	if !t.writable {
		return
	}
	if t.groups == nil {
		t.groups, t.tags, t.left = map[string][]string{}, map[string][]string{}, map[string][]string{}
	}
	var groups, tags, left []string
	if c != nil {
		groups, tags, left = slices.Clone(c.Groups), slices.Clone(engine.RecordTexts(c.Tags)), slices.Clone(c.LeftGroups)
	}
	t.groups[phone], t.tags[phone], t.left[phone] = groups, tags, left
}

// PutContact implements engine.Tx; it keeps the group, tag and left-group
// indexes.
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
	tags := engine.RecordTexts(c.Tags)
	groupsKnown, tagsKnown, leftKnown := false, false, false
	if known, ok := t.groups[c.Phone]; ok {
		groupsKnown = slices.Equal(known, c.Groups)
		tagsKnown = slices.Equal(t.tags[c.Phone], tags)
		leftKnown = slices.Equal(t.left[c.Phone], c.LeftGroups)
	}
	if !groupsKnown {
		err := t.reindex(c.Phone, c.Groups,
			`DELETE FROM contact_groups WHERE phone = $1 AND NOT (grp = ANY($2))`,
			`INSERT INTO contact_groups (grp, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("postgres: put contact %s: groups: %w", config.MaskAddress(c.Phone), err)
		}
	}
	if !tagsKnown {
		err := t.reindex(c.Phone, tags,
			`DELETE FROM contact_tags WHERE phone = $1 AND NOT (tag = ANY($2))`,
			`INSERT INTO contact_tags (tag, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("postgres: put contact %s: tags: %w", config.MaskAddress(c.Phone), err)
		}
	}
	if !leftKnown {
		err := t.reindex(c.Phone, c.LeftGroups,
			`DELETE FROM contact_left_groups WHERE phone = $1 AND NOT (grp = ANY($2))`,
			`INSERT INTO contact_left_groups (grp, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("postgres: put contact %s: left groups: %w", config.MaskAddress(c.Phone), err)
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
