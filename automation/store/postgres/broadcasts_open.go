package postgres

import "github.com/keyway-sms/keyway/automation/broadcast"

// OpenBroadcasts implements broadcast.Tx, with each one's counters, in
// one query on the partial index of open broadcasts (broadcasts_open).
func (t *pgTx) OpenBroadcasts(limit int) ([]*broadcast.Broadcast, error) {
	return t.listBroadcasts("list open broadcasts", broadcastCols+`WHERE b.open ORDER BY b.id LIMIT $1`, limitArg(limit))
}
