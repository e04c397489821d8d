package postgres

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// Broadcast implements broadcast.Tx. In an Update it first takes the
// broadcast's lock, so that processes change it one at a time.
func (t *pgTx) Broadcast(id string) (*broadcast.Broadcast, error) {
	if err := t.lock("broadcast", id); err != nil {
		return nil, err
	}
	var b broadcast.Broadcast
	if err := t.getJSON(&b, "broadcast", id, `SELECT data FROM broadcasts WHERE id = $1`, id); err != nil {
		return nil, err
	}
	c, err := t.broadcastCounts(id)
	if err != nil {
		return nil, err
	}
	b.Counts = c
	return &b, nil
}

func (t *pgTx) broadcastCounts(id string) (broadcast.Counts, error) {
	t.writeBroadcastCounts()
	var c broadcast.Counts
	err := t.tx.QueryRow(t.ctx, `SELECT sent, delivered, failed, replied FROM broadcast_counts WHERE broadcast = $1`, id).
		Scan(&c.Sent, &c.Delivered, &c.Failed, &c.Replied)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("postgres: read the counts of broadcast %s: %w", id, err)
	}
	return c, nil
}

// PutBroadcast implements broadcast.Tx.
func (t *pgTx) PutBroadcast(b *broadcast.Broadcast) error {
	if !t.writable {
		return errReadOnly
	}
	if b == nil || b.ID == "" {
		return errors.New("postgres: put broadcast: no id")
	}
	rec := *b
	rec.Counts = broadcast.Counts{}
	data, err := encode("broadcast", &rec)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO broadcasts (id, open, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET open = EXCLUDED.open, data = EXCLUDED.data`, b.ID, b.Pending(), data); err != nil {
		return fmt.Errorf("postgres: put broadcast %s: %w", b.ID, err)
	}
	return nil
}

// broadcastCols selects a broadcast with its counters, as
// listBroadcasts reads them.
const broadcastCols = `SELECT b.data, coalesce(c.sent, 0), coalesce(c.delivered, 0), coalesce(c.failed, 0), coalesce(c.replied, 0)
		FROM broadcasts b LEFT JOIN broadcast_counts c ON c.broadcast = b.id `

// Broadcasts implements broadcast.Tx, with each one's counters, in one
// query.
func (t *pgTx) Broadcasts(before string, limit int) ([]*broadcast.Broadcast, error) {
	q, args := broadcastCols+`ORDER BY b.id DESC LIMIT $1`, []any{limitArg(limit)}
	if before != "" {
		q, args = broadcastCols+`WHERE b.id < $2 ORDER BY b.id DESC LIMIT $1`, append(args, before)
	}
	return t.listBroadcasts("list broadcasts", q, args...)
}

// listBroadcasts reads the broadcasts q selects (broadcastCols first).
func (t *pgTx) listBroadcasts(what, q string, args ...any) ([]*broadcast.Broadcast, error) {
	t.writeBroadcastCounts()
	rows, err := t.tx.Query(t.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rows.Close()
	var out []*broadcast.Broadcast
	for rows.Next() {
		var raw []byte
		var c [4]int64
		if err := rows.Scan(&raw, &c[0], &c[1], &c[2], &c[3]); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		var b broadcast.Broadcast
		if err := engine.DecodeRecord(raw, &b); err != nil {
			return nil, fmt.Errorf("postgres: %s: decode broadcast: %w", what, err)
		}
		b.Counts = broadcast.Counts{Sent: int(c[0]), Delivered: int(c[1]), Failed: int(c[2]), Replied: int(c[3])}
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// PutBroadcastContacts implements broadcast.Tx, in one statement.
func (t *pgTx) PutBroadcastContacts(id string, from int, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	if err := t.exec(`INSERT INTO broadcast_contacts (broadcast, pos, addr)
		SELECT $1, $2 + o - 1, a FROM unnest($3::text[]) WITH ORDINALITY AS u(a, o)
		ON CONFLICT (broadcast, pos) DO UPDATE SET addr = EXCLUDED.addr`, id, int64(from), addrs); err != nil {
		return fmt.Errorf("postgres: put the contacts of broadcast %s: %w", id, err)
	}
	return nil
}

// BroadcastContacts implements broadcast.Tx.
func (t *pgTx) BroadcastContacts(id string, from, limit int) ([]string, error) {
	return t.strings("broadcast contacts", `SELECT addr FROM broadcast_contacts WHERE broadcast = $1 AND pos >= $2 ORDER BY pos LIMIT $3`,
		id, int64(from), limitArg(limit))
}

// ClaimBroadcast implements broadcast.Tx: it looks at the pending
// broadcasts only (the column open), each under its lock.
func (t *pgTx) ClaimBroadcast(now time.Time, lease time.Duration, owner string, skip func(*broadcast.Broadcast) (bool, error)) (*broadcast.Broadcast, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	ids, err := t.strings("open broadcasts", `SELECT id FROM broadcasts WHERE open ORDER BY id`)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		b, err := t.Broadcast(id)
		if err != nil {
			return nil, err
		}
		if !b.Pending() || (b.Open() && b.At.After(now)) || (b.Owner != "" && b.Owner != owner && b.LeaseUntil.After(now)) {
			continue
		}
		if skip != nil {
			pass, err := skip(b)
			if err != nil {
				return nil, fmt.Errorf("postgres: claim broadcast %s: %w", b.ID, err)
			}
			if pass {
				continue
			}
		}
		if b.Open() {
			b.Status = broadcast.StatusRunning
		}
		b.Owner, b.LeaseUntil, b.UpdatedAt = owner, now.Add(lease), now
		return b, t.PutBroadcast(b)
	}
	return nil, fmt.Errorf("postgres: claim broadcast: %w", engine.ErrNotFound)
}

// CountGroup implements broadcast.Tx.
func (t *pgTx) CountGroup(group string) (int, error) {
	var n int64
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM contact_groups WHERE grp = $1`, group).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count group %q: %w", group, err)
	}
	return int(n), nil
}

