package engine_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// rerunStore runs the first Update's fn twice, as a store that retries
// after a conflict does: once on a transaction it rolls back, then, after
// between has changed what is stored (the write that conflicted), again
// for real.
type rerunStore struct {
	engine.Store
	between func(tx engine.Tx) error
	reran   bool
}

var errConflict = errors.New("conflict: run again")

func (s *rerunStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if s.reran {
		return s.Store.Update(ctx, fn)
	}
	s.reran = true
	err := s.Store.Update(ctx, func(tx engine.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errConflict
	})
	if !errors.Is(err, errConflict) {
		return err
	}
	if err := s.Store.Update(ctx, s.between); err != nil {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// What the engine reports of a transaction the store ran twice is what the
// run that committed did, never a mix of both runs: the first run's
// results, computed on a state that changed before the second, are gone.
func TestARerunTransactionReportsOnlyTheRunThatCommitted(t *testing.T) {
	ctx := context.Background()
	const src = `
automations:
  - id: hello
    keywords: [HELLO]
    steps:
      - { type: reply, text: "Hi" }
`
	newEngine := func(t *testing.T, between func(tx engine.Tx) error) *engine.Engine {
		t.Helper()
		s := &rerunStore{Store: mem.NewMemStore(), between: between}
		return engine.New(s, compileSet(t, src), engine.Options{})
	}

	t.Run("start", func(t *testing.T) {
		// Between the runs, +15550002222 opts out: the first run started
		// it, the committed one skips it.
		e := newEngine(t, func(tx engine.Tx) error {
			return tx.PutContact(&engine.Contact{Phone: "+15550002222", OptedOut: true})
		})
		res, err := e.Start(ctx, "hello", []string{"+15550001111", "+15550002222"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Started, []string{"+15550001111"}) || res.Skipped["+15550002222"] != "opted out" || len(res.Skipped) != 1 {
			t.Fatalf("start = %+v, want +15550001111 started and +15550002222 skipped as opted out", res)
		}
	})

	t.Run("inbound", func(t *testing.T) {
		// Between the runs, the same webhook is stored by another process:
		// the first run routed it as a keyword, the committed one finds a
		// duplicate and does nothing.
		e := newEngine(t, func(tx engine.Tx) error {
			return tx.PutMessage(&engine.Message{ID: "m0", Provider: "test", ProviderID: "SM1", Direction: engine.Inbound,
				Contact: "+15550001111", From: "+15550001111", To: []string{"+15005550006"}, Body: "HELLO"})
		})
		h, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: "SM1", Channel: "sms",
			From: "+15550001111", To: "+15005550006", Body: "HELLO"})
		if err != nil {
			t.Fatal(err)
		}
		if !h.Duplicate || h.Via != "" || h.Message == nil || h.Message.ID != "m0" {
			t.Fatalf("handled = %+v, want the stored duplicate m0 and no route", h)
		}
	})

	t.Run("contact", func(t *testing.T) {
		// Between the runs, the contact is created: the first run created
		// it, the committed one changes it.
		e := newEngine(t, func(tx engine.Tx) error {
			return tx.PutContact(&engine.Contact{Phone: "+15550001111", Name: "Ann"})
		})
		name := "Bea"
		c, created, err := e.UpdateContact(ctx, "+15550001111", engine.ContactUpdate{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if created || c.Name != "Bea" {
			t.Fatalf("update = %+v, created %v; want Bea, not created", c, created)
		}
	})
}
