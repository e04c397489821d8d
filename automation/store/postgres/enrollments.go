package postgres

import (
	"errors"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Enrollment implements engine.Tx.
// In an Update it takes the lock of the enrollment's contact and reads
// the enrollment again under it.
func (t *pgTx) Enrollment(id string) (*engine.Enrollment, error) {
	var e engine.Enrollment
	if err := t.getJSON(&e, "enrollment", id, `SELECT data FROM enrollments WHERE id = $1`, id); err != nil {
		return nil, err
	}
	if !t.writable || t.locked["contact\x00"+e.Contact] {
		return &e, nil
	}
	if err := t.lockContact(e.Contact); err != nil {
		return nil, err
	}
	var again engine.Enrollment
	if err := t.getJSON(&again, "enrollment", id, `SELECT data FROM enrollments WHERE id = $1`, id); err != nil {
		return nil, err
	}
	return &again, nil
}

// ActiveEnrollment implements engine.Tx.
func (t *pgTx) ActiveEnrollment(contact, automationID string) (*engine.Enrollment, error) {
	if err := t.lockContact(contact); err != nil {
		return nil, err
	}
	if kept, ok, err := t.keptActives(contact, automationID); ok {
		if err == nil && len(kept) == 0 {
			err = fmt.Errorf("postgres: active enrollment of %s in %q: %w", config.MaskAddress(contact), automationID, engine.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		return kept[0], nil
	}
	var e engine.Enrollment
	err := t.getJSON(&e, "active enrollment of "+config.MaskAddress(contact)+" in", automationID,
		`SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id WHERE a.contact = $1 AND a.automation = $2`,
		contact, automationID)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// ActiveEnrollments implements engine.Tx.
func (t *pgTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	if err := t.lockContact(contact); err != nil {
		return nil, err
	}
	if kept, ok, err := t.keptActives(contact, ""); ok {
		return kept, err
	}
	return listJSON[engine.Enrollment](t, "active enrollments", `SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id
		WHERE a.contact = $1 ORDER BY a.automation`, contact)
}

// PutEnrollment implements engine.Tx.
func (t *pgTx) PutEnrollment(e *engine.Enrollment) error {
	if !t.writable {
		return errReadOnly
	}
	if e.ID == "" {
		return errors.New("postgres: put enrollment: no id")
	}
	data, err := encode("enrollment", e)
	if err != nil {
		return err
	}
	switch wasActive := t.keepActive(e, data); {
	case e.Active():
		err = t.exec(`INSERT INTO active_enrollments (contact, automation, id) VALUES ($1, $2, $3)
			ON CONFLICT (contact, automation) DO UPDATE SET id = EXCLUDED.id`, e.Contact, e.Automation, e.ID)
	case wasActive:
		// Not needed for an enrollment the transaction knows was not
		// active (most turns start and end a one-step automation's).
		err = t.exec(`DELETE FROM active_enrollments WHERE contact = $1 AND automation = $2 AND id = $3`, e.Contact, e.Automation, e.ID)
	}
	if err != nil {
		return fmt.Errorf("postgres: put enrollment %q: %w", e.ID, err)
	}
	if err := t.exec(`INSERT INTO enrollments (id, automation, contact, active, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET automation = EXCLUDED.automation, contact = EXCLUDED.contact,
			active = EXCLUDED.active, data = EXCLUDED.data`, e.ID, e.Automation, e.Contact, e.Active(), data); err != nil {
		return fmt.Errorf("postgres: put enrollment %q: %w", e.ID, err)
	}
	return nil
}

// Enrollments implements engine.Tx.
func (t *pgTx) Enrollments(automationID, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if activeOnly && contact == "" {
		return listJSON[engine.Enrollment](t, "enrollments", `SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id
			WHERE ($1 = '' OR a.automation = $1) ORDER BY a.id DESC LIMIT $2`, automationID, limitArg(limit))
	}
	return listJSON[engine.Enrollment](t, "enrollments", `SELECT data FROM enrollments
		WHERE ($1 = '' OR automation = $1) AND ($2 = '' OR contact = $2) AND (NOT $3 OR active)
		ORDER BY id DESC LIMIT $4`, automationID, contact, activeOnly, limitArg(limit))
}

// ActiveEnrollmentsOf implements engine.Tx, on the automation index.
func (t *pgTx) ActiveEnrollmentsOf(automationID, after string, limit int) ([]*engine.Enrollment, error) {
	return listJSON[engine.Enrollment](t, "enrollments", `SELECT data FROM enrollments
		WHERE automation = $1 AND id > $2 AND active ORDER BY id LIMIT $3`, automationID, after, limitArg(limit))
}

// CountActive implements engine.Tx.
func (t *pgTx) CountActive() (map[string]int, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT automation, count(*) FROM active_enrollments GROUP BY automation`)
	if err != nil {
		return nil, fmt.Errorf("postgres: count active: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return nil, fmt.Errorf("postgres: count active: %w", err)
		}
		out[a] = int(n)
	}
	return out, rows.Err()
}
