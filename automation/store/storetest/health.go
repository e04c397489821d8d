package storetest

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

var healthCases = []testCase{
	{"health/open-store-is-healthy", testHealthy},
}

// An open store that commits is healthy; a closed one says it is not.
func testHealthy(t *testing.T, s engine.Store) {
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy of an empty store: %v", err)
	}
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("k", []byte("v")) })
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy after a commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(t.Context()); err == nil {
		t.Error("Healthy of a closed store: nil, want an error")
	}
}
