package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// Messages are counted into a log that transactions never wait on, and
// the log is folded into the hourly counters: folding, also by several
// processes at once and while messages are stored, loses no count and
// adds none twice.
func TestActivityFoldsKeepEveryCount(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn) // two processes on one database
	at := time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)
	inbound := func(i int) *engine.Message {
		return &engine.Message{ID: fmt.Sprintf("m%05d", i), Direction: engine.Inbound, Kind: engine.KindText,
			Channel: "sms", Contact: "+12065550100", From: "+12065550100", To: []string{"+15005550006"},
			Body: "HELLO", Status: engine.StatusReceived, CreatedAt: at, UpdatedAt: at}
	}
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				m := inbound(w*each + i)
				if err := s.Update(t.Context(), func(tx engine.Tx) error { return tx.PutMessage(m) }); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := s.FoldActivity(t.Context()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	count := func() int {
		t.Helper()
		var n int
		err := a.View(t.Context(), func(tx engine.Tx) error {
			got, err := tx.Activity(at.Add(-time.Hour), at.Add(time.Hour))
			for _, x := range got {
				if x.Kind == "in" {
					n += x.N
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := count(); got != writers*each {
		t.Fatalf("before the last fold: %d messages in counted, want %d", got, writers*each)
	}
	if err := b.FoldActivity(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != writers*each {
		t.Fatalf("after the last fold: %d messages in counted, want %d", got, writers*each)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var left int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM activity_log`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d rows left in the log after a fold with no writer", left)
	}
}
