package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/automation/store/postgres"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// TestMain stops the PostgreSQL cluster a test started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }

var errCrashed = errors.New("the process crashed")

// crashingStore is a store whose process dies right after the commit that
// records the message it watches failed: every transaction after that
// one fails, as none would run after a SIGKILL.
type crashingStore struct {
	engine.Store
	watch atomic.Value // string: the id of the message watched
	dead  atomic.Bool
	died  chan struct{} // closed when dead is set
	once  sync.Once
}

func newCrashingStore(s engine.Store) *crashingStore {
	return &crashingStore{Store: s, died: make(chan struct{})}
}

func (c *crashingStore) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	if c.dead.Load() {
		return errCrashed
	}
	if err := c.Store.Update(ctx, fn); err != nil {
		return err
	}
	id, _ := c.watch.Load().(string)
	if id == "" {
		return nil
	}
	return c.Store.View(ctx, func(tx engine.Tx) error {
		m, err := tx.Message(id)
		if err == nil && m.Status == engine.StatusFailed {
			c.dead.Store(true)
			c.once.Do(func() { close(c.died) })
		}
		return err
	})
}

// refusingTexter refuses every text with its error.
type refusingTexter struct{ err *providers.SendError }

func (r refusingTexter) Send(context.Context, providers.Outbound) (string, error) { return "", r.err }

// runOutbox runs an outbox of e on store, as the gateway wires it, until
// the test's stop function is called.
func runOutboxOf(t *testing.T, store engine.Store, e *engine.Engine, texter outbox.Texter) (stop func()) {
	t.Helper()
	ob := outbox.NewOutbox(outbox.OutboxOptions{
		Store: store, Texter: texter, Logger: zerolog.Nop(), Owner: "keyway", Provider: "test",
		Refused: func(ctx context.Context, tx engine.TurnTx, m *engine.Message, r engine.SendRefusal) (func(), error) {
			return e.RefusedIn(ctx, tx, m, r)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// patience is how long a test here waits for the outbox.
const patience = 20 * time.Second

// messagesTo returns the stored messages of the contact phone, newest
// first.
func messagesTo(t *testing.T, store engine.Store, phone string) []*engine.Message {
	t.Helper()
	var ms []*engine.Message
	err := store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ms, err = tx.Messages(phone, 50)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A provider's refusal and what it causes are stored in the one
// transaction that records the refusal: a process killed right after that
// commit has, once started again on the same store, the contact opted out
// or the step's window path taken (its template sent in place of the
// refused text), once.
func TestRefusalAndWhatItCausesSurviveACrash(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		open func(t *testing.T) (engine.Store, func() engine.Store) // the store, and its reopening after the crash
	}{
		{"mem", func(t *testing.T) (engine.Store, func() engine.Store) {
			s := mem.NewMemStore()
			return s, func() engine.Store { return s }
		}},
		{"bolt", func(t *testing.T) (engine.Store, func() engine.Store) {
			path := filepath.Join(t.TempDir(), "keyway.db")
			s, err := bolt.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s, func() engine.Store {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				again, err := bolt.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = again.Close() })
				return again
			}
		}},
		{"postgres", func(t *testing.T) (engine.Store, func() engine.Store) {
			dsn := pgtest.NewDatabase(t)
			s, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s, func() engine.Store {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				again, err := postgres.Open(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = again.Close() })
				return again
			}
		}},
	}
	cases := []struct {
		name    string
		keyword string
		refusal providers.SendError
		// after checks the store restarted on; sent is what the restarted
		// outbox sent.
		after func(t *testing.T, store engine.Store, phone string, sends <-chan providers.Outbound)
	}{
		{"outside the window: the template goes instead", "TMPL", providers.SendError{Status: 400, OutsideWindow: true}, afterWindowRefusal},
		{"opted out: the contact is opted out", "BARE", providers.SendError{Status: 400, OptedOut: true}, afterOptOut},
	}
	for _, st := range stores {
		for _, tc := range cases {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				const phone = "+15550007301"
				set := compileSet(t, windowRefusalConfig)
				store, reopen := st.open(t)
				crash := newCrashingStore(store)
				e := engine.New(crash, set, engine.Options{Logger: zerolog.Nop()})
				in := providers.Inbound{Provider: "test", ID: "WA1", Channel: config.ChannelWhatsApp, From: phone, To: "+15005550006", Body: tc.keyword}
				if _, err := e.HandleInbound(ctx, in); err != nil {
					t.Fatal(err)
				}
				ms := messagesTo(t, store, phone)
				if len(ms) != 2 || ms[0].Direction != engine.Outbound || ms[0].Status != engine.StatusQueued {
					t.Fatalf("messages %+v, want the inbound and the queued reply", ms)
				}
				refused := ms[0]
				crash.watch.Store(refused.ID)
				se := tc.refusal
				se.Err = errors.New("refused")
				stop := runOutboxOf(t, crash, e, refusingTexter{err: &se})
				select {
				case <-crash.died:
				case <-time.After(patience):
					t.Fatal("the refusal was never recorded")
				}
				stop()

				// Started again on the same store: nothing is owed to the
				// process that died.
				store = reopen()
				e = engine.New(store, set, engine.Options{Logger: zerolog.Nop()})
				sender := &recordingSender{sends: make(chan providers.Outbound, 64)}
				stop = runOutboxOf(t, store, e, sender)
				sent := func() []providers.Outbound {
					sender.mu.Lock()
					defer sender.mu.Unlock()
					return append([]providers.Outbound(nil), sender.sent...)
				}
				got := messagesTo(t, store, phone)
				var m *engine.Message
				for _, g := range got {
					if g.ID == refused.ID {
						m = g
					}
				}
				if m == nil || m.Status != engine.StatusFailed || m.Attempts != 1 {
					t.Fatalf("the refused message = %+v, want failed after 1 attempt", m)
				}
				tc.after(t, store, phone, sender.sends)
				stop()
				for _, o := range sent() {
					if o.ID == refused.ID {
						t.Errorf("the refused message was sent again: %+v", o)
					}
				}
			})
		}
	}
}

