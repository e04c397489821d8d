package postgres

import "testing"

// A deferred statement's refusal names the write it was: the first in a
// plain statement, the one after the CTEs in a WITH.
func TestDescribe(t *testing.T) {
	for sql, want := range map[string]string{
		`INSERT INTO contacts (phone, data) VALUES ($1, $2) ON CONFLICT (phone) DO UPDATE SET data = EXCLUDED.data`: "insert into contacts",
		`SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`:                                                  "advisory lock",
		`DELETE FROM contact_groups WHERE phone = $1 AND NOT (grp = ANY($2))`:                                       "delete from contact_groups",
		putMessageSQL: "insert into messages",
		putInboundSQL: "insert into messages",
		`WITH gone AS (DELETE FROM outbox WHERE message_id = $1 RETURNING head, queue) UPDATE outbox SET head = true`: "update outbox",
		`SELECT 1`: "statement SELECT",
	} {
		if got := describe(sql); got != want {
			t.Errorf("describe(%.40q) = %q, want %q", sql, got, want)
		}
	}
}
