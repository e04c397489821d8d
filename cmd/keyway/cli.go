package main

import (
	"context"
	"encoding/json"
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
	"github.com/keyway-sms/keyway/cmd/keyway/internal/hangup"
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
  keyway serve    [--config] FILE   run the gateway
  keyway validate [--config] FILE   check a config file
  keyway simulate [--config] FILE [--from +NUMBER] [--channel sms|whatsapp]
                                    chat with the automations on stdin
  keyway test     FILE...           run automation tests
  keyway health   [--config] FILE [--url URL]
                                    ask a running keyway whether it is ready
  keyway hash-password              print the bcrypt hash of a password read
                                    from stdin, for admin.users
  keyway version                    print version, commit and Go version

The config file may be given as the argument or with --config, or come from
KEYWAY_CONFIG. "keyway help COMMAND" (or "keyway COMMAND --help") lists a
command's flags.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] != "serve" {
		hangup.Release() // only serve reloads: a SIGHUP ends the others
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "simulate":
		return simulate(args[1:], stdin, stdout, stderr)
	case "test":
		return runTestFiles(args[1:], stdout, stderr)
	case "health":
		return health(args[1:], stdout, stderr)
	case "hash-password":
		return hashPassword(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-v":
		fs := newCommandFlags("version", "Usage: keyway version\n\nPrints keyway's version, commit and Go version.\n")
		if code, done := parseFlags(fs, args[1:], stdout, stderr); done {
			return code
		}
		if fs.NArg() > 0 {
			return extraArgs(fs, fs.Args(), stderr)
		}
		fmt.Fprintf(stdout, "keyway %s (commit %s, %s)\n", version, revision(), runtime.Version())
		return 0
	case "help", "-h", "--help":
		// "keyway help serve" is "keyway serve --help".
		if len(args) > 1 && args[0] == "help" && !strings.HasPrefix(args[1], "-") && args[1] != "help" {
			return run([]string{args[1], "--help"}, stdin, stdout, stderr)
		}
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

// newCommandFlags returns the flag set of a command whose usage prints help
// and then every flag.
func newCommandFlags(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("keyway "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, flags and arguments in any order (the arguments
// are left in fs.Args()). --help prints the usage on stdout (done, 0); a
// bad flag prints the error and the usage on stderr (done, 2).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, true
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n\n", fs.Name(), err)
			fs.SetOutput(stderr)
			fs.Usage()
			return 2, true
		}
		if fs.NArg() == 0 {
			break
		}
		// "--" ends the flags: everything after it is an argument.
		if len(args) > fs.NArg() && args[len(args)-fs.NArg()-1] == "--" {
			positional = append(positional, fs.Args()...)
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.SetOutput(stderr)
	_ = fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// extraArgs reports arguments a command does not take.
func extraArgs(fs *flag.FlagSet, extra []string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: unexpected argument(s): %s (see %s --help)\n", fs.Name(), strings.Join(extra, " "), fs.Name())
	return 2
}

// commonFlags are the flags of the commands that read a config.
type commonFlags struct {
	config    string
	logLevel  string
	logFormat string
}

// configFlags adds --config to fs.
func configFlags(fs *flag.FlagSet) *commonFlags {
	cf := &commonFlags{}
	fs.StringVar(&cf.config, "config", os.Getenv("KEYWAY_CONFIG"), "config `FILE` (or the argument, or KEYWAY_CONFIG)")
	return cf
}

// logFlags adds --log-level and --log-format to fs.
func (cf *commonFlags) logFlags(fs *flag.FlagSet) {
	fs.StringVar(&cf.logLevel, "log-level", os.Getenv("KEYWAY_LOG_LEVEL"), "debug, info, warn or error (or KEYWAY_LOG_LEVEL; default info, debug in dev mode)")
	fs.StringVar(&cf.logFormat, "log-format", os.Getenv("KEYWAY_LOG_FORMAT"), "json or console (or KEYWAY_LOG_FORMAT; default console when stderr is a terminal, else json)")
}

// configArg takes the config file from the one argument the command may
// have; it reports an error (code 2) when there are more, or when the file
// is given both ways, or not at all.
func (cf *commonFlags) configArg(fs *flag.FlagSet, stderr io.Writer) (int, bool) {
	args := fs.Args()
	if len(args) > 1 {
		return extraArgs(fs, args[1:], stderr), false
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if len(args) == 1 {
		if explicit && args[0] != cf.config {
			fmt.Fprintf(stderr, "%s: the config is given twice: --config %s and %s\n", fs.Name(), cf.config, args[0])
			return 2, false
		}
		cf.config = args[0]
	}
	if cf.config == "" {
		fmt.Fprintf(stderr, "%s: a config FILE is required (the argument, --config FILE or KEYWAY_CONFIG)\n", fs.Name())
		return 2, false
	}
	return 0, true
}

func printProblems(w io.Writer, ps config.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, p.String())
	}
}

const validateHelp = `Usage: keyway validate [--config] FILE [--format text|json] [--segments]

Checks a config file. Prints every problem as FILE:LINE:COL: message (a
warning with "warning: ") and exits 1 when there is an error, or prints a
one-line summary and exits 0. With --format json it prints one JSON object
{"valid", "summary", "problems": [{file, line, col, severity, message}]}.
`

// jsonProblem is a problem as validate --format json prints it.
type jsonProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // error or warning
	Message  string `json:"message"`
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("validate", validateHelp)
	cf := configFlags(fs)
	segments := fs.Bool("segments", false, "print the SMS segments each reply's text takes")
	format := fs.String("format", "text", "text, or json: the problems and summary as one JSON object")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if code, ok := cf.configArg(fs, stderr); !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "keyway validate: --format must be text or json, not %q\n", *format)
		return 2
	}
	cfg, set, problems := engine.Load(cf.config)
	summary := ""
	if set == nil {
		summary = fmt.Sprintf("%s: %d problem(s)", cf.config, len(problems.Errors()))
	} else {
		steps := 0
		for _, a := range set.Automations() {
			steps += len(a.Steps)
		}
		summary = fmt.Sprintf("%s: OK: %d automation(s), %d step(s), %d group(s), %d warning(s); %s",
			cf.config, len(set.Automations()), steps, len(cfg.Groups), len(problems.Warnings()), cfg.ModeSummary())
	}
	if *format == "json" {
		out := struct {
			Valid    bool          `json:"valid"`
			Summary  string        `json:"summary"`
			Problems []jsonProblem `json:"problems"`
		}{Valid: set != nil, Summary: summary, Problems: []jsonProblem{}}
		for _, p := range problems {
			sev := "error"
			if p.Warning {
				sev = "warning"
			}
			out.Problems = append(out.Problems, jsonProblem{File: p.File, Line: p.Pos.Line, Col: p.Pos.Col, Severity: sev, Message: p.Message})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "keyway validate: %v\n", err)
			return 2
		}
		if set == nil {
			return 1
		}
		return 0
	}
	printProblems(stdout, problems)
	if set == nil {
		// The count goes to stderr: stdout holds only FILE:LINE:COL lines.
		fmt.Fprintln(stderr, summary)
		return 1
	}
	if *segments {
		printSegments(stdout, cfg, set)
	}
	fmt.Fprintln(stdout, summary)
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

// logLevels are the levels --log-level and KEYWAY_LOG_LEVEL take. zerolog
// would also take "trace", "panic", "disabled" or a number, which silence
// the log or flood it unannounced, and its refusal of a typo reads as if
// it went on at no level.
var logLevels = map[string]zerolog.Level{
	"debug": zerolog.DebugLevel,
	"info":  zerolog.InfoLevel,
	"warn":  zerolog.WarnLevel,
	"error": zerolog.ErrorLevel,
}

// newLogger returns the logger of serve: JSON lines, or zerolog's console
// writer for people (format "console", or "" when w is a terminal).
func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, ok := logLevels[strings.ToLower(level)]
	if !ok {
		return zerolog.Nop(), fmt.Errorf("keyway: log level %q: debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "":
		if isTerminal(w) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !isTerminal(w)}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("keyway: log format %q: json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const serveHelp = `Usage: keyway serve [--config] FILE [--log-level LEVEL] [--log-format json|console] [--pprof ADDR]

Runs the gateway. A provider without its credentials runs in dev mode: its
outbound messages are logged and stored instead of sent, and its webhook
signatures are not checked. The log says at start which provider runs how.
`

func serve(args []string, stdout, stderr io.Writer) int {
	// A SIGHUP asks for a reload. One that comes while keyway starts
	// (its packages initialising, reading the config, opening storage)
	// would end the process were it not caught: package hangup caught it
	// from the start, it is held, and the gateway reloads once ready.
	// (Notify again: an earlier command run in this process may have
	// released it.)
	hangups := hangup.C
	signal.Notify(hangups, syscall.SIGHUP)
	defer signal.Stop(hangups)
	fs := newCommandFlags("serve", serveHelp)
	cf := configFlags(fs)
	cf.logFlags(fs)
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on `ADDR`, e.g. 127.0.0.1:6060; off by default, and never on a public address")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if code, ok := cf.configArg(fs, stderr); !ok {
		return code
	}
	cfg, set, problems := engine.Load(cf.config)
	level := cf.logLevel
	if level == "" {
		level = "info"
		if cfg != nil && cfg.DevMode() {
			level = "debug"
		}
	}
	log, err := newLogger(level, cf.logFormat, stderr)
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
	if *pprofAddr != "" {
		stopProfiler, err := serveProfiler(*pprofAddr, log)
		if err != nil {
			log.Error().Err(err).Msg("start")
			return 1
		}
		defer stopProfiler()
	}
	tuneGC(gcHeadroom)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	g, err := newGateway(ctx, cf.config, cfg, set, log, hangups)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	if err := g.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("serve")
		return 1
	}
	return 0
}

// newGateway builds the providers cfg sets up among those compiled in
// (providers.go), opens storage and hands both to the gateway.
func newGateway(ctx context.Context, path string, cfg *config.Config, set *engine.Set, log zerolog.Logger, hangups <-chan os.Signal) (*gateway.Gateway, error) {
	ps, err := providers.Build(cfg, log)
	if err != nil {
		return nil, err
	}
	st, owner, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g, err := gateway.New(gateway.Options{Path: path, Config: cfg, Set: set, Store: st, Providers: ps, Logger: log,
		Version: version, Commit: revision(), Owner: owner, Hangups: hangups})
	if err != nil {
		st.Close()
		return nil, err
	}
	return g, nil
}

// openStore opens the storage cfg names: the PostgreSQL database of
// storage.postgres, else the bbolt file. On a shared database each
// process needs a name of its own (KEYWAY_INSTANCE, else processName), so
// that one starting does not take back the sends another is making: a
// KEYWAY_INSTANCE another running process holds is not used (see
// postgres.Store.HoldName).
func openStore(ctx context.Context, cfg *config.Config, log zerolog.Logger) (engine.Store, string, error) {
	if cfg.Storage.Postgres == "" {
		st, err := bolt.Open(cfg.Storage.Path)
		return st, "", err
	}
	st, err := openPostgres(ctx, cfg.Storage.Postgres, log)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	name := os.Getenv("KEYWAY_INSTANCE")
	if name == "" {
		return st, processName(), nil
	}
	held, err := st.HoldName(ctx, name)
	if err != nil {
		st.Close()
		return nil, "", err
	}
	if !held {
		log.Warn().Str("instance", name).Str("name", processName()).
			Msg("KEYWAY_INSTANCE is held by another running process (or one whose end the database has not seen yet): " +
				"this process goes by its host/pid instead, and leaves the sends of the last run under that name to their lease")
		name = processName()
	}
	return st, name, nil
}

// dbStartWait is how long serve waits at start for a database it cannot
// reach (not up yet, starting up), trying again every second or so.
const dbStartWait = 30 * time.Second

// openPostgres opens the database at dsn. One that cannot be reached
// (refused, no answer, no such host yet, starting up) is tried again
// until dbStartWait has passed, so that keyway and its database may start
// together; any other error (a wrong password, no such database) ends the
// start at once, and so does a stop signal.
func openPostgres(ctx context.Context, dsn string, log zerolog.Logger) (*postgres.Store, error) {
	deadline := time.Now().Add(dbStartWait)
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		st, err := postgres.Open(octx, dsn)
		cancel()
		if err == nil || !postgres.Unreachable(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return st, err
		}
		if attempt == 1 {
			log.Warn().Err(err).Str("wait", dbStartWait.String()).Msg("the database cannot be reached; trying again until it can, for at most the wait")
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("stopped while waiting for the database: %w", err)
		case <-t.C:
		}
	}
}

// processName names this process on its send leases when KEYWAY_INSTANCE
// does not: host/pid, a new name at each start, whose leases the others
// take over once they end. KEYWAY_INSTANCE names one running process at a
// time, such as a pod, so that a process started again under it takes
// back at once the sends its last run left under way.
func processName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}
