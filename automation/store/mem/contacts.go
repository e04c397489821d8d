package mem

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Contact implements Tx.
func (tx *memTx) Contact(phone string) (*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.contacts.get(phone)
	if !ok {
		return nil, fmt.Errorf("mem: contact: %w", engine.ErrNotFound)
	}
	return memDecode[engine.Contact](raw, "contact")
}

// PutContact implements Tx; it keeps the group index in step with
// c.Groups, removals included.
func (tx *memTx) PutContact(c *engine.Contact) error {
	if err := tx.write(); err != nil {
		return err
	}
	if c == nil || c.Phone == "" {
		return errors.New("mem: put contact: no phone")
	}
	raw, err := memEncode(c, "contact")
	if err != nil {
		return err
	}
	var prev *engine.Contact
	if oldRaw, ok := tx.st.contacts.get(c.Phone); ok {
		old, err := memDecode[engine.Contact](oldRaw, "contact")
		if err != nil {
			return err
		}
		prev = old
		for _, g := range old.Groups {
			if !c.InGroup(g) {
				tx.st.groups.del(tx.owner, memJoin(g, c.Phone))
			}
		}
	}
	for _, g := range c.Groups {
		tx.mark(&tx.st.groups, memJoin(g, c.Phone))
	}
	tx.count(engine.ContactActivity(prev, c))
	tx.st.contacts.set(tx.owner, c.Phone, raw)
	return nil
}

// ContactsInGroup implements Tx.
func (tx *memTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(group, "")
	var out []*engine.Contact
	var err error
	tx.st.groups.ascend(prefix+after, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		phone := k[len(prefix):]
		if phone == after {
			return true
		}
		var c *engine.Contact
		if c, err = tx.Contact(phone); err != nil {
			err = fmt.Errorf("mem: group index: %w", err)
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}

// ContactsPage implements Tx.
func (tx *memTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*engine.Contact
	var err error
	tx.st.contacts.ascend(after, func(k string, raw []byte) bool {
		if memLimit(limit, len(out)) {
			return false
		}
		if k == after {
			return true
		}
		var c *engine.Contact
		if c, err = memDecode[engine.Contact](raw, "contact"); err != nil {
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}
