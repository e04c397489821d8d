package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcHeadroom is the least a serving keyway allocates between two garbage
// collections, while its live heap is small: see tuneGC.
const gcHeadroom = 32 << 20

// gcMaxPercent bounds the GOGC tuneGC sets, for a live heap of almost
// nothing.
const gcMaxPercent = 2000

// tuneGC keeps at least headroom bytes of allocation between collections:
// after each collection it sets GOGC to headroom as a percentage of the
// live heap, never below Go's default of 100 (a heap larger than headroom
// is collected as Go would) nor above gcMaxPercent. It does nothing when
// the GOGC environment variable is set: that setting wins.
//
// Why: keyway's live heap is a few MB (the data is in the bbolt file,
// mapped, not on the heap), while each webhook allocates ~100 KB (mostly
// bbolt reading the pages a transaction touches into nodes). With GOGC=100
// the collector would run every few MB, dozens of times a second under
// load, and its assists land on the one goroutine that runs every commit.
// The heap then grows by at most headroom, not by a factor of the live heap.
func tuneGC(headroom uint64) {
	if os.Getenv("GOGC") != "" {
		return
	}
	t := &gcTuner{headroom: headroom, percent: 100, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.adjust()
	t.arm()
}

type gcTuner struct {
	headroom uint64
	percent  int
	sample   []metrics.Sample
}

// gcSentinel is garbage made to be collected: its finalizer runs once
// after the collection that found it, and makes the next one.
type gcSentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t: t}, func(s *gcSentinel) {
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets GOGC for the live heap the last collection found.
func (t *gcTuner) adjust() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercent(t.headroom, t.sample[0].Value.Uint64())
	// Only a change of a tenth or more is worth telling the runtime.
	if d := p - t.percent; d*10 > t.percent || -d*10 > t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// gcPercent is the GOGC that lets a heap of live bytes grow by headroom,
// between 100 and gcMaxPercent.
func gcPercent(headroom, live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := headroom * 100 / live
	switch {
	case p < 100:
		return 100
	case p > gcMaxPercent:
		return gcMaxPercent
	}
	return int(p)
}
