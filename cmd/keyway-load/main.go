// Command keyway-load drives keyway with Twilio-signed webhooks over
// loopback and measures it. It runs its own fast fake of Twilio's REST API,
// which counts every reply keyway sends, and afterwards checks through the
// admin API that every accepted message is stored and that every expected
// reply was sent exactly once.
//
// Simplest use: it writes a config, starts the binary, drives it and stops it:
//
//	keyway-load --keyway ./keyway --conns 64 --requests 20000
//
// Several binaries and the bare ceiling (a Fiber app with one durable bbolt
// commit per request), alternating, three rounds each, with medians and
// ratios at the end:
//
//	keyway-load --keyway before=/tmp/keyway-before --keyway after=./keyway --baseline --rounds 3
//
// A data folder with a million contacts, each with an inbound message and
// an enrollment waiting at a timer, and keyway's start-up, memory and file
// size on it (seed.go, startup.go):
//
//	keyway-load seed --data /tmp/seed-1m --contacts 1000000
//	keyway-load startup --keyway ./keyway --data /tmp/seed-1m --runs 3
//
// The WhatsApp Cloud API's webhooks instead of Twilio's, with one and ten
// messages in each, beside Twilio's, alternating (the fake then also
// answers as the Graph API does):
//
//	keyway-load --keyway ./keyway --provider twilio,meta --per-post 1,10 --duration 10s --rounds 3
//
// A keyway that is already running is driven with --url; write its config
// with --write-config first, so that it uses the tool's automations and
// sends to the tool's fake provider at --fake-listen. Start it on an empty
// data folder for each run: the check expects senders that are new to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "baseline-serve" {
		if err := serveBaseline(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "keyway-load:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := run
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "seed":
			cmd, os.Args = runSeed, os.Args[1:]
		case "startup":
			cmd, os.Args = runStartup, os.Args[1:]
		}
	}
	if err := cmd(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "keyway-load:", err)
		os.Exit(1)
	}
}

// target is one server to measure, and the webhooks it is driven with.
type target struct {
	Name     string
	Binary   string // a keyway binary to start; empty for the baseline or --url
	URL      string // a running keyway (--url)
	Baseline string // bareUpdate or bareBatch for a bare server
	Provider string // providerTwilio (also for the bare servers) or providerMeta
	PerPost  int    // messages per webhook (Meta)
}

// figures are one run's measurements.
type figures struct {
	Target    string
	Round     int
	Accepted  int
	PerSec    float64 // accepted webhooks per second
	P50, P99  time.Duration
	Max       time.Duration
	Webhooks  int           // webhooks answered 200
	MsgsPerS  float64       // accepted messages per second
	SendsPerS float64       // replies the fake received per second during the load
	Drain     time.Duration // from the load's end until the last expected reply was in
	Verdict   *verdict
	Errors    map[string]int
}

// targetsFlag collects --keyway values.
type targetsFlag []target

// String lists the targets, for flag's help.
func (t *targetsFlag) String() string { return fmt.Sprint(*t) }

// Set adds a target: BINARY, or NAME=BINARY.
func (t *targetsFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok {
		name, path = v, v
	}
	if path == "" {
		return errors.New("empty path")
	}
	*t = append(*t, target{Name: name, Binary: path})
	return nil
}

