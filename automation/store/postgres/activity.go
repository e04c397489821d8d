package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
)

// activityShards spreads each hour's counter of a kind over several rows,
// picked by the connection's backend. Schema version 4 counted into them
// directly; since version 9 the triggers append to activity_log instead
// and foldActivity moves the counts here, into shard 0 (see activityLog).
const activityShards = 16

// activitySchema is schema version 4: the activity table and the triggers
// that keep it, the same rules as engine.MessageActivity,
// engine.ContactActivity and engine.EnrollmentActivity (the conformance
// suite holds the stores to one behaviour). Triggers, rather than
// statements the store sends, keep the counting in the commit of the
// write without one more round trip per message. An hour is Unix seconds
// divided by 3600.
var activitySchema = fmt.Sprintf(`
CREATE TABLE activity (
	hour       bigint NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	automation text COLLATE "C" NOT NULL,
	shard      smallint NOT NULL,
	n          bigint NOT NULL,
	PRIMARY KEY (hour, kind, automation, shard)
);
CREATE FUNCTION keyway_count(at timestamptz, what text, auto text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO activity (hour, kind, automation, shard, n)
	VALUES (floor(extract(epoch FROM at) / 3600)::bigint, what, auto, pg_backend_pid() %% %d, 1)
	ON CONFLICT (hour, kind, automation, shard) DO UPDATE SET n = activity.n + 1
$$;
-- keyway_time reads a time a record holds under key: NULL when absent or
-- Go's zero time.
CREATE FUNCTION keyway_time(data jsonb, key text) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT nullif((data->>key)::timestamptz, '0001-01-01 00:00:00+00'::timestamptz)
$$;
CREATE FUNCTION keyway_count_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM keyway_count((NEW.data->>'created_at')::timestamptz,
			CASE WHEN NEW.data->>'direction' = 'out' THEN 'out' ELSE 'in' END, '');
	END IF;
	IF NEW.data->>'status' IN ('failed', 'undelivered')
		AND (TG_OP = 'INSERT' OR coalesce(OLD.data->>'status' NOT IN ('failed', 'undelivered'), true)) THEN
		PERFORM keyway_count(coalesce(keyway_time(NEW.data, 'updated_at'), (NEW.data->>'created_at')::timestamptz), 'failed', '');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER messages_counted AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION keyway_count_message();
CREATE TRIGGER messages_failed_counted AFTER UPDATE ON messages
	FOR EACH ROW WHEN (NEW.data->>'status' IN ('failed', 'undelivered')
		AND (OLD.data->>'status') IS DISTINCT FROM (NEW.data->>'status'))
	EXECUTE FUNCTION keyway_count_message();
CREATE FUNCTION keyway_count_contact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.data->>'opted_out' = 'true' AND (TG_OP = 'INSERT' OR coalesce(OLD.data->>'opted_out', '') <> 'true') THEN
		PERFORM keyway_count(coalesce(keyway_time(NEW.data, 'opted_out_at'), keyway_time(NEW.data, 'updated_at'),
			(NEW.data->>'created_at')::timestamptz), 'opted_out', '');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER contacts_counted AFTER INSERT OR UPDATE ON contacts
	FOR EACH ROW WHEN (NEW.data->>'opted_out' = 'true') EXECUTE FUNCTION keyway_count_contact();
CREATE FUNCTION keyway_count_enrollment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keyway_count((NEW.data->>'started_at')::timestamptz, 'enrolled', NEW.automation);
	RETURN NULL;
END
$$;
CREATE TRIGGER enrollments_counted AFTER INSERT ON enrollments
	FOR EACH ROW EXECUTE FUNCTION keyway_count_enrollment();
`, activityShards)

