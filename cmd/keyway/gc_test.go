package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		headroom, live uint64
		want           int
	}{
		{32 << 20, 4 << 20, 800},
		{32 << 20, 64 << 20, 100}, // a large heap is collected as Go would
		{32 << 20, 32 << 20, 100},
		{32 << 20, 1 << 10, gcMaxPercent},
		{32 << 20, 0, gcMaxPercent},
	} {
		if got := gcPercent(c.headroom, c.live); got != c.want {
			t.Errorf("gcPercent(%d, %d) = %d, want %d", c.headroom, c.live, got, c.want)
		}
	}
}

// gogc reads the GOGC in force.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTuneGCRaisesGOGCForASmallHeap checks that GOGC in the environment
// turns the tuner off, and that otherwise, for the small live heap of a
// test, it raises GOGC and keeps it raised over collections.
func TestTuneGCRaisesGOGCForASmallHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "100")
	tuneGC(gcHeadroom)
	runtime.GC()
	runtime.GC() // the finalizers of the first run after it
	if got := gogc(); got != 100 {
		t.Errorf("with GOGC set, GOGC became %d", got)
	}

	t.Setenv("GOGC", "")
	tuneGC(gcHeadroom)
	for range 3 {
		runtime.GC()
		if got := gogc(); got <= 100 {
			t.Fatalf("GOGC is %d for a live heap of a few MB", got)
		}
	}
}
