package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Enrollment implements engine.Tx.
func (t *boltTx) Enrollment(id string) (*engine.Enrollment, error) {
	var e engine.Enrollment
	if err := t.get(bEnrollments, []byte(id), &e, "enrollment"); err != nil {
		return nil, err
	}
	e.ID = id
	return &e, nil
}

// ActiveEnrollment implements engine.Tx.
func (t *boltTx) ActiveEnrollment(contact, automationID string) (*engine.Enrollment, error) {
	id := t.tx.Bucket(bActive).Get(key(contact, automationID))
	if id == nil {
		return nil, fmt.Errorf("bolt: active enrollment of %s in %q: %w", config.MaskAddress(contact), automationID, engine.ErrNotFound)
	}
	return t.Enrollment(string(id))
}

// ActiveEnrollments implements engine.Tx.
func (t *boltTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	prefix := key(contact, "")
	cur := t.tx.Bucket(bActive).Cursor()
	var out []*engine.Enrollment
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		e, err := t.Enrollment(string(v))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// PutEnrollment implements engine.Tx.
func (t *boltTx) PutEnrollment(e *engine.Enrollment) error {
	ak := key(e.Contact, e.Automation)
	ck := key(string(countActive), e.Automation)
	if e.Active() {
		cur := t.tx.Bucket(bActive).Get(ak)
		if cur == nil {
			if err := t.count(ck, 1); err != nil {
				return err
			}
		}
		if string(cur) != e.ID {
			if err := t.bucket(bActive).Put(ak, []byte(e.ID)); err != nil {
				return err
			}
		}
	} else if cur := t.tx.Bucket(bActive).Get(ak); cur != nil && string(cur) == e.ID {
		if err := t.del(bActive, ak); err != nil {
			return err
		}
		if err := t.count(ck, -1); err != nil {
			return err
		}
	}
	if e.Status == engine.EnrollmentHandoff && e.Handoff != nil {
		if err := t.mark(bHandoffs, []byte(e.ID)); err != nil {
			return err
		}
	} else if err := t.del(bHandoffs, []byte(e.ID)); err != nil {
		return err
	}
	mark := t.mark
	if t.tx.Bucket(bEnrollments).Get([]byte(e.ID)) != nil {
		mark = t.remark
	} else if err := t.countActivity(engine.EnrollmentActivity(true, e)); err != nil {
		return err
	}
	if err := mark(bByAuto, key(e.Automation, e.ID)); err != nil {
		return err
	}
	if err := mark(bByContact, key(e.Contact, e.ID)); err != nil {
		return err
	}
	v := *e
	v.ID = "" // the key says it
	return t.put(bEnrollments, []byte(e.ID), &v)
}

// Enrollments implements engine.Tx. Active enrollments are listed from
// the active index, so reconciling or listing them costs what is active,
// not every enrollment ever made; a limit stops the scan once reached.
func (t *boltTx) Enrollments(automationID, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if activeOnly && contact == "" {
		return t.activeEnrollments(automationID, limit)
	}
	var out []*engine.Enrollment
	keep := func(id string) error {
		e, err := t.Enrollment(id)
		if err != nil {
			return err
		}
		if (automationID == "" || e.Automation == automationID) && (contact == "" || e.Contact == contact) && (!activeOnly || e.Active()) {
			out = append(out, e)
		}
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		return nil
	}
	var err error
	switch {
	case contact != "":
		err = t.reverse(bByContact, key(contact, ""), 0, keep)
	case automationID != "":
		err = t.reverse(bByAuto, key(automationID, ""), 0, keep)
	default:
		err = t.reverse(bEnrollments, nil, 0, keep)
	}
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}

// ActiveEnrollmentsOf implements engine.Tx: a cursor through the
// automation's enrollments, from after, that stops at limit active ones.
func (t *boltTx) ActiveEnrollmentsOf(automationID, after string, limit int) ([]*engine.Enrollment, error) {
	prefix := key(automationID, "")
	start := prefix
	if after != "" {
		start = append(key(automationID, after), 0)
	}
	var out []*engine.Enrollment
	cur := t.tx.Bucket(bByAuto).Cursor()
	for k, _ := cur.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
		e, err := t.Enrollment(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("bolt: automation index: %w", err)
		}
		if e.Active() && e.Automation == automationID {
			out = append(out, e)
		}
	}
	return out, nil
}

// errEnough stops a scan that has found what it needs.
var errEnough = errors.New("enough")

// activeEnrollments lists active enrollments, of one automation when given,
// newest first, from the active index.
func (t *boltTx) activeEnrollments(automationID string, limit int) ([]*engine.Enrollment, error) {
	var ids []string
	err := t.tx.Bucket(bActive).ForEach(func(k, v []byte) error {
		if i := bytes.IndexByte(k, 0); automationID == "" || (i >= 0 && string(k[i+1:]) == automationID) {
			ids = append(ids, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids))) // ids sort by creation time
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*engine.Enrollment, 0, len(ids))
	for _, id := range ids {
		e, err := t.Enrollment(id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// CountActive implements engine.Tx, from the counters PutEnrollment
// keeps (counts.go).
func (t *boltTx) CountActive() (map[string]int, error) {
	out := map[string]int{}
	prefix := key(string(countActive), "")
	cur := t.tx.Bucket(bCounts).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		if len(v) == 8 {
			out[string(k[len(prefix):])] = int(binary.BigEndian.Uint64(v))
		}
	}
	return out, nil
}
