package mem

import (
	"errors"
	"fmt"
	"slices"
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
// c.Groups, the tag index with c.Tags (as the record reads them back:
// engine.RecordText) and the left-group index with c.LeftGroups, removals
// included.
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
	var hadGroups, hadTags, hadLeft []string
	if oldRaw, ok := tx.st.contacts.get(c.Phone); ok {
		old, err := memDecode[engine.Contact](oldRaw, "contact")
		if err != nil {
			return err
		}
		prev, hadGroups, hadTags, hadLeft = old, old.Groups, old.Tags, old.LeftGroups
	}
	tx.reindex(&tx.st.groups, c.Phone, hadGroups, c.Groups)
	tx.reindex(&tx.st.tags, c.Phone, hadTags, engine.RecordTexts(c.Tags))
	tx.reindex(&tx.st.left, c.Phone, hadLeft, c.LeftGroups)
	tx.count(engine.ContactActivity(prev, c))
	tx.st.contacts.set(tx.owner, c.Phone, raw)
	return nil
}

// reindex moves phone's entries in an index (name 0 phone) from the names
// it had to the names it has.
func (tx *memTx) reindex(index *memTree[struct{}], phone string, had, has []string) {
	for _, n := range had {
		if !slices.Contains(has, n) {
			index.del(tx.owner, memJoin(n, phone))
		}
	}
	for _, n := range has {
		tx.mark(index, memJoin(n, phone))
	}
}

// ContactsInGroup implements Tx.
func (tx *memTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	return tx.indexPage(&tx.st.groups, "group", group, after, limit)
}

// ContactsWithTag implements Tx.
func (tx *memTx) ContactsWithTag(tag, after string, limit int) ([]*engine.Contact, error) {
	return tx.indexPage(&tx.st.tags, "tag", engine.RecordText(tag), after, limit)
}

// ContactsLeftGroup implements Tx.
func (tx *memTx) ContactsLeftGroup(group, after string, limit int) ([]*engine.Contact, error) {
	return tx.indexPage(&tx.st.left, "left group", group, after, limit)
}

// indexPage returns up to limit contacts under name in an index (name 0
// phone) whose phone sorts after the phone given.
func (tx *memTx) indexPage(index *memTree[struct{}], what, name, after string, limit int) ([]*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(name, "")
	var out []*engine.Contact
	var err error
	index.ascend(prefix+after, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		phone := k[len(prefix):]
		if phone == after {
			return true
		}
		var c *engine.Contact
		if c, err = tx.Contact(phone); err != nil {
			err = fmt.Errorf("mem: %s index: %w", what, err)
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}

// indexKeys counts the keys under name in an index (name 0 phone).
func (tx *memTx) indexKeys(index *memTree[struct{}], name string) (int, error) {
	if err := tx.read(); err != nil {
		return 0, err
	}
	prefix := memJoin(name, "")
	n := 0
	index.ascend(prefix, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		n++
		return true
	})
	return n, nil
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
