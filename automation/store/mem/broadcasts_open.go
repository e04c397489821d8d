package mem

import "github.com/keyway-sms/keyway/automation/broadcast"

// OpenBroadcasts implements broadcast.Tx, from the index of pending
// broadcasts alone (those ending their enrollments are passed over).
func (tx *memTx) OpenBroadcasts(limit int) ([]*broadcast.Broadcast, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*broadcast.Broadcast
	var err error
	tx.st.bcast.open.ascend("", func(id string, _ struct{}) bool {
		if memLimit(limit, len(out)) {
			return false
		}
		var b *broadcast.Broadcast
		if b, err = tx.Broadcast(id); err != nil {
			return false
		}
		if b.Open() {
			out = append(out, b)
		}
		return true
	})
	return out, err
}
