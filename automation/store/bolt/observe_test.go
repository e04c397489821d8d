package bolt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Each commit of the writer is told, with its wall time.
func TestObserveCommitsTellsEachCommit(t *testing.T) {
	s := open(t)
	var mu sync.Mutex
	var seen []time.Duration
	s.ObserveCommits(func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, d)
	})
	for range 3 {
		if err := s.Update(context.Background(), func(tx engine.Tx) error {
			return tx.PutContact(&engine.Contact{Phone: "+12025550123"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("told of %d commits, want 3", len(seen))
	}
	for _, d := range seen {
		if d <= 0 {
			t.Errorf("a commit took %v", d)
		}
	}
}
