package bolt_test

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/storetest"
)

// BenchmarkDueTimers measures the timer tick on a bbolt file holding
// 1,000,000 pending timers: firing the 10,000 due ones in one transaction,
// and the idle tick that finds none. Both should cost what is due, not what
// is pending:
//
//	go test -run x -bench DueTimers -benchtime 3x ./automation/store/bolt/
func BenchmarkDueTimers(b *testing.B) {
	storetest.BenchmarkDueTimers(b, func(b *testing.B) engine.Store { return open(b) })
}

// BenchmarkOutboxClaim measures one claim of 16 sends (and one claim that
// completes them) on bbolt files holding 1,000, 10,000 and 100,000 queued
// sends. It should not grow with the backlog:
//
//	go test -run x -bench OutboxClaim ./gateway/store/
func BenchmarkOutboxClaim(b *testing.B) {
	storetest.BenchmarkOutboxClaim(b, func(b *testing.B) engine.Store { return open(b) })
}
