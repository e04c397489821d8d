package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startupFigures are one start of keyway on a seeded data folder.
type startupFigures struct {
	Ready     time.Duration // from exec until /readyz answered 200
	Cold      bool          // the page cache was dropped before the start
	RSSReady  int64         // VmRSS once ready, bytes
	RSSAfter  int64         // VmRSS after the webhooks and a /metrics scrape
	HWM       int64         // VmHWM (peak RSS) by then
	Webhooks  time.Duration // the webhooks, until every reply was sent
	Metrics   time.Duration // one /metrics scrape
	FileBytes int64
}

// startupOptions say how to measure.
type startupOptions struct {
	Binary     string
	Dir        string
	Runs       int
	DropCaches bool
	Webhooks   int // answers from waiting seeded contacts, and as many keywords from new ones
	From       int // the seeded contacts that answer start at this index
	Patience   time.Duration
}

// runStartup is the startup subcommand.
func runStartup(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keyway-load startup", flag.ContinueOnError)
	var o startupOptions
	fs.StringVar(&o.Binary, "keyway", "./keyway", "the keyway `binary` to start")
	fs.StringVar(&o.Dir, "data", "./keyway-seed", "a data `folder` that seed filled")
	fs.IntVar(&o.Runs, "runs", 1, "starts to measure, one after the other")
	fs.BoolVar(&o.DropCaches, "drop-caches", false, "drop the page cache before each start (needs root): a cold start")
	fs.IntVar(&o.Webhooks, "webhooks", 10, "after ready: answers from this many waiting seeded contacts, and keywords from as many new ones")
	fs.IntVar(&o.From, "from", 0, "seeded contacts answer from this `index` on, each run taking the next waiting survey contacts (skip those a test made overdue or answered)")
	fs.DurationVar(&o.Patience, "patience", 5*time.Minute, "how long to wait for ready and for the replies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Runs < 1 || o.Webhooks < 0 || o.From < 0 {
		return errors.New("startup: --runs must be at least 1, --webhooks and --from at least 0")
	}
	// keyway runs in the data folder: relative paths would not do.
	var err error
	if o.Binary, err = filepath.Abs(o.Binary); err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	if _, err := os.Stat(seedPath(o.Dir)); err != nil {
		return fmt.Errorf("startup: no seeded data file: %w (run `keyway-load seed --data %s` first)", err, o.Dir)
	}
	fake, err := startFake("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer fake.Close()
	host, _ := os.Hostname()
	fmt.Fprintf(out, "keyway-load startup: %s on %s; host %s, %s\n", o.Binary, seedPath(o.Dir), host, time.Now().UTC().Format(time.RFC3339))
	var all []startupFigures
	for run := range o.Runs {
		f, err := startOnce(ctx, o, run, fake)
		if err != nil {
			return fmt.Errorf("startup run %d: %w", run+1, err)
		}
		all = append(all, f)
		fmt.Fprintf(out, "run %d: ready in %v (%s); RSS %s when ready, %s after %d webhooks and a /metrics scrape (%v), peak %s; webhooks answered in %v; file %s\n",
			run+1, f.Ready.Round(time.Millisecond), map[bool]string{true: "cold", false: "warm"}[f.Cold], mib(f.RSSReady), mib(f.RSSAfter),
			2*o.Webhooks, f.Metrics.Round(time.Millisecond), mib(f.HWM), f.Webhooks.Round(time.Millisecond), mib(f.FileBytes))
	}
	median := func(get func(startupFigures) int64) int64 {
		xs := make([]int64, 0, len(all))
		for _, f := range all {
			xs = append(xs, get(f))
		}
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	fmt.Fprintf(out, "medians of %d: ready %v, RSS ready %s, RSS after %s, peak %s, /metrics %v, file %s\n", len(all),
		time.Duration(median(func(f startupFigures) int64 { return int64(f.Ready) })).Round(time.Millisecond),
		mib(median(func(f startupFigures) int64 { return f.RSSReady })), mib(median(func(f startupFigures) int64 { return f.RSSAfter })),
		mib(median(func(f startupFigures) int64 { return f.HWM })),
		time.Duration(median(func(f startupFigures) int64 { return int64(f.Metrics) })).Round(time.Millisecond),
		mib(median(func(f startupFigures) int64 { return f.FileBytes })))
	return nil
}

// startOnce starts keyway on the seeded folder, waits for /readyz, reads
// its memory, drives a few webhooks to the end of their replies, scrapes
// /metrics, reads its memory again and stops it.
func startOnce(ctx context.Context, o startupOptions, run int, fake *fakeProvider) (startupFigures, error) {
	var f startupFigures
	cfg := filepath.Join(o.Dir, "keyway.yaml")
	if err := os.WriteFile(cfg, []byte(seedConfig("127.0.0.1:0", o.Dir, fake.URL())), 0o600); err != nil {
		return f, fmt.Errorf("write config: %w", err)
	}
	if o.DropCaches {
		if err := dropCaches(); err != nil {
			return f, err
		}
		f.Cold = true
	}
	began := time.Now()
	p, err := startProcess(o.Dir, o.Binary, "serve", "--config", cfg)
	if err != nil {
		return f, err
	}
	defer p.stop()
	if err := p.waitReady(o.Patience, func(out []byte) string {
		if m := listening.FindSubmatch(out); m != nil {
			return "http://" + string(m[1])
		}
		return ""
	}, "/readyz"); err != nil {
		return f, err
	}
	f.Ready = time.Since(began)
	pid := p.cmd.Process.Pid
	if f.RSSReady, _, err = memory(pid); err != nil {
		return f, err
	}

	fake.Reset()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	want := map[sendKey]bool{}
	// MessageSids unique to this start: a repeated one would be a
	// duplicate, and get no reply.
	nonce := time.Now().UnixNano() % 1e12
	t0 := time.Now()
	for k := range o.Webhooks {
		// Survey contacts (odd indexes) wait for an answer; each run
		// answers for contacts of its own, which still wait.
		i := 2*(o.From/2+run*o.Webhooks+k) + 1
		sid := fmt.Sprintf("SMstart%012d%02d%09d", nonce, run, k)
		if err := postOK(ctx, client, p.URL, seedPhone(i), sid, "yes "+sid); err != nil {
			return f, err
		}
		want[sendKey{Tag: sid, To: seedPhone(i)}] = true
		sid = fmt.Sprintf("SMhours%012d%02d%09d", nonce, run, k)
		from := fmt.Sprintf("+1555%07d", 9000000+run*o.Webhooks+k)
		if err := postOK(ctx, client, p.URL, from, sid, "HOURS "+sid); err != nil {
			return f, err
		}
		want[sendKey{Tag: sid, To: from}] = true
	}
	if err := waitSends(ctx, fake, want, o.Patience); err != nil {
		return f, err
	}
	f.Webhooks = time.Since(t0)
	t0 = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/metrics", nil)
	if err != nil {
		return f, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken) // /metrics on the public listener asks for it
	res, err := client.Do(req)
	if err != nil {
		return f, fmt.Errorf("scrape /metrics: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return f, fmt.Errorf("scrape /metrics: HTTP %d", res.StatusCode)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	f.Metrics = time.Since(t0)
	if f.RSSAfter, f.HWM, err = memory(pid); err != nil {
		return f, err
	}
	if err := p.stop(); err != nil {
		return f, err
	}
	fi, err := os.Stat(seedPath(o.Dir))
	if err != nil {
		return f, err
	}
	f.FileBytes = fi.Size()
	return f, nil
}

// postOK posts one signed inbound webhook and fails unless it got a 200.
func postOK(ctx context.Context, client *http.Client, target, from, sid, body string) error {
	status, err := post(ctx, client, target, from, sid, body)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d", status)
	}
	if err != nil {
		return fmt.Errorf("webhook from %s: %w", from, err)
	}
	return nil
}

// waitSends waits until the fake has received every send in want.
func waitSends(ctx context.Context, fake *fakeProvider, want map[sendKey]bool, patience time.Duration) error {
	deadline := time.After(patience)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		counts, _ := fake.Snapshot()
		missing := 0
		for k := range want {
			if counts[k] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%d of %d replies not sent within %v (were the seeded contacts enough for the runs?)", missing, len(want), patience)
		case <-poll.C:
		}
	}
}

// memory reads a process's resident set and its peak from /proc.
func memory(pid int) (rss, hwm int64, err error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("memory of %d: %w", pid, err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("memory of %d: %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// dropCaches writes the page cache back and drops it, so that the next
// start reads the data file from disk.
func dropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
		return fmt.Errorf("drop the page cache (needs root; leave out --drop-caches for warm starts): %w", err)
	}
	return nil
}
