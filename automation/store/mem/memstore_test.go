package mem_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/automation/store/storetest"
)

func openMem(*testing.T) engine.Store { return mem.NewMemStore() }

func TestMemStore(t *testing.T) {
	storetest.Run(t, openMem)
}

func BenchmarkMemStoreDueTimers(b *testing.B) {
	storetest.BenchmarkDueTimers(b, func(*testing.B) engine.Store { return mem.NewMemStore() })
}

func BenchmarkMemStoreOutboxClaim(b *testing.B) {
	storetest.BenchmarkOutboxClaim(b, func(*testing.B) engine.Store { return mem.NewMemStore() })
}

var memT0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func TestMemStoreCanceledContext(t *testing.T) {
	s := mem.NewMemStore()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	if err := s.Update(ctx, func(engine.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: err = %v, want context.Canceled", err)
	}
	if err := s.View(ctx, func(engine.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a canceled context: err = %v, want context.Canceled", err)
	}
	if ran {
		t.Error("a transaction ran with a canceled context")
	}
}

func TestMemStoreTxAfterEnd(t *testing.T) {
	s := mem.NewMemStore()
	var kept engine.Tx
	if err := s.Update(t.Context(), func(tx engine.Tx) error { kept = tx; return tx.PutMeta("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := kept.PutMeta("k", []byte("later")); err == nil {
		t.Error("PutMeta on a committed transaction: no error")
	}
	if _, err := kept.Meta("k"); err == nil {
		t.Error("Meta on a committed transaction: no error")
	}
	if err := s.View(t.Context(), func(tx engine.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Meta("k"); err == nil {
		t.Error("Meta on an ended View: no error")
	}
	var v []byte
	err := s.View(t.Context(), func(tx engine.Tx) error {
		var err error
		v, err = tx.Meta("k")
		return err
	})
	if err != nil || string(v) != "v" {
		t.Errorf("Meta = %q, %v; want \"v\"", v, err)
	}
}

// TestMemStoreViewBesideUpdate checks that a View does not wait for an
// Update under way, which the conformance suite allows but the simulator
// and the engine's tests rely on not to be slow.
func TestMemStoreViewBesideUpdate(t *testing.T) {
	s := mem.NewMemStore()
	done := make(chan error, 1)
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		if err := tx.PutMeta("k", []byte("uncommitted")); err != nil {
			return err
		}
		go func() {
			done <- s.View(t.Context(), func(tx engine.Tx) error {
				if _, err := tx.Meta("k"); !errors.Is(err, engine.ErrNotFound) {
					return fmt.Errorf("Meta = %v, want ErrNotFound", err)
				}
				return nil
			})
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("the View waited for the Update")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMemStoreSnapshot checks that a View keeps reading the state it
// started on while Updates change the very nodes it reads.
func TestMemStoreSnapshot(t *testing.T) {
	s := mem.NewMemStore()
	put := func(i int) error {
		return s.Update(t.Context(), func(tx engine.Tx) error {
			c := &engine.Contact{Phone: fmt.Sprintf("+1555%04d", i%50), Name: fmt.Sprint(i), Groups: []string{fmt.Sprint("g", i%3)}}
			if err := tx.PutContact(c); err != nil {
				return err
			}
			if err := tx.DeleteTimer(engine.Timer{Due: memT0.Add(time.Duration(i-25) * time.Second), Enrollment: fmt.Sprint("e", i-25)}); err != nil {
				return err
			}
			return tx.PutTimer(engine.Timer{Due: memT0.Add(time.Duration(i) * time.Second), Enrollment: fmt.Sprint("e", i)})
		})
	}
	for i := range 100 {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func(tx engine.Tx) (string, error) {
		ts, err := tx.DueTimers(memT0.Add(time.Hour), 0)
		if err != nil {
			return "", err
		}
		cs, err := tx.ContactsInGroup("g1", "", 0)
		if err != nil {
			return "", err
		}
		out := fmt.Sprint(len(ts), ts[0].Enrollment)
		for _, c := range cs {
			out += " " + c.Phone + "=" + c.Name
		}
		return out, nil
	}
	updated := make(chan error)
	err := s.View(t.Context(), func(tx engine.Tx) error {
		before, err := snapshot(tx)
		if err != nil {
			return err
		}
		go func() {
			for i := 100; i < 300; i++ {
				if err := put(i); err != nil {
					updated <- err
					return
				}
			}
			updated <- nil
		}()
		if err := <-updated; err != nil {
			return err
		}
		after, err := snapshot(tx)
		if err != nil {
			return err
		}
		if after != before {
			return fmt.Errorf("a View's state changed under it:\nbefore %s\nafter  %s", before, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// memModel is what a MemStore should hold after a series of writes.
type memModel struct {
	timers map[string]engine.Timer            // key → pending timer
	held   map[string]map[string]engine.Timer // automation → key → timer
	groups map[string][]string                // phone → groups
	outbox map[string]string                  // message id → recipient
	heads  map[string]string                  // recipient → the message at the head of its queue
}

// enqueue queues id to recipient to: the head of its queue if it is the
// only one there.
func (m memModel) enqueue(id, to string) {
	if _, ok := m.outbox[id]; ok {
		return
	}
	m.outbox[id] = to
	if _, ok := m.heads[to]; !ok {
		m.heads[to] = id
	}
}

// dequeue takes id out; the least id left to its recipient takes its place
// at the head.
func (m memModel) dequeue(id string) {
	to, ok := m.outbox[id]
	if !ok {
		return
	}
	delete(m.outbox, id)
	if m.heads[to] != id {
		return
	}
	delete(m.heads, to)
	for other, r := range m.outbox {
		if r == to && (m.heads[to] == "" || other < m.heads[to]) {
			m.heads[to] = other
		}
	}
}

func memModelKey(tm engine.Timer) string {
	return fmt.Sprintf("%d/%s", tm.Due.UnixNano(), tm.Enrollment)
}

func (m memModel) clone() memModel {
	c := memModel{timers: maps.Clone(m.timers), held: map[string]map[string]engine.Timer{}, groups: maps.Clone(m.groups),
		outbox: maps.Clone(m.outbox), heads: maps.Clone(m.heads)}
	for a, h := range m.held {
		c.held[a] = maps.Clone(h)
	}
	return c
}

// TestMemStoreModel runs random writes, a third of them rolled back,
// against the store and a plain model, and compares every index after
// each transaction.
func TestMemStoreModel(t *testing.T) {
	s := mem.NewMemStore()
	rng := rand.New(rand.NewPCG(7, 11))
	model := memModel{timers: map[string]engine.Timer{}, held: map[string]map[string]engine.Timer{}, groups: map[string][]string{},
		outbox: map[string]string{}, heads: map[string]string{}}
	autos := []string{"a", "ab", "b"}
	allGroups := []string{"g", "gh", "h"}

	for round := range 400 {
		fail := rng.IntN(3) == 0
		var next memModel
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			next = model.clone()
			for range 1 + rng.IntN(30) {
				tm := engine.Timer{
					Due:        memT0.Add(time.Duration(rng.IntN(200)) * time.Second),
					Enrollment: fmt.Sprint("e", rng.IntN(40)),
					Automation: autos[rng.IntN(len(autos))],
					Epoch:      rng.IntN(1000),
				}
				var err error
				switch op := rng.IntN(8); op {
				case 0, 1:
					err = tx.PutTimer(tm)
					next.timers[memModelKey(tm)] = tm
				case 2:
					err = tx.DeleteTimer(tm)
					delete(next.timers, memModelKey(tm))
				case 3:
					// Hold a due timer, as the engine does.
					due, derr := tx.DueTimers(memT0.Add(time.Minute), 5)
					if derr != nil || len(due) == 0 {
						err = derr
						break
					}
					tm = due[rng.IntN(len(due))]
					err = tx.HoldTimer(tm)
					delete(next.timers, memModelKey(tm))
					if next.held[tm.Automation] == nil {
						next.held[tm.Automation] = map[string]engine.Timer{}
					}
					next.held[tm.Automation][memModelKey(tm)] = tm
				case 4:
					a := autos[rng.IntN(len(autos))]
					var n int
					n, err = tx.ReleaseTimers(a)
					if err == nil && n != len(next.held[a]) {
						err = fmt.Errorf("ReleaseTimers(%s) = %d, want %d", a, n, len(next.held[a]))
					}
					maps.Copy(next.timers, next.held[a])
					delete(next.held, a)
				case 5:
					phone := fmt.Sprintf("+1555%03d", rng.IntN(30))
					var gs []string
					for _, g := range allGroups {
						if rng.IntN(2) == 0 {
							gs = append(gs, g)
						}
					}
					err = tx.PutContact(&engine.Contact{Phone: phone, Groups: gs})
					next.groups[phone] = gs
				case 6:
					n := rng.IntN(50)
					id, to := fmt.Sprintf("m%03d", n), fmt.Sprintf("+1555%03d", n%7)
					err = tx.Enqueue(&engine.Message{ID: id, Kind: engine.KindText, To: []string{to}})
					next.enqueue(id, to)
				case 7:
					id := fmt.Sprintf("m%03d", rng.IntN(50))
					err = tx.Dequeue(id)
					next.dequeue(id)
				}
				if err != nil {
					return err
				}
			}
			if fail {
				return errors.New("rolled back")
			}
			return nil
		})
		switch {
		case fail && err == nil, !fail && err != nil:
			t.Fatalf("round %d: Update = %v", round, err)
		case !fail:
			model = next
		}
		if err := s.View(t.Context(), func(tx engine.Tx) error { return memCompare(tx, model, allGroups) }); err != nil {
			t.Fatalf("round %d (rolled back: %v): %v", round, fail, err)
		}
		// What can be claimed is the head of each queue, in id order (all
		// are due at once); the claim is rolled back.
		var claimed []string
		err = s.Update(t.Context(), func(tx engine.Tx) error {
			var err error
			if claimed, err = tx.ClaimSends(memT0, time.Minute, "model", 1000); err != nil {
				return err
			}
			return errors.New("rolled back")
		})
		if want := slices.Sorted(maps.Values(model.heads)); err == nil || !slices.Equal(claimed, want) {
			t.Fatalf("round %d: ClaimSends = %v (%v), want the heads %v", round, claimed, err, want)
		}
	}
}

func memCompare(tx engine.Tx, m memModel, groups []string) error {
	want := slices.SortedFunc(maps.Values(m.timers), func(a, b engine.Timer) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.Enrollment, b.Enrollment))
	})
	got, err := tx.DueTimers(memT0.Add(time.Hour), 0)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("DueTimers = %v\nwant %v", got, want)
	}
	// A limit and a now that cut the list.
	now := memT0.Add(100 * time.Second)
	cut := slices.DeleteFunc(slices.Clone(want), func(tm engine.Timer) bool { return tm.Due.After(now) })
	cut = cut[:min(len(cut), 7)]
	if got, err = tx.DueTimers(now, 7); err != nil || !slices.Equal(got, cut) {
		return fmt.Errorf("DueTimers(+100s, 7) = %v, %v\nwant %v", got, err, cut)
	}
	for _, g := range groups {
		var want []string
		for p, gs := range m.groups {
			if slices.Contains(gs, g) {
				want = append(want, p)
			}
		}
		slices.Sort(want)
		cs, err := tx.ContactsInGroup(g, "", 0)
		if err != nil {
			return err
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.Phone)
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("ContactsInGroup(%s) = %v, want %v", g, got, want)
		}
	}
	out, err := tx.Outbox("", 0)
	if err != nil {
		return err
	}
	if want := slices.Sorted(maps.Keys(m.outbox)); !slices.Equal(out, want) {
		return fmt.Errorf("Outbox = %v, want %v", out, want)
	}
	return nil
}