// afterWindowRefusal checks that the refused reply's step took its window
// path once: its template sent, and the enrollment still waiting after it.
func afterWindowRefusal(t *testing.T, store engine.Store, phone string, sends <-chan providers.Outbound) {
	t.Helper()
	timeout := time.After(patience)
	for template := false; !template; {
		select {
		case o := <-sends:
			template = o.ContentSID != ""
		case <-timeout:
			t.Fatal("the template was never sent")
		}
	}
	var templates int
	for _, m := range messagesTo(t, store, phone) {
		if m.ContentSID != "" {
			templates++
		}
	}
	if templates != 1 {
		t.Errorf("%d templates stored, want 1", templates)
	}
	err := store.View(context.Background(), func(tx engine.Tx) error {
		ens, err := tx.Enrollments("tmpl", phone, false, 10)
		if err != nil {
			return err
		}
		if len(ens) != 1 || ens[0].Status != engine.EnrollmentWaiting || ens[0].Step != "#2" {
			t.Errorf("enrollments %+v, want one waiting at #2", ens)
		}
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		if c.InWindow(config.ChannelWhatsApp, time.Now()) {
			t.Errorf("contact %+v still in the window", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// afterOptOut checks that the contact the provider refused as opted out is
// opted out, its enrollment ended.
func afterOptOut(t *testing.T, store engine.Store, phone string, _ <-chan providers.Outbound) {
	t.Helper()
	err := store.View(context.Background(), func(tx engine.Tx) error {
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		if !c.OptedOut {
			t.Errorf("contact %+v not opted out", c)
		}
		ens, err := tx.Enrollments("bare", phone, false, 10)
		if err != nil {
			return err
		}
		if len(ens) != 1 || ens[0].Active() {
			t.Errorf("enrollments %+v, want one ended", ens)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
