package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// gatedStore holds every read of enrollments for reconciling until open is
// closed.
type gatedStore struct {
	engine.Store
	open chan struct{}
}

func (s *gatedStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.View(ctx, func(tx engine.Tx) error { return fn(gatedTx{tx, s.open}) })
}

type gatedTx struct {
	engine.Tx
	open chan struct{}
}

func (tx gatedTx) ActiveEnrollmentsOf(automation, after string, limit int) ([]*engine.Enrollment, error) {
	<-tx.open
	return tx.Tx.ActiveEnrollmentsOf(automation, after, limit)
}

func (tx gatedTx) Enrollments(automation, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	<-tx.open
	return tx.Tx.Enrollments(automation, contact, activeOnly, limit)
}

// Ready does not wait for reconciling the stored enrollments with the
// config: with the reading of enrollments held, the gateway becomes ready
// and the enrollment of a removed automation is still active; once the
// reading goes on, it ends.
func TestReadyBeforeReconcileEnds(t *testing.T) {
	st := &gatedStore{Store: mem.NewMemStore(), open: make(chan struct{})}
	ctx := context.Background()
	stale := &engine.Enrollment{ID: "e1", Automation: "gone", Contact: "+15550001111", Status: engine.EnrollmentWaitingReply, Step: "#1", StepType: "wait_for_reply"}
	if err := st.Update(ctx, func(tx engine.Tx) error { return tx.PutEnrollment(stale) }); err != nil {
		t.Fatal(err)
	}
	g := devGateway(t, st, `server: { listen: "127.0.0.1:0" }`+"\n")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	var release sync.Once
	openGate := func() { release.Do(func() { close(st.open) }) }
	defer func() {
		openGate() // a reconcile that holds Run up goes on, and Run can stop
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	status := func() engine.EnrollmentStatus {
		var en *engine.Enrollment
		if err := st.Store.View(ctx, func(tx engine.Tx) error {
			var err error
			en, err = tx.Enrollment("e1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return en.Status
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-deadline:
				t.Fatalf("not within 30s: %s", what)
			case <-tick.C:
			}
		}
	}
	waitFor("ready while reconciling waits", g.ready.Load)
	if s := status(); s != engine.EnrollmentWaitingReply {
		t.Fatalf("when ready, the enrollment of the removed automation is %s: reconcile ran before ready", s)
	}
	openGate()
	waitFor("the enrollment of the removed automation ends", func() bool { return status() == engine.EnrollmentEnded })
}