// run parses args, runs every round and prints the figures to out. It
// fails if a run had errors or did not verify.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keyway-load", flag.ContinueOnError)
	var targets targetsFlag
	fs.Var(&targets, "keyway", "a keyway `binary` to start and drive, or NAME=BINARY; repeat to compare")
	runningURL := fs.String("url", "", "drive a keyway that is already running at this base `URL`, on an empty data folder (see --write-config)")
	fakeListen := fs.String("fake-listen", "127.0.0.1:0", "`address` of the fake Twilio API (fix it for --url)")
	writeConfig := fs.String("write-config", "", "write the keyway config for --url to this `file` (storage under --data, Twilio on --fake-listen) and exit")
	dataDir := fs.String("data", "./keyway-load-data", "data `folder` for --write-config")
	baseline := fs.Bool("baseline", false, "also measure two bare Fiber + bbolt servers (bare-batch: each request waits for its durable commit, concurrent ones share it; bare-update: one commit per request), and print ratios to them")
	conns := fs.Int("conns", 64, "concurrent `connections`")
	requests := fs.Int("requests", 20000, "webhooks per run (0: bound by --duration only)")
	duration := fs.Duration("duration", 0, "stop each run after this `long` (0: bound by --requests only)")
	rate := fs.Float64("rate", 0, "total webhooks per `second` (0: as fast as they are answered)")
	senders := fs.Int("senders", 5000, "distinct sender `numbers`")
	rounds := fs.Int("rounds", 1, "runs of each target, alternating")
	noVerify := fs.Bool("no-verify", false, "skip the check that every message is stored and answered exactly once")
	patience := fs.Duration("patience", time.Minute, "how long to wait for a server to start and for replies to drain")
	timeout := fs.Duration("timeout", 15*time.Minute, "bound on the whole command")
	keep := fs.Bool("keep", false, "keep each run's data folder and log")
	waits := fs.Bool("waits", false, "make one message in ten a LATER, answered at once and again after a stored 1s wait")
	crash := fs.Int("crash", 0, "crash test: this many `cycles` of load, SIGKILL at a random moment and restart on the same data, then one check of the whole run (one --keyway binary)")
	crashMin := fs.Duration("crash-min", 300*time.Millisecond, "with --crash, the earliest `moment` of a kill after its cycle's load starts")
	crashMax := fs.Duration("crash-max", 3*time.Second, "with --crash, the latest `moment` of a kill after its cycle's load starts")
	latency := fs.Duration("provider-latency", 0, "the fake provider answers each send this `long` after taking it (with --crash, 20ms unless set)")
	provs := fs.String("provider", providerTwilio, "the webhooks to post, comma-separated `names`: twilio (form, one message each) and meta (WhatsApp Cloud API, JSON); each keyway is driven with each, alternating")
	perPosts := fs.String("per-post", "1", "with --provider meta, the `messages` in each webhook, comma-separated to drive with several (e.g. 1,10)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	modes, err := parseModes(*provs, *perPosts)
	if err != nil {
		return err
	}
	latencySet := false
	fs.Visit(func(f *flag.Flag) { latencySet = latencySet || f.Name == "provider-latency" })
	if *crash > 0 && !latencySet {
		*latency = 20 * time.Millisecond
	}
	if *writeConfig != "" {
		if *fakeListen == "127.0.0.1:0" || strings.HasSuffix(*fakeListen, ":0") {
			return errors.New("--write-config needs a fixed --fake-listen address, e.g. 127.0.0.1:18080")
		}
		return os.WriteFile(*writeConfig, []byte(keywayConfig(":8080", *dataDir, "http://"+*fakeListen, false, modes.providers()...)), 0o600)
	}
	if *runningURL != "" {
		targets = append(targets, target{Name: "running", URL: strings.TrimRight(*runningURL, "/")})
	}
	targets = modes.apply(targets)
	if *baseline {
		targets = append(targets,
			target{Name: "bare-batch", Baseline: bareBatch},
			target{Name: "bare-update", Baseline: bareUpdate})
	}
	if len(targets) == 0 {
		return errors.New("nothing to drive: give --keyway BINARY, --url URL or --baseline")
	}
	if *crash > 0 && (len(targets) != 1 || targets[0].Binary == "") {
		return errors.New("--crash drives one --keyway binary, which it starts and kills itself")
	}
	if *crash > 0 && targets[0].Provider != providerTwilio {
		return errors.New("--crash posts Twilio's webhooks only: it looks sends in doubt up in Twilio's message log")
	}
	if *crash > 0 && (*crashMin <= 0 || *crashMax < *crashMin) {
		return errors.New("--crash-min must be above 0 and at most --crash-max")
	}
	if *conns < 1 || *rounds < 1 || *senders < 1 {
		return errors.New("--conns, --rounds and --senders must be at least 1")
	}
	if *requests <= 0 && *duration <= 0 && *crash == 0 {
		return errors.New("bound the run with --requests or --duration")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	fake, err := startFake(*fakeListen)
	if err != nil {
		return err
	}
	defer fake.Close()
	fake.latency = *latency
	host, _ := os.Hostname()
	if *crash > 0 {
		fmt.Fprintf(out, "keyway-load: crash test, %d cycles, kills %v to %v into each; %d connections, %d senders; provider latency %v; host %s, %s\n",
			*crash, *crashMin, *crashMax, *conns, *senders, *latency, host, time.Now().UTC().Format(time.RFC3339))
		opts := loadOptions{Conns: *conns, Senders: *senders, Rate: *rate, Nonce: fmt.Sprintf("%06d", time.Now().UnixNano()%1000000)}
		v, err := runCrash(ctx, out, targets[0], opts, crashOptions{Cycles: *crash, MinAfter: *crashMin, MaxAfter: *crashMax}, fake, *patience, *keep)
		if err != nil {
			return err
		}
		if !v.OK() {
			return errors.New("the crash test did not verify")
		}
		return nil
	}
	fmt.Fprintf(out, "keyway-load: %d connections, %d requests, duration %v, rate %v/s, %d senders, %d rounds; host %s, %s; load average %s\n",
		*conns, *requests, *duration, *rate, *senders, *rounds, host, time.Now().UTC().Format(time.RFC3339), loadAverage())

	var all []figures
	failed := false
	for round := 1; round <= *rounds; round++ {
		for _, tg := range targets {
			opts := loadOptions{Conns: *conns, Requests: *requests, Duration: *duration, Rate: *rate,
				Senders: *senders, Waits: *waits, Nonce: fmt.Sprintf("%02d%06d", round%100, time.Now().UnixNano()%1000000),
				Provider: tg.Provider, PerPost: tg.PerPost}
			f, err := runOnce(ctx, tg, round, opts, fake, !*noVerify, *patience, *keep)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, f.line())
			if len(f.Errors) > 0 || (f.Verdict != nil && !f.Verdict.OK()) {
				failed = true
			}
			all = append(all, f)
		}
	}
	summarize(out, targets, all)
	fmt.Fprintf(out, "load average at the end: %s\n", loadAverage())
	if failed {
		return errors.New("a run had errors or did not verify")
	}
	return nil
}

