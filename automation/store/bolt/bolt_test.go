package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/storetest"
)

func open(t testing.TB) *bolt.Bolt {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "sub", "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store { return open(t) })
}

// A failing update in a shared commit fails alone: the others commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx engine.Tx) error {
				if err := tx.PutMeta(fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
					return err
				}
				if i%8 == 0 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	err := s.View(ctx, func(tx engine.Tx) error {
		for i, uerr := range errs {
			_, gerr := tx.Meta(fmt.Sprintf("k%02d", i))
			switch {
			case i%8 == 0 && !errors.Is(uerr, boom):
				return fmt.Errorf("update %d: err %v, want boom", i, uerr)
			case i%8 == 0 && !errors.Is(gerr, engine.ErrNotFound):
				return fmt.Errorf("update %d failed but its write is visible", i)
			case i%8 != 0 && (uerr != nil || gerr != nil):
				return fmt.Errorf("update %d: %v / %v", i, uerr, gerr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Close commits the updates already queued and refuses later ones.
func TestCloseCommitsQueuedThenRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Update(ctx, func(tx engine.Tx) error { return tx.PutMeta("a", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx engine.Tx) error { return nil }); err == nil {
		t.Fatal("update after Close succeeded")
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx engine.Tx) error {
		v, err := tx.Meta("a")
		if err == nil && string(v) != "1" {
			err = fmt.Errorf("meta a = %q", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