// activityLog is schema version 9. Counting into a row of activity locked
// that row from the write that counted to the commit, through the commit's
// flush of the WAL; with every webhook's messages counted into the same
// hour, transactions that shared a shard queued behind each other (the
// most common wait of a webhook's transaction under load, three processes
// or one). The triggers now append a row to activity_log, which no other
// transaction ever waits for, and foldActivity sums the log into activity
// every few seconds. Reading adds the rows not yet folded.
const activityLog = `
CREATE TABLE activity_log (
	hour       bigint NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	automation text COLLATE "C" NOT NULL,
	n          bigint NOT NULL
);
CREATE OR REPLACE FUNCTION keyway_count(at timestamptz, what text, auto text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO activity_log (hour, kind, automation, n)
	VALUES (floor(extract(epoch FROM at) / 3600)::bigint, what, auto, 1)
$$;
`

// activityPlanned is schema version 11. keyway_count was a LANGUAGE sql
// function: PostgreSQL parses and plans such a function's body at every
// call from a trigger, about a tenth of the server's CPU per webhook
// under load. In PL/pgSQL its INSERT is planned once per connection.
const activityPlanned = `
CREATE OR REPLACE FUNCTION keyway_count(at timestamptz, what text, auto text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO activity_log (hour, kind, automation, n)
	VALUES (floor(extract(epoch FROM at) / 3600)::bigint, what, auto, 1);
END
$$;
`

// activityFoldEvery is how often a process folds activity_log into
// activity.
const activityFoldEvery = 5 * time.Second

// activityFoldLock is the key of the transaction advisory lock a fold
// tries first, so that processes folding at the same moment do not queue
// on each other's rows: one folds, the others leave it to the next tick.
const activityFoldLock = 0x6b65797761790002 // "keyway" 2

// foldLoop folds activity_log into activity until the store closes.
func (s *Store) foldLoop() {
	tick := time.NewTicker(activityFoldEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = s.foldActivity(ctx) // the log keeps the counts; the next tick tries again
		cancel()
	}
}

// foldActivity moves the counts in activity_log into activity, in one
// transaction: the rows deleted are the rows summed, so a count is never
// lost nor added twice, whatever another process does at the same time.
func (s *Store) foldActivity(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(activityFoldLock)).Scan(&mine); err != nil || !mine {
			return err
		}
		_, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM activity_log RETURNING hour, kind, automation, n)
			INSERT INTO activity (hour, kind, automation, shard, n)
			SELECT hour, kind, automation, 0, sum(n) FROM gone GROUP BY hour, kind, automation
			ON CONFLICT (hour, kind, automation, shard) DO UPDATE SET n = activity.n + EXCLUDED.n`)
		if err != nil {
			return fmt.Errorf("postgres: fold the activity counts: %w", err)
		}
		return nil
	})
}

// Activity implements engine.ActivityStore: each hour's counters summed
// over the shards of activity and the rows of activity_log not yet
// folded into them, over the range of hours.
func (t *pgTx) Activity(from, to time.Time) ([]engine.Activity, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT hour, kind, automation, sum(n)::bigint FROM (
			SELECT hour, kind, automation, n FROM activity WHERE hour >= $1 AND hour < $2
			UNION ALL
			SELECT hour, kind, automation, n FROM activity_log WHERE hour >= $1 AND hour < $2
		) AS counted GROUP BY hour, kind, automation HAVING sum(n) <> 0
		ORDER BY hour, kind, automation`, hourOf(from), hourOf(to))
	if err != nil {
		return nil, fmt.Errorf("postgres: activity: %w", err)
	}
	defer rows.Close()
	var out []engine.Activity
	for rows.Next() {
		var hour, n int64
		var a engine.Activity
		if err := rows.Scan(&hour, &a.Kind, &a.Automation, &n); err != nil {
			return nil, fmt.Errorf("postgres: activity: %w", err)
		}
		a.Hour, a.N = time.Unix(hour*3600, 0).UTC(), int(n)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: activity: %w", err)
	}
	return out, nil
}

// hourOf is the hour a time is counted in, as the activity table keys it.
func hourOf(t time.Time) int64 { return engine.ActivityHour(t).Unix() / 3600 }
