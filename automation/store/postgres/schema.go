package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, in order: migrations[i] takes the
// schema from version i to i+1. A released migration is never edited; a
// change is a new one appended. Keys are collated "C" so that they sort by
// bytes, as the bbolt store's keys do.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE contacts (
	phone text COLLATE "C" PRIMARY KEY,
	data  jsonb NOT NULL
);
CREATE TABLE contact_groups (
	grp   text COLLATE "C" NOT NULL,
	phone text COLLATE "C" NOT NULL,
	PRIMARY KEY (grp, phone)
);
CREATE TABLE messages (
	id          text COLLATE "C" PRIMARY KEY,
	provider    text COLLATE "C" NOT NULL,
	provider_id text COLLATE "C",
	contact     text COLLATE "C" NOT NULL,
	created_ns  bigint NOT NULL,
	data        jsonb NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider, provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX messages_contact ON messages (contact, id) WHERE contact <> '';
CREATE INDEX messages_created ON messages (created_ns);
CREATE TABLE outbox (
	message_id   text COLLATE "C" PRIMARY KEY,
	queue        text COLLATE "C" NOT NULL,
	due_ns       bigint NOT NULL,
	owner        text COLLATE "C" NOT NULL DEFAULT '',
	lease_ns     bigint NOT NULL,
	head         boolean NOT NULL,
	claimable_ns bigint NOT NULL
);
CREATE INDEX outbox_queue ON outbox (queue, message_id);
CREATE INDEX outbox_claimable ON outbox (claimable_ns, message_id) WHERE head;
CREATE INDEX outbox_owner ON outbox (owner, message_id) WHERE owner <> '';
CREATE TABLE enrollments (
	id         text COLLATE "C" PRIMARY KEY,
	automation text COLLATE "C" NOT NULL,
	contact    text COLLATE "C" NOT NULL,
	active     boolean NOT NULL,
	data       jsonb NOT NULL
);
CREATE INDEX enrollments_contact ON enrollments (contact, id);
CREATE INDEX enrollments_automation ON enrollments (automation, id);
CREATE TABLE active_enrollments (
	contact    text COLLATE "C" NOT NULL,
	automation text COLLATE "C" NOT NULL,
	id         text COLLATE "C" NOT NULL,
	PRIMARY KEY (contact, automation)
);
CREATE TABLE timers (
	due_ns     bigint NOT NULL,
	enrollment text COLLATE "C" NOT NULL,
	data       jsonb NOT NULL,
	PRIMARY KEY (due_ns, enrollment)
);
CREATE TABLE held_timers (
	automation text COLLATE "C" NOT NULL,
	due_ns     bigint NOT NULL,
	enrollment text COLLATE "C" NOT NULL,
	data       jsonb NOT NULL,
	PRIMARY KEY (automation, due_ns, enrollment)
);
CREATE TABLE meta (
	key   text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);
`,
	// 2: the send slots that pace each sender number across processes, and
	// the slots booked for sends that wait for theirs.
	`
CREATE TABLE send_slots (
	number  text COLLATE "C" PRIMARY KEY,
	next_ns bigint NOT NULL
);
CREATE TABLE send_bookings (
	message_id text COLLATE "C" PRIMARY KEY,
	at_ns      bigint NOT NULL
);
CREATE INDEX send_bookings_at ON send_bookings (at_ns);
`,
	// 3: the enrollments at an open handoff, so that /metrics counts them
	// without reading every active enrollment (pgTx.OpenHandoffCount).
	`
CREATE INDEX enrollments_open_handoff ON enrollments (id)
	WHERE active AND data->>'status' = 'handoff' AND jsonb_typeof(data->'handoff') = 'object';
`,
	// 4: what happened per hour, counted by triggers in the commit of the
	// write that causes it (activity.go).
	activitySchema,
	// 5: the event deliveries, one queue per endpoint and contact
	// (events.go); the body is kept byte for byte, as it is signed.
	`
CREATE TABLE events (
	id           text COLLATE "C" PRIMARY KEY,
	queue        text COLLATE "C" NOT NULL,
	pending      boolean NOT NULL,
	head         boolean NOT NULL,
	claimable_ns bigint NOT NULL,
	settled_ns   bigint NOT NULL,
	data         jsonb NOT NULL,
	body         bytea NOT NULL
);
CREATE INDEX events_queue ON events (queue, id) WHERE pending;
CREATE INDEX events_claimable ON events (claimable_ns, id) WHERE head AND pending;
CREATE INDEX events_settled ON events (settled_ns, id) WHERE NOT pending;
`,
	// 6: broadcasts (broadcasts.go): the records, the listed contacts of
	// each, its counters, what each of its messages was counted toward,
	// and the contacts it sent to, for its replies.
	`
CREATE TABLE broadcasts (
	id   text COLLATE "C" PRIMARY KEY,
	open boolean NOT NULL,
	data jsonb NOT NULL
);
CREATE INDEX broadcasts_open ON broadcasts (id) WHERE open;
CREATE TABLE broadcast_contacts (
	broadcast text COLLATE "C" NOT NULL,
	pos       bigint NOT NULL,
	addr      text NOT NULL,
	PRIMARY KEY (broadcast, pos)
);
CREATE TABLE broadcast_counts (
	broadcast text COLLATE "C" PRIMARY KEY,
	sent      bigint NOT NULL,
	delivered bigint NOT NULL,
	failed    bigint NOT NULL,
	replied   bigint NOT NULL
);
CREATE TABLE broadcast_msgs (
	message_id text COLLATE "C" PRIMARY KEY,
	flags      smallint NOT NULL
);
CREATE TABLE broadcast_recipients (
	contact   text COLLATE "C" NOT NULL,
	broadcast text COLLATE "C" NOT NULL,
	first_ns  bigint NOT NULL,
	replied   boolean NOT NULL DEFAULT false,
	PRIMARY KEY (contact, broadcast)
);
`,
	// 7: the leased event deliveries by owner (events.go), so that a
	// process started again takes back its own at once.
	`
CREATE INDEX events_owner ON events ((data->>'owner')) WHERE head AND pending;
`,
	// 8: the contacts by tag (contacts.go), as contact_groups by group,
	// filled from the contacts stored so far.
	`
CREATE TABLE contact_tags (
	tag   text COLLATE "C" NOT NULL,
	phone text COLLATE "C" NOT NULL,
	PRIMARY KEY (tag, phone)
);
INSERT INTO contact_tags (tag, phone)
	SELECT DISTINCT t.tag, c.phone FROM contacts c, jsonb_array_elements_text(c.data->'tags') AS t(tag)
	WHERE jsonb_typeof(c.data->'tags') = 'array';
`,
	// 9: the activity counted into a log that no transaction waits on,
	// folded into activity in the background (activity.go).
	activityLog,
	// 10: the contacts by group they left (contacts.go), so that a
	// broadcast to a group counts them, filled from the contacts stored
	// so far.
	`
CREATE TABLE contact_left_groups (
	grp   text COLLATE "C" NOT NULL,
	phone text COLLATE "C" NOT NULL,
	PRIMARY KEY (grp, phone)
);
INSERT INTO contact_left_groups (grp, phone)
	SELECT DISTINCT g.grp, c.phone FROM contacts c, jsonb_array_elements_text(c.data->'left_groups') AS g(grp)
	WHERE jsonb_typeof(c.data->'left_groups') = 'array';
`,
	// 11: the activity triggers' INSERT planned once per connection, not
	// at every count (activity.go).
	activityPlanned,
	// 12: the check of a meta value a turn took from the store's memory
	// (meta.go).
	expectMeta,
	// 13: each pending event delivery's place in its queue, in the order
	// the deliveries were added (events.go), the pending ones numbered in
	// the order of their ids, as they were delivered so far.
	`
ALTER TABLE events ADD COLUMN seq bigint;
CREATE SEQUENCE events_seq OWNED BY events.seq;
UPDATE events SET seq = r.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM events WHERE pending) r WHERE events.id = r.id;
SELECT setval('events_seq', (SELECT count(*) + 1 FROM events WHERE pending), false);
ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq');
DROP INDEX events_queue;
CREATE INDEX events_queue ON events (queue, seq) WHERE pending;
`,
	// 14: each queued send's place in its recipients' queue, in the order
	// the sends were queued (sends.go), those queued so far numbered in
	// the order of their ids, as they were sent so far.
	`