// CountLeftGroup implements broadcast.Tx.
func (t *pgTx) CountLeftGroup(group string) (int, error) {
	var n int64
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM contact_left_groups WHERE grp = $1`, group).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count those that left group %q: %w", group, err)
	}
	return int(n), nil
}

// CountTag implements broadcast.Tx.
func (t *pgTx) CountTag(tag string) (int, error) {
	var n int64
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM contact_tags WHERE tag = $1`, engine.RecordText(tag)).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count tag %q: %w", tag, err)
	}
	return int(n), nil
}

// countForBroadcasts keeps the broadcasts' counters as an outbound
// message m is stored: a message of a broadcast adds what its status newly
// counts toward (under the message's lock), and marks its contact a
// recipient. An inbound message's count is part of the statement that
// stores it (putInboundSQL).
func (t *pgTx) countForBroadcasts(m *engine.Message) error {
	if m.Direction != engine.Outbound || m.Broadcast == "" {
		return nil
	}
	flags := broadcast.FlagsOf(m.Status)
	if flags == 0 {
		return nil
	}
	if err := t.lock("broadcast message", m.ID); err != nil {
		return err
	}
	had, ok := t.bflags[m.ID] // PrefetchSends read it, under the same lock
	if !ok {
		err := t.tx.QueryRow(t.ctx, `SELECT flags FROM broadcast_msgs WHERE message_id = $1`, m.ID).Scan(&had)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	add := flags &^ uint8(had)
	if add == 0 {
		return nil
	}
	if err := t.exec(`INSERT INTO broadcast_msgs (message_id, flags) VALUES ($1, $2)
		ON CONFLICT (message_id) DO UPDATE SET flags = EXCLUDED.flags`, m.ID, int16(uint8(had)|add)); err != nil {
		return err
	}
	if t.bflags != nil {
		t.bflags[m.ID] = int16(uint8(had) | add)
	}
	t.addBroadcastCounts(m.Broadcast, add)
	if add&broadcast.FlagSent == 0 {
		return nil
	}
	return t.exec(`INSERT INTO broadcast_recipients (contact, broadcast, first_ns) VALUES ($1, $2, $3)
		ON CONFLICT (contact, broadcast) DO NOTHING`, m.Contact, m.Broadcast, ns(m.UpdatedAt))
}

// addBroadcastCounts adds what flags count toward to broadcast id's
// counters, kept in the transaction until writeBroadcastCounts: a
// broadcast's counters are one row that every process's outbox adds to,
// and a row written at once stayed locked for the rest of the transaction
// (a batch of results is a few round trips), so that the other processes'
// batches waited on it in turn.
func (t *pgTx) addBroadcastCounts(id string, flags uint8) {
	if t.bcounts == nil {
		t.bcounts = map[string]*broadcast.Counts{}
	}
	c := t.bcounts[id]
	if c == nil {
		c = new(broadcast.Counts)
		t.bcounts[id] = c
	}
	c.Add(flags)
}

// writeBroadcastCounts defers the writes of the counters the transaction
// added to, one statement per broadcast in id order: before COMMIT, so
// that each row is locked only for the commit, and before a read of the
// counters, which must see them.
func (t *pgTx) writeBroadcastCounts() {
	if len(t.bcounts) == 0 {
		return
	}
	ids := make([]string, 0, len(t.bcounts))
	for id := range t.bcounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := t.bcounts[id]
		t.tx.Defer(`INSERT INTO broadcast_counts AS b (broadcast, sent, delivered, failed, replied) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (broadcast) DO UPDATE SET sent = b.sent + EXCLUDED.sent, delivered = b.delivered + EXCLUDED.delivered,
			failed = b.failed + EXCLUDED.failed, replied = b.replied + EXCLUDED.replied`,
			id, int64(c.Sent), int64(c.Delivered), int64(c.Failed), int64(c.Replied))
	}
	clear(t.bcounts)
}

var _ broadcast.Tx = (*pgTx)(nil)
