package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultProbeEvery is the least time between two probes of a CommitHealth,
// so that a readiness check polled by a load balancer stays cheap.
const DefaultProbeEvery = time.Second

// CommitHealth tracks whether a store can commit, for Store.Healthy. The
// store reports each commit that failed for a reason of its own (a full
// disk, an I/O error, not an error of the function it ran) with Failed.
// From then on Check answers with that failure until a probe succeeds:
// Probe runs only while there is a failure, at most once per Every, when
// Check is called. So a node whose disk filled up says so at once, and says
// it is ready again by itself once the disk has room.
//
// The zero CommitHealth without a Probe never recovers from a failure; a
// store sets Probe before its first commit. It is safe for concurrent use.
type CommitHealth struct {
	// Probe tries what a commit needs (a small write transaction, room for
	// new data) and returns nil when the store can commit again.
	Probe func(ctx context.Context) error
	// Every is the least time between probes; DefaultProbeEvery if zero.
	Every time.Duration
	// Clock tells the time; SystemClock if nil.
	Clock Clock

	mu       sync.Mutex
	fault    error     // why the store cannot commit; nil when healthy
	gen      uint64    // counts failures, so a probe does not clear a newer one
	probedAt time.Time // when the last probe started
	probing  bool
}

// Failed records that a commit failed with err.
func (h *CommitHealth) Failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault = fmt.Errorf("last commit failed: %w", err)
	h.gen++
}

// Check returns nil when the store is healthy: no commit has failed since
// the last successful probe. Otherwise it probes, unless a probe is under
// way or ran less than Every ago, and returns why the store cannot commit.
func (h *CommitHealth) Check(ctx context.Context) error {
	h.mu.Lock()
	if h.fault == nil {
		h.mu.Unlock()
		return nil
	}
	now := h.now()
	if h.probing || h.Probe == nil || (!h.probedAt.IsZero() && now.Sub(h.probedAt) < h.every()) {
		defer h.mu.Unlock()
		return h.fault
	}
	h.probing, h.probedAt = true, now
	gen := h.gen
	h.mu.Unlock()

	err := h.Probe(ctx)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller gave up; the probe says nothing of the store.
	case err != nil:
		h.fault = fmt.Errorf("cannot commit: %w", err)
	case h.gen == gen:
		h.fault = nil
	}
	return h.fault
}

func (h *CommitHealth) now() time.Time {
	if h.Clock == nil {
		return time.Now()
	}
	return h.Clock.Now()
}

func (h *CommitHealth) every() time.Duration {
	if h.Every <= 0 {
		return DefaultProbeEvery
	}
	return h.Every
}

// RecentCheck runs a check of a store's reachability (a query the
// database must answer) at most once per Every, and answers with the last
// result in between, so that a flood of readiness requests costs the
// database one query a second rather than one each. Callers that come
// while a check is under way wait for it (or their context) instead of
// starting another. A result the caller's context cut short is not kept.
// A failed commit is CommitHealth's to tell, at once: a store asks it
// first. It is safe for concurrent use.
type RecentCheck struct {
	// Check asks the store; nil when it answers.
	Check func(ctx context.Context) error
	// Every is how long a result is reused; DefaultProbeEvery if zero.
	Every time.Duration
	// Clock tells the time; SystemClock if nil.
	Clock Clock

	mu      sync.Mutex
	at      time.Time // when the kept result was had; zero: none
	err     error
	running *recentRun
}

// recentRun is a check under way, which later callers wait for.
type recentRun struct {
	done chan struct{}
	err  error
}

// Run returns the result of a check made less than Every ago, else makes
// one (or waits for the one under way) and returns its result.
func (r *RecentCheck) Run(ctx context.Context) error {
	r.mu.Lock()
	now := r.now()
	if !r.at.IsZero() && now.Sub(r.at) < r.every() {
		defer r.mu.Unlock()
		return r.err
	}
	if run := r.running; run != nil {
		r.mu.Unlock()
		select {
		case <-run.done:
			return run.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	run := &recentRun{done: make(chan struct{})}
	r.running = run
	r.mu.Unlock()

	run.err = r.Check(ctx)

	r.mu.Lock()
	r.running = nil
	if run.err == nil || ctx.Err() == nil {
		r.at, r.err = now, run.err
	}
	r.mu.Unlock()
	close(run.done)
	return run.err
}

func (r *RecentCheck) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *RecentCheck) every() time.Duration {
	if r.Every <= 0 {
		return DefaultProbeEvery
	}
	return r.Every
}
