package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// OnWake registers fn to be called whenever another process sharing the
// database commits a transaction that queued, released or took out a send
// (at most once a notifyGap per process), so that the sends one process
// makes due are taken up soon by the others. A process's own commits do
// not call it: its engine wakes its workers itself. It uses LISTEN/NOTIFY
// on a connection of its own, started by the first call; a lost connection
// is made again after a second. Notifications are a hint: the caller still
// polls, slowly, as the safety net. fn must not block.
func (s *Store) OnWake(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakes = append(s.wakes, fn)
	if s.stop != nil || s.closed.Load() {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, make(chan struct{})
	go s.listen(ctx)
}

// listen calls the wake functions for each notification until ctx ends.
func (s *Store) listen(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		_ = err // the poll covers the gap; try again shortly
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		s.wake() // something may have been missed while not listening
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+wakeChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if s.heard != nil {
			s.heard(n.Payload)
		}
		if n.Payload != s.self {
			s.wake()
		}
	}
}

func (s *Store) wake() {
	s.mu.Lock()
	fns := append([]func(){}, s.wakes...)
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
