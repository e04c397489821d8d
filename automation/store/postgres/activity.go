package postgres

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// activityShards spreads each hour's counter of a kind over several rows,
// picked by the connection's backend: the counter row of an hour is locked
// from the write that counts until the commit, so one row would make the
// transactions of every process that store a message wait for each other.
// Reading sums the shards: at most activityShards rows an hour and kind.
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

// Activity implements engine.ActivityStore: the shards of each hour's
// counters summed, over the primary key's range of hours.
func (t *pgTx) Activity(from, to time.Time) ([]engine.Activity, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT hour, kind, automation, sum(n)::bigint FROM activity
		WHERE hour >= $1 AND hour < $2 GROUP BY hour, kind, automation HAVING sum(n) <> 0
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
