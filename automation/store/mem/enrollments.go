package mem

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Enrollment implements Tx.
func (tx *memTx) Enrollment(id string) (*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.enrollments.get(id)
	if !ok {
		return nil, fmt.Errorf("mem: enrollment %q: %w", id, engine.ErrNotFound)
	}
	return memDecode[engine.Enrollment](raw, "enrollment")
}

// ActiveEnrollment implements Tx.
func (tx *memTx) ActiveEnrollment(contact, automation string) (*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	id, ok := tx.st.active.get(memJoin(contact, automation))
	if !ok {
		return nil, fmt.Errorf("mem: active enrollment in %q: %w", automation, engine.ErrNotFound)
	}
	return tx.Enrollment(id)
}

// ActiveEnrollments implements Tx; they come in automation id order.
func (tx *memTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(contact, "")
	var out []*engine.Enrollment
	var err error
	tx.st.active.ascend(prefix, func(k, id string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		var e *engine.Enrollment
		if e, err = tx.Enrollment(id); err != nil {
			err = fmt.Errorf("mem: active index: %w", err)
			return false
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// PutEnrollment implements Tx. An active enrollment takes the active
// index of its contact and automation; an ended one leaves it, if the
// index points at it. An enrollment moved to another contact or
// automation leaves the indexes of the old ones.
func (tx *memTx) PutEnrollment(e *engine.Enrollment) error {
	if err := tx.write(); err != nil {
		return err
	}
	if e == nil || e.ID == "" {
		return errors.New("mem: put enrollment: no id")
	}
	raw, err := memEncode(e, "enrollment")
	if err != nil {
		return err
	}
	ak := memJoin(e.Contact, e.Automation)
	oldRaw, stored := tx.st.enrollments.get(e.ID)
	tx.count(engine.EnrollmentActivity(!stored, e))
	if stored {
		old, err := memDecode[engine.Enrollment](oldRaw, "enrollment")
		if err != nil {
			return err
		}
		if oak := memJoin(old.Contact, old.Automation); oak != ak {
			if id, _ := tx.st.active.get(oak); id == e.ID {
				tx.st.active.del(tx.owner, oak)
			}
			tx.st.byAutomation.del(tx.owner, memJoin(old.Automation, e.ID))
			tx.st.byContact.del(tx.owner, memJoin(old.Contact, e.ID))
		}
	}
	id, indexed := tx.st.active.get(ak)
	switch {
	case e.Active() && id != e.ID:
		tx.st.active.set(tx.owner, ak, e.ID)
	case !e.Active() && indexed && id == e.ID:
		tx.st.active.del(tx.owner, ak)
	}
	tx.mark(&tx.st.byAutomation, memJoin(e.Automation, e.ID))
	tx.mark(&tx.st.byContact, memJoin(e.Contact, e.ID))
	tx.st.enrollments.set(tx.owner, e.ID, raw)
	return nil
}

// Enrollments implements Tx. It walks the narrowest index the filters
// allow: the contact's, the automation's, or all enrollments.
func (tx *memTx) Enrollments(automation, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*engine.Enrollment
	var err error
	keep := func(id string) bool {
		var e *engine.Enrollment
		if e, err = tx.Enrollment(id); err != nil {
			err = fmt.Errorf("mem: enrollment index: %w", err)
			return false
		}
		if (automation == "" || e.Automation == automation) && (contact == "" || e.Contact == contact) && (!activeOnly || e.Active()) {
			out = append(out, e)
		}
		return !memLimit(limit, len(out))
	}
	walk := func(t *memTree[struct{}], prefix string) {
		t.descend(memPrefixEnd(prefix), func(k string, _ struct{}) bool {
			return strings.HasPrefix(k, prefix) && keep(k[len(prefix):])
		})
	}
	switch {
	case contact != "":
		walk(&tx.st.byContact, memJoin(contact, ""))
	case automation != "":
		walk(&tx.st.byAutomation, memJoin(automation, ""))
	default:
		tx.st.enrollments.descendAll(func(k string, _ []byte) bool { return keep(k) })
	}
	return out, err
}

// ActiveEnrollmentsOf implements Tx, from the automation index.
func (tx *memTx) ActiveEnrollmentsOf(automation, after string, limit int) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(automation, "")
	start := prefix
	if after != "" {
		start = memJoin(automation, after) + "\x00"
	}
	var out []*engine.Enrollment
	var err error
	tx.st.byAutomation.ascend(start, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		var e *engine.Enrollment
		if e, err = tx.Enrollment(k[len(prefix):]); err != nil {
			err = fmt.Errorf("mem: automation index: %w", err)
			return false
		}
		if e.Active() && e.Automation == automation {
			out = append(out, e)
		}
		return true
	})
	return out, err
}

// CountActive implements Tx; automations without an active enrollment
// are left out.
func (tx *memTx) CountActive() (map[string]int, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	out := map[string]int{}
	tx.st.active.ascend("", func(k, _ string) bool {
		if i := strings.IndexByte(k, 0); i >= 0 {
			out[k[i+1:]]++
		}
		return true
	})
	return out, nil
}
