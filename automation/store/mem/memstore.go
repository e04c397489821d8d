// Package mem is an engine.Store held in memory, for `keyway simulate` and
// for tests.
package mem

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/keyway-sms/keyway/automation/engine"
)

// MemStore is a Store held in memory, for `keyway simulate` and for tests.
// It behaves like a transactional database: one Update at a time, each
// seeing its own writes and keeping none of them if it fails; Views run
// side by side, and alongside an Update, on the last committed state.
// Values are stored as JSON, so what a caller holds is never the stored
// value itself.
//
// Every table and index is a copy-on-write ordered tree (a treap): an
// Update works on its own version of the roots, copying only the nodes it
// changes, and a commit publishes the new roots in one atomic store, so a
// rollback is simply dropping them. Range reads, due timers included, cost
// the log of the size plus what they return.
//
// A limit of zero or less means no limit.
type MemStore struct {
	writeMu sync.Mutex // held by the one Update under way
	state   atomic.Pointer[memState]
	txSeq   uint64 // guarded by writeMu; owner of the nodes an Update creates
	closed  atomic.Bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	s := &MemStore{}
	s.state.Store(&memState{})
	return s
}

var (
	errMemClosed   = errors.New("mem: closed")
	errMemReadOnly = errors.New("mem: write in a read-only transaction")
	errMemTxDone   = errors.New("mem: transaction used after it ended")
)

// Update runs fn in a read-write transaction. Updates run one at a time;
// if fn returns an error, nothing it wrote is kept and the error is
// returned as it is.
func (s *MemStore) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return errMemClosed
	}
	s.txSeq++
	work := *s.state.Load()
	tx := &memTx{st: &work, owner: s.txSeq, writable: true}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	s.state.Store(tx.st)
	return nil
}

// View runs fn in a read-only transaction on the last committed state.
// Views do not wait for each other nor for an Update under way.
func (s *MemStore) View(ctx context.Context, fn func(tx engine.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tx := &memTx{st: s.state.Load()}
	err := fn(tx)
	tx.done = true
	return err
}

// Close closes the store: it waits for an Update under way, and later
// calls to Update and View fail.
func (s *MemStore) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closed.Store(true)
	return nil
}

// Healthy implements Store: memory never fails to commit, so the store is
// healthy until it is closed.
func (s *MemStore) Healthy(context.Context) error {
	if s.closed.Load() {
		return errMemClosed
	}
	return nil
}

func (s *MemStore) usable(ctx context.Context) error {
	if s.closed.Load() {
		return errMemClosed
	}
	return ctx.Err()
}

var (
	_ engine.Store = (*MemStore)(nil)
	_ engine.Tx    = (*memTx)(nil)
)
