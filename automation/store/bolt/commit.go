package bolt

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

func (s *Bolt) commitLoop() {
	defer close(s.stopped)
	for {
		select {
		case u := <-s.updates:
			s.commit(s.drain([]*update{u}))
		case <-s.done:
			// Commit what was queued before Close, then stop.
			for g := s.drain(nil); len(g) > 0; g = s.drain(nil) {
				s.commit(g)
			}
			return
		}
	}
}

// drain adds the updates already waiting to group, up to maxGroup.
func (s *Bolt) drain(group []*update) []*update {
	for len(group) < maxGroup {
		select {
		case u := <-s.updates:
			group = append(group, u)
		default:
			return group
		}
	}
	return group
}

// commit runs a group of updates in one transaction, with those that
// arrive while it runs them (up to maxGroup). If one fails, it is answered
// with its own error after a solo run, and the rest run again.
func (s *Bolt) commit(group []*update) {
	for len(group) > 0 {
		failed := -1
		var fnErr error
		began := time.Now()
		err := s.db.Update(func(tx *bolt.Tx) error {
			t := &boltTx{tx: tx, writable: true}
			for i := 0; i < len(group); i++ {
				if err := group[i].fn(t); err != nil {
					failed, fnErr = i, err
					return err
				}
				if i == len(group)-1 {
					// Updates that arrived while the group ran join
					// it: they share this commit instead of waiting
					// for it to end and then for their own.
					group = s.drain(group)
				}
			}
			return t.flushEvents()
		})
		if observe := s.observe.Load(); observe != nil {
			(*observe)(time.Since(began))
		}
		switch {
		case err == nil:
			for _, u := range group {
				u.err <- nil
			}
			return
		case failed < 0:
			// The commit itself failed: every update shares the fault.
			s.health.Failed(err)
			for _, u := range group {
				u.err <- fmt.Errorf("bolt: commit: %w", err)
			}
			return
		}
		bad := group[failed]
		if len(group) == 1 {
			bad.err <- fnErr
			return
		}
		bad.err <- s.commitOne(bad)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// commitOne runs one update in a transaction of its own.
func (s *Bolt) commitOne(u *update) error {
	fnFailed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := &boltTx{tx: tx, writable: true}
		err := u.fn(t)
		fnFailed = err != nil
		if err != nil {
			return err
		}
		return t.flushEvents()
	})
	if err != nil && !fnFailed {
		s.health.Failed(err)
		return fmt.Errorf("bolt: commit: %w", err)
	}
	return err
}
