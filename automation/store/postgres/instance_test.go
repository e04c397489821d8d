package postgres_test

import (
	"context"
	"testing"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A name one process holds is refused to another on the same database
// until the first closes; another name is free meanwhile.
func TestHoldNameIsHeldByOneProcess(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	hold := func(s interface {
		HoldName(ctx context.Context, name string) (bool, error)
	}, name string) bool {
		t.Helper()
		ok, err := s.HoldName(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !hold(a, "node0") {
		t.Fatal("the first process could not take node0")
	}
	if hold(b, "node0") {
		t.Fatal("a second process took node0 while the first holds it")
	}
	if !hold(b, "node1") {
		t.Fatal("node1 was refused, though no process holds it")
	}
	a.Close()
	if !hold(b, "node0") {
		t.Fatal("node0 was refused after the process holding it closed")
	}
}
