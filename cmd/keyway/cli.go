package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	// Importing steps registers every step type, which engine.Load needs.
	"github.com/keyway-sms/keyway/automation/steps"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/postgres"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/gateway"
	"github.com/keyway-sms/keyway/providers"
)

// version and commit are set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = ""
)

const usage = `keyway: SMS/WhatsApp keyword chatbot gateway

Usage:
  keyway serve    --config FILE     run the gateway
  keyway validate --config FILE     check a config file
  keyway simulate --config FILE [--from +NUMBER] [--channel sms|whatsapp]
                                    chat with the automations on stdin
  keyway version                    print version, commit and Go version

--config may also come from KEYWAY_CONFIG. Log level: --log-level or
KEYWAY_LOG_LEVEL (debug, info, warn, error; default info, and debug in dev
mode so that the bodies of messages not sent show in the log).
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "simulate":
		return simulate(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "keyway %s (commit %s, %s)\n", version, revision(), runtime.Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "keyway: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func revision() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// commonFlags are the flags every command that reads a config takes.
type commonFlags struct {
	config   string
	logLevel string
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *commonFlags) {
	fs := flag.NewFlagSet("keyway "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := &commonFlags{}
	fs.StringVar(&cf.config, "config", os.Getenv("KEYWAY_CONFIG"), "config file (or KEYWAY_CONFIG)")
	fs.StringVar(&cf.logLevel, "log-level", os.Getenv("KEYWAY_LOG_LEVEL"), "debug, info, warn or error (default info; debug in dev mode)")
	return fs, cf
}

func printProblems(w io.Writer, ps config.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, p.String())
	}
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs, cf := newFlags("validate", stderr)
	segments := fs.Bool("segments", false, "print the SMS segments each reply's text takes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cf.config == "" {
		fmt.Fprintln(stderr, "keyway validate: --config FILE (or KEYWAY_CONFIG) is required")
		return 2
	}
	cfg, set, problems := engine.Load(cf.config)
	printProblems(stdout, problems)
	if set == nil {
		// The count goes to stderr: stdout holds only FILE:LINE:COL lines.
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", cf.config, len(problems.Errors()))
		return 1
	}
	steps := 0
	for _, a := range set.Automations() {
		steps += len(a.Steps)
	}
	if *segments {
		printSegments(stdout, cfg, set)
	}
	mode := "live"
	if cfg.Providers.Twilio.DevMode() {
		mode = "dev mode (no Twilio credentials)"
	}
	fmt.Fprintf(stdout, "%s: OK: %d automation(s), %d step(s), %d group(s), %d warning(s); %s\n",
		cf.config, len(set.Automations()), steps, len(cfg.Groups), len(problems.Warnings()), mode)
	return 0
}

// printSegments prints the SMS segments of every reply's text; a template
// is counted on its source, so the real count depends on what it renders.
func printSegments(w io.Writer, cfg *config.Config, set *engine.Set) {
	for _, a := range set.Automations() {
		for _, st := range a.Steps {
			r, ok := st.Step.(*steps.Reply)
			if !ok || r.Text == nil {
				continue
			}
			n, enc := engine.Segments(r.Text.String())
			note := ""
			if !r.Text.Static() {
				note = ", counted on the template's source"
			}
			pos := cfg.At(a.Config.Steps[st.Index].Path + ".text")
			fmt.Fprintf(w, "%s:%d:%d: automation %q step %d: %d segment(s), %s%s\n",
				cfg.File, pos.Line, pos.Col, a.ID, st.Index+1, n, enc, note)
		}
	}
}

func newLogger(level string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("keyway: log level %q: %w", level, err)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func serve(args []string, stderr io.Writer) int {
	fs, cf := newFlags("serve", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cf.config == "" {
		fmt.Fprintln(stderr, "keyway serve: --config FILE (or KEYWAY_CONFIG) is required")
		return 2
	}
	cfg, set, problems := engine.Load(cf.config)
	level := cf.logLevel
	if level == "" {
		level = "info"
		if cfg != nil && cfg.Providers.Twilio.DevMode() {
			level = "debug"
		}
	}
	log, err := newLogger(level, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if set == nil {
		printProblems(stderr, problems)
		fmt.Fprintf(stderr, "keyway serve: %s has %d problem(s); nothing started\n", cf.config, len(problems.Errors()))
		return 1
	}
	for _, p := range problems {
		log.Warn().Str("problem", p.String()).Msg("config warning")
	}
	g, err := newGateway(cf.config, cfg, set, log)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := g.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("serve")
		return 1
	}
	return 0
}

// newGateway builds the providers cfg sets up among those compiled in
// (providers.go), opens storage and hands both to the gateway.
func newGateway(path string, cfg *config.Config, set *engine.Set, log zerolog.Logger) (*gateway.Gateway, error) {
	ps, err := providers.Build(cfg, log)
	if err != nil {
		return nil, err
	}
	st, owner, err := openStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g, err := gateway.New(gateway.Options{Path: path, Config: cfg, Set: set, Store: st, Providers: ps, Logger: log, Owner: owner})
	if err != nil {
		st.Close()
		return nil, err
	}
	return g, nil
}

// openStore opens the storage cfg names: the PostgreSQL database of
// storage.postgres, or else the bbolt file of storage.path. It also names
// this process on the send leases it takes: on a shared database each
// process needs a name of its own (host and process id), so that one
// starting does not take back the sends another is making.
func openStore(cfg *config.Config) (engine.Store, string, error) {
	if cfg.Storage.Postgres == "" {
		st, err := bolt.Open(cfg.Storage.Path)
		return st, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.Storage.Postgres)
	if err != nil {
		return nil, "", err
	}
	host, _ := os.Hostname()
	return st, fmt.Sprintf("%s/%d", host, os.Getpid()), nil
}