// runOnce starts the target (unless it runs already), drives it, verifies
// and stops it.
func runOnce(ctx context.Context, tg target, round int, opts loadOptions, fake *fakeProvider, check bool, patience time.Duration, keep bool) (figures, error) {
	f := figures{Target: tg.Name, Round: round}
	base := tg.URL
	var p *process
	if base == "" {
		dir, err := os.MkdirTemp("", "keyway-load-")
		if err != nil {
			return f, err
		}
		if !keep {
			defer os.RemoveAll(dir)
		}
		if tg.Baseline != "" {
			p, err = startBaseline(dir, tg.Baseline, patience)
		} else {
			p, err = startKeyway(tg.Binary, dir, fake.URL(), patience, tg.Provider)
		}
		if err != nil {
			return f, err
		}
		defer p.stop()
		base = p.URL
	}
	fake.Reset()
	res := drive(ctx, base, opts)
	sendsDuring := fake.Total()
	if ctx.Err() != nil {
		return f, fmt.Errorf("%s round %d: %w", tg.Name, round, ctx.Err())
	}
	f.Accepted, f.Webhooks = res.Accepted(), res.Webhooks
	f.PerSec = float64(f.Webhooks) / res.Elapsed.Seconds()
	f.MsgsPerS = float64(f.Accepted) / res.Elapsed.Seconds()
	f.P50, f.P99 = quantile(res.Latencies, 0.50), quantile(res.Latencies, 0.99)
	if len(res.Latencies) > 0 {
		f.Max = res.Latencies[len(res.Latencies)-1]
	}
	f.SendsPerS = float64(sendsDuring) / res.Elapsed.Seconds()
	f.Errors = res.Errors
	if check && tg.Baseline == "" {
		loadEnd := time.Now()
		v, drained := verify(ctx, base, res, fake, patience)
		f.Verdict = &v
		f.Drain = drained.Sub(loadEnd)
	}
	if p != nil {
		if err := p.stop(); err != nil {
			return f, fmt.Errorf("%s round %d: %w", tg.Name, round, err)
		}
	}
	return f, nil
}

// line is one run's report.
func (f figures) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s round %d: %d accepted in %d webhooks, %.0f webhooks/s, %.0f messages/s; latency p50 %v p99 %v max %v",
		f.Target, f.Round, f.Accepted, f.Webhooks, f.PerSec, f.MsgsPerS, f.P50.Round(10*time.Microsecond), f.P99.Round(10*time.Microsecond), f.Max.Round(100*time.Microsecond))
	if f.Verdict != nil {
		fmt.Fprintf(&b, "; %.0f sends/s during the load, the rest in %v after it", f.SendsPerS, f.Drain.Round(10*time.Millisecond))
	}
	if len(f.Errors) > 0 {
		fmt.Fprintf(&b, "; ERRORS %v", f.Errors)
	} else {
		b.WriteString("; no errors")
	}
	if f.Verdict != nil {
		b.WriteString("\n           " + f.Verdict.String())
	}
	return b.String()
}

// summarize prints each target's medians, and its ratio to the baseline.
func summarize(out io.Writer, targets []target, all []figures) {
	med := func(name string, get func(figures) float64) float64 {
		var xs []float64
		for _, f := range all {
			if f.Target == name {
				xs = append(xs, get(f))
			}
		}
		if len(xs) == 0 {
			return 0
		}
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	perSec := func(f figures) float64 { return f.PerSec }
	msgsPerS := func(f figures) float64 { return f.MsgsPerS }
	p99 := func(f figures) float64 { return float64(f.P99) }
	p50 := func(f figures) float64 { return float64(f.P50) }
	fmt.Fprintln(out, "medians:")
	for _, tg := range targets {
		fmt.Fprintf(out, "  %-12s %6.0f webhooks/s %6.0f messages/s  p50 %v  p99 %v", tg.Name, med(tg.Name, perSec), med(tg.Name, msgsPerS),
			time.Duration(med(tg.Name, p50)).Round(10*time.Microsecond), time.Duration(med(tg.Name, p99)).Round(10*time.Microsecond))
		if tg.Baseline == "" {
			for _, b := range targets {
				if b.Baseline != "" && med(b.Name, perSec) > 0 {
					fmt.Fprintf(out, "  %.2f of %s", med(tg.Name, perSec)/med(b.Name, perSec), b.Name)
				}
			}
		}
		fmt.Fprintln(out)
	}
	var keyways []string
	for _, tg := range targets {
		if tg.Baseline == "" {
			keyways = append(keyways, tg.Name)
		}
	}
	for _, name := range keyways[min(1, len(keyways)):] {
		fmt.Fprintf(out, "  %s / %s: %.2f× webhooks/s, %.2f× messages/s, %.2f× p99\n", name, keyways[0],
			med(name, perSec)/med(keyways[0], perSec), med(name, msgsPerS)/med(keyways[0], msgsPerS), med(name, p99)/med(keyways[0], p99))
	}
}
