package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Contact implements engine.Tx.
func (t *boltTx) Contact(phone string) (*engine.Contact, error) {
	var c engine.Contact
	if err := t.get(bContacts, []byte(phone), &c, "contact"); err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			t.rememberGroups(phone, nil)
		}
		return nil, err
	}
	c.Phone = phone
	t.rememberGroups(phone, c.Groups)
	return &c, nil
}

// rememberGroups notes the stored groups of the contact with phone, in a
// write transaction.
func (t *boltTx) rememberGroups(phone string, groups []string) {
	if !t.writable {
		return
	}
	if t.groups == nil {
		t.groups = map[string][]string{}
	}
	t.groups[phone] = slices.Clone(groups)
}

// PutContact implements engine.Tx; it keeps the group index.
func (t *boltTx) PutContact(c *engine.Contact) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.countContact(c); err != nil {
		return err
	}
	old, known := t.groups[c.Phone]
	if !known {
		oc, err := t.Contact(c.Phone)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		if oc != nil {
			old = oc.Groups
		}
	}
	for _, g := range old {
		if !c.InGroup(g) {
			if err := t.del(bGroups, key(g, c.Phone)); err != nil {
				return err
			}
		}
	}
	for _, g := range c.Groups {
		if err := t.mark(bGroups, key(g, c.Phone)); err != nil {
			return err
		}
	}
	v := *c
	v.Phone = "" // the key says it
	if err := t.put(bContacts, []byte(c.Phone), &v); err != nil {
		return err
	}
	t.rememberGroups(c.Phone, c.Groups)
	return nil
}

// ContactsInGroup implements engine.Tx.
func (t *boltTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	prefix := key(group, "")
	cur := t.tx.Bucket(bGroups).Cursor()
	start := prefix
	if after != "" {
		start = append(key(group, after), 0)
	}
	var out []*engine.Contact
	for k, _ := cur.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = cur.Next() {
		c, err := t.Contact(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ContactsPage implements engine.Tx.
func (t *boltTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	cur := t.tx.Bucket(bContacts).Cursor()
	var out []*engine.Contact
	k, v := cur.First()
	if after != "" {
		k, v = cur.Seek(append([]byte(after), 0))
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = cur.Next() {
		var c engine.Contact
		if err := decodeValue(v, &c); err != nil {
			return nil, fmt.Errorf("bolt: decode contact %q: %w", config.MaskAddress(string(k)), err)
		}
		c.Phone = string(k)
		out = append(out, &c)
	}
	return out, nil
}
