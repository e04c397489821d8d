package gateway

import (
	"context"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// scanCountingStore counts the pages of every contact its transactions
// read.
type scanCountingStore struct {
	engine.Store
	scans atomic.Int64
}

type scanCountingTx struct {
	engine.Tx
	s *scanCountingStore
}

func (tx scanCountingTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	tx.s.scans.Add(1)
	return tx.Tx.ContactsPage(after, limit)
}

func (s *scanCountingStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.View(ctx, func(tx engine.Tx) error { return fn(scanCountingTx{tx, s}) })
}

// The contact list and the start page's count, filtered by tag, read the
// tagged contacts through the tag index, not every contact.
func TestTagFiltersWalkTheTagIndex(t *testing.T) {
	cfg, set := compiled(t, dashConfig)
	st := &scanCountingStore{Store: mem.NewMemStore()}
	log := zerolog.New(io.Discard)
	tw, err := twilio.New(cfg.Providers.Twilio, cfg.Defaults.Region, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: cfg, Set: set, Store: st, Providers: []providers.Provider{tw}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(t.Context(), func(tx engine.Tx) error {
		for i, p := range []string{"+15552220001", "+15552220002", "+15552220003", "+15552220004"} {
			c := &engine.Contact{Phone: p, Tags: []string{"other"}}
			if i%2 == 1 {
				c.Tags = append(c.Tags, "lead")
			}
			c.OptedOut = i == 3
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	list, next, err := g.contactsPage(t.Context(), contactFilter{Tag: "lead"}, "", 10)
	var got []string
	for _, c := range list {
		got = append(got, c.Phone)
	}
	if err != nil || next != "" || !slices.Equal(got, []string{"+15552220002", "+15552220004"}) {
		t.Errorf("contacts tagged lead: %v, next %q, %v; want +15552220002 and +15552220004", got, next, err)
	}
	p := &startPlan{Skipped: map[string]int{}}
	if err := g.count(t.Context(), p, contactFilter{Tag: "lead"}); err != nil || p.Reach != 1 || p.Skipped["opted out"] != 1 {
		t.Errorf("the start page's count for tag lead: reach %d, skipped %v, %v; want 1, one opted out", p.Reach, p.Skipped, err)
	}
	if n := st.scans.Load(); n != 0 {
		t.Errorf("filtering by tag read %d pages of every contact, want none", n)
	}
	// Without a filter, every contact is read (the counter counts).
	if list, _, err := g.contactsPage(t.Context(), contactFilter{}, "", 10); err != nil || len(list) != 4 || st.scans.Load() == 0 {
		t.Errorf("unfiltered: %d contacts, %v, %d pages read; want 4 through ContactsPage", len(list), err, st.scans.Load())
	}
}