ALTER TABLE outbox ADD COLUMN seq bigint;
CREATE SEQUENCE outbox_seq OWNED BY outbox.seq;
UPDATE outbox SET seq = r.n FROM (SELECT message_id, row_number() OVER (ORDER BY message_id) AS n FROM outbox) r WHERE outbox.message_id = r.message_id;
SELECT setval('outbox_seq', (SELECT count(*) + 1 FROM outbox), false);
ALTER TABLE outbox ALTER COLUMN seq SET DEFAULT nextval('outbox_seq'), ALTER COLUMN seq SET NOT NULL;
DROP INDEX outbox_queue;
CREATE INDEX outbox_queue ON outbox (queue, seq);
`,
}

// migrateLock is the key of the session advisory lock held while the
// schema is migrated, so that processes starting together take turns: the
// first migrates, the others then find the schema current.
const migrateLock = 0x6b65797761790001 // "keyway" 1

// migrate brings the schema to the latest version. It is a small versioned
// runner rather than a migration library: the schema is keyway's alone,
// migrations only move forward, and one advisory lock around a version
// table is all the coordination several processes starting at once need.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock)) //nolint:errcheck // the session ends with the connection anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS keyway_schema (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: create the version table: %w", err)
	}
	version := 0
	err = conn.QueryRow(ctx, `SELECT version FROM keyway_schema`).Scan(&version)
	switch {
	case err == pgx.ErrNoRows:
		if _, err := conn.Exec(ctx, `INSERT INTO keyway_schema (version) VALUES (0)`); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("postgres: migrate: read the schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("postgres: migrate: the database has schema version %d, newer than this keyway's %d: run a newer keyway", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE keyway_schema SET version = $1`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrate to schema version %d: %w", v+1, err)
		}
	}
	return nil
}
