package postgres

import "github.com/keyway-sms/keyway/automation/broadcast"

// OpenBroadcasts implements broadcast.Tx, with each one's counters, in
// one query on the partial index of pending broadcasts (broadcasts_open),
// passing over those ending their enrollments.
func (t *pgTx) OpenBroadcasts(limit int) ([]*broadcast.Broadcast, error) {
	return t.listBroadcasts("list open broadcasts",
		broadcastCols+`WHERE b.open AND b.data->>'status' IN ('scheduled', 'running') ORDER BY b.id LIMIT $1`, limitArg(limit))
}
