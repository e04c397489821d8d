package postgres

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// What an Update reads together, to save round trips (see pipe): the
// active enrollments of a contact come with the contact, and a batch of
// sends' messages and queue entries in one go (PrefetchSends). What is kept
// was read under the locks that keep it current until the commit, and the
// transaction's own writes keep it so.

// activeRow is one of a contact's active enrollments as an Update read
// or stored it.
type activeRow struct {
	automation, id string
	data           []byte
}

// turnSQL reads a contact's turn in one statement: the contact's record
// (a row of kind 1, none when not stored), then its active enrollments
// (kind 2, by automation). With first, a statement whose one column is a
// record, its row comes before them (kind 0): the duplicate check goes
// with the turn. The phone is parameter p. One statement, not one each:
// PostgreSQL's cost per statement (its start, its portal, its end) is a
// large part of a webhook's, whatever the statement reads.
func turnSQL(first string, p int) string {
	var b strings.Builder
	if first != "" {
		b.WriteString("SELECT 0 AS kind, NULL::text AS automation, NULL::text AS id, f.data FROM (")
		b.WriteString(first)
		b.WriteString(") AS f(data) UNION ALL ")
	}
	fmt.Fprintf(&b, `SELECT 1 AS kind, NULL::text AS automation, NULL::text AS id, data FROM contacts WHERE phone = $%[1]d
	UNION ALL SELECT 2, a.automation, a.id, e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id
	WHERE a.contact = $%[1]d ORDER BY 1, 2`, p)
	return b.String()
}

// contactTurnSQL is turnSQL without a first statement.
var contactTurnSQL = turnSQL("", 1)

// readContact reads, in an Update, the contact with phone and its active
// enrollments in one statement, behind the contact's lock, and keeps the
// enrollments for ActiveEnrollments and ActiveEnrollment: a turn reads
// them next. It returns nil for a contact not stored. A turn that
// ReadTurnAhead announced was read already.
func (t *pgTx) readContact(phone string) ([]byte, error) {
	if raw, ok := t.turnRead[phone]; ok {
		// Read with the read before, behind the lock; nothing was written
		// since (exec forgets it).
		delete(t.turnRead, phone)
		if len(raw) == 0 {
			raw = nil
		}
		return raw, nil
	}
	raw, _, err := t.readTurn(nil, phone, deferred{sql: contactTurnSQL, args: []any{phone}})
	if err != nil {
		return nil, fmt.Errorf("postgres: read contact %s: %w", config.MaskAddress(phone), err)
	}
	return raw, nil
}

// readTurn runs q, a turnSQL statement for phone, keeps the active
// enrollments it reads and returns the contact's record (nil: not
// stored). first receives the row of q's first statement, if q has one;
// found says whether it had a row.
func (t *pgTx) readTurn(first *[]byte, phone string, q deferred) (contact []byte, found bool, err error) {
	rows, err := t.tx.Query(t.ctx, q.sql, q.args...)
	if err != nil {
		return nil, false, err
	}
	return t.scanTurn(rows, first, phone)
}

