package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// Message implements engine.Tx.
func (t *pgTx) Message(id string) (*engine.Message, error) {
	if err := t.lock("message", id); err != nil {
		return nil, err
	}
	if m, ok, err := t.keptMessage(id); ok {
		return m, err
	}
	var m engine.Message
	if err := t.getJSON(&m, "message", id, `SELECT data FROM messages WHERE id = $1`, id); err != nil {
		return nil, err
	}
	return &m, nil
}

// MessageByProviderID implements engine.Tx. In an Update it takes the
// message's lock (as Message does) and reads it again under it, so that a
// status callback and the outbox recording a send take turns.
func (t *pgTx) MessageByProviderID(provider, providerID string) (*engine.Message, error) {
	var m engine.Message
	err := t.getJSON(&m, "message", provider+"/"+providerID,
		`SELECT data FROM messages WHERE provider = $1 AND provider_id = $2`, provider, providerID)
	if err != nil {
		return nil, err
	}
	if !t.writable || t.locked["message\x00"+m.ID] {
		return &m, nil
	}
	return t.Message(m.ID)
}

// PutMessage implements engine.Tx. A provider id is unique: a message
// another process stored first under it makes the transaction run again,
// where the engine finds that message and answers it as a duplicate.
func (t *pgTx) PutMessage(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m.ID == "" {
		return errors.New("postgres: put message: no id")
	}
	delete(t.messages, m.ID)
	data, err := encode("message", m)
	if err != nil {
		return err
	}
	var pid any
	if m.ProviderID != "" {
		pid = m.ProviderID
	}
	if err := t.countForBroadcasts(m); err != nil { // broadcasts.go
		return fmt.Errorf("postgres: count message %q for its broadcast: %w", m.ID, err)
	}
	args := []any{m.ID, m.Provider, pid, m.Contact, ns(m.CreatedAt), data}
	sql := putMessageSQL
	if m.Direction == engine.Inbound && m.Contact != "" {
		sql = putInboundSQL
		args = append(args, ns(m.CreatedAt.Add(-broadcast.ReplyWindow)))
	}
	if err := t.exec(sql, args...); err != nil {
		return fmt.Errorf("postgres: put message %q: %w", m.ID, err)
	}
	return nil
}

const putMessageSQL = `INSERT INTO messages (id, provider, provider_id, contact, created_ns, data) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (id) DO UPDATE SET provider = EXCLUDED.provider, provider_id = EXCLUDED.provider_id,
		contact = EXCLUDED.contact, created_ns = EXCLUDED.created_ns, data = EXCLUDED.data`

// putInboundSQL stores an inbound message as putMessageSQL does and, in
// the same statement, marks its contact ($4) replied to each broadcast
// that sent to it within broadcast.ReplyWindow before it (from $7 to
// $5), once: one statement on the webhook's path instead of two.
const putInboundSQL = `WITH r AS (UPDATE broadcast_recipients SET replied = true
		WHERE contact = $4 AND NOT replied AND first_ns <= $5 AND first_ns >= $7 RETURNING broadcast),
	c AS (INSERT INTO broadcast_counts AS b (broadcast, sent, delivered, failed, replied)
		SELECT broadcast, 0, 0, 0, 1 FROM r
		ON CONFLICT (broadcast) DO UPDATE SET replied = b.replied + 1)
` + putMessageSQL

// Messages implements engine.Tx.
func (t *pgTx) Messages(contact string, limit int) ([]*engine.Message, error) {
	return listJSON[engine.Message](t, "messages", `SELECT data FROM messages WHERE contact = $1 AND contact <> '' ORDER BY id DESC LIMIT $2`, contact, limitArg(limit))
}

// MessagesPage implements engine.Tx: every contact's messages with an id
// before the one given (from the newest when empty), newest first by id
// (the primary key's order), all of them when limit is 0.
func (t *pgTx) MessagesPage(before string, limit int) ([]*engine.Message, error) {
	if before == "" {
		return listJSON[engine.Message](t, "messages", `SELECT data FROM messages ORDER BY id DESC LIMIT $1`, limitArg(limit))
	}
	return listJSON[engine.Message](t, "messages", `SELECT data FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limitArg(limit))
}

// PruneMessages implements engine.Tx: one indexed DELETE of the oldest
// messages that are not queued.
func (t *pgTx) PruneMessages(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	// A broadcast's text goes with what broadcasts.go kept to count it.
	var n int
	err := t.tx.QueryRow(t.ctx, `WITH gone AS (DELETE FROM messages WHERE id IN (
			SELECT m.id FROM messages m WHERE m.created_ns < $1
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)
			ORDER BY m.created_ns, m.id LIMIT $2)
		RETURNING id, contact, data->>'broadcast' AS broadcast),
	flags AS (DELETE FROM broadcast_msgs b USING gone g WHERE b.message_id = g.id),
	recips AS (DELETE FROM broadcast_recipients r USING gone g WHERE r.contact = g.contact AND r.broadcast = g.broadcast)
	SELECT count(*) FROM gone`, ns(before), int64(limit)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune messages: %w", err)
	}
	return n, nil
}
