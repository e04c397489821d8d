package engine

import (
	"testing"
	"time"
)

// Statuses holds every status Rank orders, so that the message log takes
// each status a report can leave on a message, and keyway's own.
func TestStatusesHoldWhatIsRecorded(t *testing.T) {
	for s := range statusRank {
		if !s.Recorded() {
			t.Errorf("%q is ranked but not one of Statuses", s)
		}
	}
	for _, s := range []MessageStatus{StatusReceived, StatusDev, StatusSuppressed} {
		if !s.Recorded() {
			t.Errorf("keyway's own %q is not one of Statuses", s)
		}
	}
	for _, s := range []MessageStatus{"", "bogus", "FAILED", "canceled"} {
		if s.Recorded() {
			t.Errorf("%q counts as recorded", s)
		}
	}
}

// IsID takes the ids keyway makes, and nothing else.
func TestIsID(t *testing.T) {
	var g idGen
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for range 3 {
		if id := g.next(now); !IsID(id) {
			t.Errorf("%q, made by keyway, is not an id", id)
		}
	}
	for _, s := range []string{"", "garbage", "188a2b3c4d5e6f70a1b2c", "188a2b3c4d5e6f70a1b2c3d", "188A2B3C4D5E6F70A1B2C3", "188a2b3c4d5e6f70a1b2cz"} {
		if IsID(s) {
			t.Errorf("%q counts as an id", s)
		}
	}
}