// scanTurn reads turnSQL's rows, closes them and keeps the active
// enrollments.
func (t *pgTx) scanTurn(rows pgx.Rows, first *[]byte, phone string) (contact []byte, found bool, err error) {
	defer rows.Close()
	var actives []activeRow
	for rows.Next() {
		var kind int32
		var automation, id *string
		var data []byte
		if err := rows.Scan(&kind, &automation, &id, &data); err != nil {
			return nil, false, err
		}
		switch {
		case kind == 0 && first != nil:
			*first, found = data, true
		case kind == 1:
			contact = data
		case kind == 2 && automation != nil && id != nil:
			actives = append(actives, activeRow{automation: *automation, id: *id, data: data})
		default:
			return nil, false, fmt.Errorf("postgres: a turn's read returned a row of kind %d", kind)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if t.actives == nil {
		t.actives = map[string][]activeRow{}
	}
	t.actives[phone] = actives
	return contact, found, nil
}

// ReadTurnAhead implements engine.TurnReader: in an Update, the contact's
// lock goes out now, deferred, and its record and active enrollments are
// read with the next read of one record (getJSON: the engine's duplicate
// check), in the same statement, behind the lock.
func (t *pgTx) ReadTurnAhead(phone string) {
	t.turnRead = nil // what an earlier announcement read is not for this turn
	if !t.writable {
		return
	}
	if _, read := t.actives[phone]; read {
		return
	}
	_ = t.lockContact(phone) // deferred: it fails only in a View
	t.ahead = phone
}

// readAhead reads, in one statement, the one row of sql with args into
// row (pgx.ErrNoRows when none), then the turn ReadTurnAhead announced,
// which it keeps for readContact.
func (t *pgTx) readAhead(row *[]byte, sql string, args ...any) error {
	phone := t.ahead
	t.ahead = ""
	q := deferred{sql: turnSQL(sql, len(args)+1), args: append(slices.Clip(args), phone)}
	raw, found, err := t.readTurn(row, phone, q)
	if err != nil {
		return err
	}
	if t.turnRead == nil {
		t.turnRead = map[string][]byte{}
	}
	if raw == nil {
		raw = []byte{} // read, not stored
	}
	t.turnRead[phone] = raw
	if !found {
		return pgx.ErrNoRows
	}
	return nil
}

// keptActives decodes the active enrollments of contact the transaction
// keeps (those of automation only, unless empty); ok is false when it
// keeps none for contact.
func (t *pgTx) keptActives(contact, automation string) (out []*engine.Enrollment, ok bool, err error) {
	rows, ok := t.actives[contact]
	if !ok {
		return nil, false, nil
	}
	for _, r := range rows {
		if automation != "" && r.automation != automation {
			continue
		}
		e := new(engine.Enrollment)
		if err := decodeJSON(r.data, e); err != nil {
			return nil, true, fmt.Errorf("postgres: decode enrollment %q: %w", r.id, err)
		}
		out = append(out, e)
	}
	return out, true, nil
}

// keepActive updates the active enrollments kept for e's contact after
// PutEnrollment stored e (as data); it reports whether e was kept as
// active before, or true when nothing is kept for its contact.
func (t *pgTx) keepActive(e *engine.Enrollment, data string) (wasActive bool) {
	rows, ok := t.actives[e.Contact]
	if !ok {
		return true
	}
	i := slices.IndexFunc(rows, func(r activeRow) bool { return r.automation == e.Automation })
	wasActive = i >= 0 && rows[i].id == e.ID
	switch {
	case e.Active() && i >= 0:
		rows[i] = activeRow{automation: e.Automation, id: e.ID, data: []byte(data)}
	case e.Active():
		rows = append(rows, activeRow{automation: e.Automation, id: e.ID, data: []byte(data)})
		slices.SortFunc(rows, func(a, b activeRow) int { return strings.Compare(a.automation, b.automation) })
	case wasActive:
		rows = slices.Delete(rows, i, i+1)
	}
	t.actives[e.Contact] = rows
	return wasActive
}

// PrefetchSends reads, in an Update, the messages and the queue entries
// of the sends ids in one round trip, with the locks Message and Dequeue
// take (the messages' first, then their queues', each in key order, so
// that two transactions taking several lock them in the same order), and
// keeps them for the Message, QueuedSend and Dequeue calls that follow:
// the outbox claims and records sends in batches. Elsewhere it does
// nothing.
func (t *pgTx) PrefetchSends(ids []string) error {
	if !t.writable || len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	t.tx.Defer(`SELECT pg_advisory_xact_lock(hashtext('keyway/message'), hashtext(id)) FROM unnest($1::text[]) AS id ORDER BY id`, ids)
	// What each counts toward for its broadcast, under the lock
	// countForBroadcasts takes (after the message's, as there).
	t.tx.Defer(`SELECT pg_advisory_xact_lock(hashtext('keyway/broadcast message'), hashtext(id)) FROM unnest($1::text[]) AS id ORDER BY id`, ids)
	br, err := t.tx.send(
		deferred{sql: `SELECT id, data, coalesce((SELECT flags FROM broadcast_msgs b WHERE b.message_id = m.id), 0)
			FROM messages m WHERE id = ANY($1)`, args: []any{ids}},
		// PostgreSQL calls a volatile function of the select list after
		// ORDER BY: the queues are locked in order.
		deferred{sql: `SELECT message_id, queue, due_ns, owner, lease_ns, pg_advisory_xact_lock(hashtext('keyway/queue'), hashtext(queue))
			FROM outbox WHERE message_id = ANY($1) ORDER BY queue, message_id`, args: []any{ids}})
	if err != nil {
		return fmt.Errorf("postgres: read %d sends: %w", len(ids), err)
	}
	err = t.keepPrefetched(br, ids)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: read %d sends: %w", len(ids), t.tx.note(err))
	}
	return nil
}

func (t *pgTx) keepPrefetched(br pgx.BatchResults, ids []string) error {
	if t.messages == nil {
		t.messages, t.sends = map[string][]byte{}, map[string]*engine.QueuedSend{}
	}
	if t.bflags == nil {
		t.bflags = map[string]int16{}
	}
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	for _, id := range ids {
		t.locked["message\x00"+id] = true
		t.locked["broadcast message\x00"+id] = true
		t.messages[id], t.sends[id] = nil, nil // not found, unless read below
		t.bflags[id] = 0
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var data []byte
		var flags int16
		if err := rows.Scan(&id, &data, &flags); err != nil {
			rows.Close()
			return err
		}
		t.messages[id], t.bflags[id] = data, flags
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if rows, err = br.Query(); err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var q engine.QueuedSend
		var due, lease int64
		if err := rows.Scan(&q.MessageID, &q.Queue, &due, &q.Owner, &lease, nil); err != nil {
			return err
		}
		q.Due, q.LeaseUntil = fromNS(due), fromNS(lease)
		t.sends[q.MessageID] = &q
		t.locked["queue\x00"+q.Queue] = true
	}
	return rows.Err()
}

// keptMessage returns the message with id as PrefetchSends kept it, once;
// ok is false when it keeps none.
func (t *pgTx) keptMessage(id string) (m *engine.Message, ok bool, err error) {
	data, ok := t.messages[id]
	if !ok {
		return nil, false, nil
	}
	delete(t.messages, id)
	if data == nil {
		return nil, true, fmt.Errorf("postgres: message %q: %w", id, engine.ErrNotFound)
	}
	m = new(engine.Message)
	if err := decodeJSON(data, m); err != nil {
		return nil, true, fmt.Errorf("postgres: decode message %q: %w", id, err)
	}
	return m, true, nil
}

func decodeJSON(raw []byte, v any) error { return engine.DecodeRecord(raw, v) }

// keptSend returns the queue entry of message id as PrefetchSends kept
// it (nil: not queued); ok is false when it keeps none.
func (t *pgTx) keptSend(id string) (q *engine.QueuedSend, ok bool) {
	q, ok = t.sends[id]
	return q, ok
}

// ReadAhead reads, in a View, the messages ids and the contacts phones
// in one round trip, for the Message and Contact calls that follow: the
// outbox checks a batch of sends before sending them (still queued, and
// not to a contact who opted out since). Elsewhere it does nothing.
func (t *pgTx) ReadAhead(ids, phones []string) error {
	if t.writable || len(ids)+len(phones) == 0 {
		return nil
	}
	br, err := t.tx.send(
		deferred{sql: `SELECT id, data FROM messages WHERE id = ANY($1)`, args: []any{ids}},
		deferred{sql: `SELECT phone, data FROM contacts WHERE phone = ANY($1)`, args: []any{phones}})
	if err != nil {
		return fmt.Errorf("postgres: read %d messages and %d contacts: %w", len(ids), len(phones), err)
	}
	err = t.keepReadAhead(br, ids, phones)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: read %d messages and %d contacts: %w", len(ids), len(phones), t.tx.note(err))
	}
	return nil
}

func (t *pgTx) keepReadAhead(br pgx.BatchResults, ids, phones []string) error {
	if t.messages == nil {
		t.messages = map[string][]byte{}
	}
	if t.contacts == nil {
		t.contacts = map[string][]byte{}
	}
	for _, id := range ids {
		t.messages[id] = nil // not found, unless read below
	}
	for _, p := range phones {
		t.contacts[p] = nil
	}
	for _, into := range []map[string][]byte{t.messages, t.contacts} {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var key string
			var data []byte
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return err
			}
			into[key] = data
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
