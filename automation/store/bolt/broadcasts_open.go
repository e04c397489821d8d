package bolt

import "github.com/keyway-sms/keyway/automation/broadcast"

// OpenBroadcasts implements broadcast.Tx, from the index of pending
// broadcasts alone (those ending their enrollments are passed over).
func (t *boltTx) OpenBroadcasts(limit int) ([]*broadcast.Broadcast, error) {
	var out []*broadcast.Broadcast
	cur := t.tx.Bucket(bBcastOpen).Cursor()
	for k, _ := cur.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
		b, err := t.Broadcast(string(k))
		if err != nil {
			return nil, err
		}
		if b.Open() {
			out = append(out, b)
		}
	}
	return out, nil
}
