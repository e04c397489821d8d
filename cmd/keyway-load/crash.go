package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// crashOptions say how a crash run kills keyway.
type crashOptions struct {
	Cycles   int           // runs of load + SIGKILL + restart
	MinAfter time.Duration // each kill comes at a random moment between these
	MaxAfter time.Duration // two, after the load started
}

// runCrash drives one keyway binary through cycles of load, SIGKILL at a
// random moment and restart on the same data, then restarts it once more
// and checks the whole run: every accepted message stored, every expected
// reply sent exactly once (a LATER's second reply comes from a stored
// wait, so every wait fired once), nothing else sent, nothing left queued.
// A message whose request the kill cut off may or may not have been
// handled: it is held to at most once.
func runCrash(ctx context.Context, out io.Writer, tg target, opts loadOptions, co crashOptions, fake *fakeProvider, patience time.Duration, keep bool) (verdict, error) {
	dir, err := os.MkdirTemp("", "keyway-crash-")
	if err != nil {
		return verdict{}, err
	}
	if keep {
		fmt.Fprintf(out, "data and logs kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fake.Reset()
	opts.State = newDriveState(opts.Conns, opts.Senders)
	opts.Waits = true
	opts.Requests, opts.Duration = 0, 0
	all := &loadResult{Errors: map[string]int{}}
	for cycle := 1; cycle <= co.Cycles; cycle++ {
		p, err := startKeyway(tg.Binary, dir, fake.URL(), patience)
		if err != nil {
			return verdict{}, fmt.Errorf("cycle %d: %w", cycle, err)
		}
		stop := &atomic.Bool{}
		o := opts
		o.Stop = stop
		done := make(chan *loadResult, 1)
		go func() { done <- drive(ctx, p.URL, o) }()
		after := co.MinAfter + rand.N(co.MaxAfter-co.MinAfter+1)
		wait := time.NewTimer(after)
		select {
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		sendsBefore := fake.Total()
		stop.Store(true)
		p.kill()
		res := <-done
		if ctx.Err() != nil {
			return verdict{}, ctx.Err()
		}
		all.Sent = append(all.Sent, res.Sent...)
		all.Latencies = append(all.Latencies, res.Latencies...)
		all.Elapsed += res.Elapsed
		for k, v := range res.Errors {
			all.Errors[k] += v
		}
		fmt.Fprintf(out, "cycle %2d: killed after %v: %d accepted, %d cut off by the kill; %d texts sent so far\n",
			cycle, after.Round(time.Millisecond), res.Accepted(), len(res.Sent)-res.Accepted(), sendsBefore)
	}
	p, err := startKeyway(tg.Binary, dir, fake.URL(), patience)
	if err != nil {
		return verdict{}, fmt.Errorf("restart after the last cycle: %w", err)
	}
	defer p.stop()
	slices.Sort(all.Latencies)
	v, _ := verify(ctx, p.URL, all, fake, patience)
	if err := p.stop(); err != nil {
		return v, err
	}
	fmt.Fprintf(out, "crash: %d cycles; %d webhooks accepted, %d cut off by a kill; latency p50 %v p99 %v; %d lookups in the provider's log; texts sent twice: %d\n",
		co.Cycles, v.Accepted, len(all.Sent)-v.Accepted, quantile(all.Latencies, 0.5).Round(10*time.Microsecond),
		quantile(all.Latencies, 0.99).Round(10*time.Microsecond), fake.Lookups(), v.Duplicates)
	fmt.Fprintln(out, v.String())
	return v, nil
}
