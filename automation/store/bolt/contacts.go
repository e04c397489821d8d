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
			t.remember(phone, nil)
		}
		return nil, err
	}
	c.Phone = phone
	t.remember(phone, &c)
	return &c, nil
}

// contactKeys are what a stored contact has in the indexes: its groups,
// its tags and the groups it left.
type contactKeys struct {
	groups, tags, left []string
}

// remember notes the stored groups, tags and left groups of the contact
// with phone (nil: none stored), in a write transaction; the tags as the
// record reads them back.
func (t *boltTx) remember(phone string, c *engine.Contact) {
	if !t.writable {
		return
	}
	if t.indexed == nil {
		t.indexed = map[string]contactKeys{}
	}
	var k contactKeys
	if c != nil {
		k = contactKeys{groups: slices.Clone(c.Groups), tags: slices.Clone(engine.RecordTexts(c.Tags)), left: slices.Clone(c.LeftGroups)}
	}
	t.indexed[phone] = k
}

// PutContact implements engine.Tx; it keeps the group, tag and left-group
// indexes.
func (t *boltTx) PutContact(c *engine.Contact) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.countContact(c); err != nil {
		return err
	}
	old, known := t.indexed[c.Phone]
	if !known {
		oc, err := t.Contact(c.Phone)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		if oc != nil {
			old = contactKeys{groups: oc.Groups, tags: oc.Tags, left: oc.LeftGroups}
		}
	}
	if err := t.reindex(bGroups, c.Phone, old.groups, c.Groups); err != nil {
		return err
	}
	if err := t.reindex(bTags, c.Phone, old.tags, engine.RecordTexts(c.Tags)); err != nil {
		return err
	}
	if err := t.reindex(bLeft, c.Phone, old.left, c.LeftGroups); err != nil {
		return err
	}
	v := *c
	v.Phone = "" // the key says it
	if err := t.put(bContacts, []byte(c.Phone), &v); err != nil {
		return err
	}
	t.remember(c.Phone, c)
	return nil
}

// reindex moves phone's entries in the index bucket (name 0 phone → nil)
// from the names it had to the names it has: an entry it keeps is left
// alone, so that a contact stored again unchanged writes no index page.
func (t *boltTx) reindex(bucket []byte, phone string, had, has []string) error {
	for _, n := range had {
		if !slices.Contains(has, n) {
			if err := t.del(bucket, key(n, phone)); err != nil {
				return err
			}
		}
	}
	for _, n := range has {
		if err := t.remark(bucket, key(n, phone)); err != nil {
			return err
		}
	}
	return nil
}

// ContactsInGroup implements engine.Tx.
func (t *boltTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	return t.indexPage(bGroups, group, after, limit)
}

// ContactsWithTag implements engine.Tx.
func (t *boltTx) ContactsWithTag(tag, after string, limit int) ([]*engine.Contact, error) {
	return t.indexPage(bTags, engine.RecordText(tag), after, limit)
}

// ContactsLeftGroup implements engine.Tx.
func (t *boltTx) ContactsLeftGroup(group, after string, limit int) ([]*engine.Contact, error) {
	return t.indexPage(bLeft, group, after, limit)
}

// indexPage returns up to limit contacts under name in the index bucket
// (name 0 phone → nil) whose phone sorts after the phone given.
func (t *boltTx) indexPage(bucket []byte, name, after string, limit int) ([]*engine.Contact, error) {
	prefix := key(name, "")
	cur := t.tx.Bucket(bucket).Cursor()
	start := prefix
	if after != "" {
		start = append(key(name, after), 0)
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

// indexKeys counts the keys under name in the index bucket (name 0 phone
// → nil), from the keys alone.
func (t *boltTx) indexKeys(bucket []byte, name string) int {
	prefix := key(name, "")
	cur := t.tx.Bucket(bucket).Cursor()
	n := 0
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		n++
	}
	return n
}

// indexTags fills the tag index of a data file written by a keyway from
// before it: once, when the tags bucket is created.
func indexTags(t *boltTx) error {
	return fillIndex(t, bTags, func(c *engine.Contact) []string { return c.Tags })
}

// indexLeftGroups fills the left-group index of a data file written by a
// keyway from before it: once, when its bucket is created.
func indexLeftGroups(t *boltTx) error {
	return fillIndex(t, bLeft, func(c *engine.Contact) []string { return c.LeftGroups })
}

// fillIndex fills the index bucket (name 0 phone → nil) with the names
// of every stored contact: it reads every contact, collects the keys,
// then writes them.
func fillIndex(t *boltTx, bucket []byte, names func(c *engine.Contact) []string) error {
	var keys [][]byte
	err := t.tx.Bucket(bContacts).ForEach(func(k, v []byte) error {
		var c engine.Contact
		if err := decodeValue(v, &c); err != nil {
			return fmt.Errorf("bolt: index %s: decode contact %q: %w", bucket, config.MaskAddress(string(k)), err)
		}
		for _, n := range names(&c) {
			keys = append(keys, key(n, string(k)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.mark(bucket, k); err != nil {
			return fmt.Errorf("bolt: index %s: %w", bucket, err)
		}
	}
	return nil
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
