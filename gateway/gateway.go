// Package gateway wires keyway together and serves it over HTTP: the
// webhooks the providers declare, health, metrics and the admin API on
// Fiber, the engine, the outbox and the timer tick. It is the only package
// that knows Fiber, and only cmd imports it. It knows providers only
// through the providers.Provider interface, and storage only through
// engine.Store: both are handed to New.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/schedule"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"

	// Every step type registers itself with the engine; a config read on
	// reload is compiled with them.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// Gateway is a running keyway: storage, engine, workers and HTTP server.
type Gateway struct {
	log       zerolog.Logger
	path      string // the config file, for reloads
	cfg       atomic.Pointer[config.Config]
	store     engine.Store
	engine    *engine.Engine
	sched     *schedule.Scheduler
	bcasts    *broadcast.Runner // broadcasts.go
	outbox    *outbox.Outbox
	events    *events.Worker
	load      webhookLoad // events.go: whether webhooks have the machine
	providers []providers.Provider
	dev       bool       // every provider runs in dev mode: nothing leaves the gateway
	app       *fiber.App // webhooks and health, on server.listen
	adminApp  *fiber.App // admin API, dashboard, /metrics: app itself unless server.admin_listen is set
	metrics   *metrics
	kick      chan struct{} // wakes the timer loop
	reloadMu  sync.Mutex
	ready     atomic.Bool
	degraded  atomic.Bool // the last readiness check found storage unable to commit
	// sessions are the dashboard's logins; logins slows down the clients
	// that fail to give the admin token.
	sessions sessions
	imports  contactImports // contacts CSV uploads (dashboard_csv.go)
	logins   *failedLogins
	hangups  <-chan os.Signal // Options.Hangups
	// lastRefused is the last reload refused, for the dashboard; loadedAt
	// is when the running config was loaded.
	lastRefused atomic.Pointer[refusedReload]
	loadedAt    atomic.Pointer[time.Time]
	// reqs is the context of every request (newApp); endReqs cancels the
	// requests still under way once a stop has waited its drain time for
	// them, so that one held by storage that stopped answering does not
	// hold the stop.
	reqs    context.Context
	endReqs context.CancelFunc
}

// Options are what a Gateway is built from.
type Options struct {
	// Path is the config file, read again on reload.
	Path string
	// Config is the loaded config, and Set its compiled automations.
	Config *config.Config
	Set    *engine.Set
	// Store is the storage; Run closes it when it returns.
	Store engine.Store
	// Providers are the messaging providers to mount and send through, as
	// providers.Build returns them; at least one. While any of them runs
	// in dev mode the gateway does: outbound messages and emails are
	// logged and stored, not sent.
	Providers []providers.Provider
	Logger    zerolog.Logger
	// Version and Commit label keyway_build_info.
	Version, Commit string
	// Owner names this process on the send leases it takes (default: the
	// host name); processes that share a store need names of their own.
	Owner string
	// Hangups, if set, delivers the SIGHUPs the process caught since it
	// started (signal.Notify, buffered): one that came before the gateway
	// was ready is acted on once it is, instead of killing the process.
	// Without it the gateway listens for SIGHUP itself once it runs.
	Hangups <-chan os.Signal
}

// New builds the gateway: its engine, outbox and scheduler on o.Store, and
// its HTTP app with the routes o.Providers declare.
func New(o Options) (*Gateway, error) {
	switch {
	case o.Config == nil || o.Set == nil || o.Store == nil:
		return nil, errors.New("gateway: Options needs a Config, a Set and a Store")
	case len(o.Providers) == 0:
		return nil, errors.New("gateway: no messaging provider is set up")
	}
	if err := providers.CheckRoutes(o.Providers); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cfg, log := o.Config, o.Logger
	g := &Gateway{log: log, path: o.Path, store: o.Store, providers: o.Providers, metrics: newMetrics(), kick: make(chan struct{}, 1),
		logins: newFailedLogins(time.Now), hangups: o.Hangups,
		sessions: sessions{store: o.Store}, imports: contactImports{store: o.Store, owner: randomID()[:16]}}
	g.reqs, g.endReqs = context.WithCancel(context.Background())
	// Nothing leaves the gateway when every provider runs in dev mode: then
	// emails are logged too. A text is dev when its own provider is.
	g.dev = true
	for _, p := range o.Providers {
		g.dev = g.dev && p.DevNotice() != ""
	}
	g.cfg.Store(cfg)
	g.metrics.configLoaded(true, cfg.Hash)
	now := time.Now()
	g.loadedAt.Store(&now)
	mailer, err := newMailer(cfg, g.dev, log)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	mps := map[string]float64{}
	for _, n := range cfg.Numbers() {
		mps[n.Number] = n.MPS
	}
	texter := newSenders(cfg, o.Providers)
	g.outbox = outbox.NewOutbox(outbox.OutboxOptions{
		Store: o.Store, Texter: texter, Mailer: mailer, Logger: log, MPS: mps,
		Dev: g.dev, DevOf: texter.dev, ProviderOf: texter.name, Owner: o.Owner,
		OnResult: g.countSend, Refused: g.refused, Undelivered: g.undelivered,
		OnSetAside:  func(*engine.Message, error) { g.metrics.setAside.Inc() },
		FailedEvent: g.failedEvent,
	})
	g.events = g.newEvents(o.Owner)
	g.engine = engine.New(o.Store, o.Set, engine.Options{Logger: log, OnQueue: g.outbox.Wake, OnTimer: g.kickTimers, OnEvents: g.events.Wake, RetryDropped: g.outbox.RetryDropped})
	g.metrics.zeroCounters()
	g.metrics.registry.MustRegister(buildInfo(o.Version, o.Commit), newStoreCollector(g))
	if c, ok := o.Store.(commitObserver); ok {
		c.ObserveCommits(func(d time.Duration) { g.metrics.commits.Observe(d.Seconds()) })
	}
	g.bcasts = newBroadcasts(g, o.Owner)
	g.sched = schedule.NewScheduler(g.engine, log, g.bcasts)
	if w, ok := o.Store.(engine.Waker); ok {
		// Sends other processes make due are taken up at once; the
		// outbox's poll stays as the safety net (see engine.Waker).
		w.OnWake(g.outbox.Wake)
	}
	g.app, g.adminApp = g.routes()
	return g, nil
}

// Engine returns the gateway's engine.
func (g *Gateway) Engine() *engine.Engine { return g.engine }

func (g *Gateway) wake() {
	g.outbox.Wake()
	g.kickTimers()
}

// kickTimers has the timer loop look for due timers now.
func (g *Gateway) kickTimers() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// refused acts on a send the provider refused for what it says of the
// recipient, in tx, the outbox's transaction that records the refusal.
func (g *Gateway) refused(ctx context.Context, tx engine.TurnTx, m *engine.Message, r engine.SendRefusal) (func(), error) {
	return g.engine.RefusedIn(ctx, tx, m, r)
}

func (g *Gateway) undelivered(ctx context.Context, tx engine.TurnTx, m *engine.Message) (func(), error) {
	return g.engine.UndeliveredIn(ctx, tx, m)
}

func (g *Gateway) countSend(m *engine.Message, err error) {
	result := "sent"
	switch {
	case err == nil:
	case providers.IsRetryable(err):
		result = "retry"
	default:
		result = "failed"
	}
	g.metrics.sends.WithLabelValues(string(m.Kind), result).Inc()
}

// Run serves until ctx is done, then stops taking requests, lets the ones
// under way finish, stops the workers and closes storage.
func (g *Gateway) Run(ctx context.Context) error {
	cfg := g.cfg.Load()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		g.store.Close()
		return fmt.Errorf("gateway: listen on %s: %w", cfg.Server.Listen, err)
	}
	// server.admin_listen is read at start: a reload does not move it.
	var adminLn net.Listener
	if g.adminApp != g.app {
		if adminLn, err = net.Listen("tcp", cfg.Server.AdminListen); err != nil {
			ln.Close()
			g.store.Close()
			return fmt.Errorf("gateway: listen on server.admin_listen %s: %w", cfg.Server.AdminListen, err)
		}
	}
	for _, p := range g.providers {
		if notice := p.DevNotice(); notice != "" {
			g.log.Warn().Str("provider", p.Name()).Msg(notice)
		}
	}
	storage := cfg.Storage.Path
	if cfg.Storage.Postgres != "" {
		storage = "postgres"
	}
	serving := g.log.Info().Str("listen", ln.Addr().String())
	if adminLn != nil {
		serving = serving.Str("admin_listen", adminLn.Addr().String())
	}
	serving.Str("storage", storage).
		Int("automations", len(g.engine.Set().Automations())).Msg("keyway serving")

	workers, stopWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Reconciling the stored enrollments with the config runs beside
	// traffic: ready waits only for the config's steps to be recorded (one
	// small transaction), and the rest reads only the enrollments of
	// automations a config change touched (engine.ReconcileTo).
	recorded := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := g.engine.ReconcileTo(workers, g.engine.Set(), func() { close(recorded) }); err != nil && workers.Err() == nil {
			g.log.Error().Err(err).Msg("reconcile enrollments with the config")
		}
	}()
	<-recorded
	// A pause made from the dashboard ends when the file changed its
	// automation while keyway was down, as a reload would end it.
	g.dropStalePauses(workers, g.engine.Set(), nil)
	wg.Add(5)
	go func() { defer wg.Done(); g.outbox.Run(workers) }()
	go func() { defer wg.Done(); g.events.Run(workers) }()
	go func() { defer wg.Done(); g.timerLoop(workers) }()
	go func() { defer wg.Done(); g.pruneLoop(workers) }()
	wg.Add(1)
	go func() { defer wg.Done(); g.bcasts.Run(workers) }()
	// Ready means a SIGHUP or a change of the file is acted on.
	watching := make(chan struct{})
	go func() { defer wg.Done(); g.watchReloads(workers, watching) }()
	<-watching
	g.wake() // overdue timers and pending sends run at start
	// Schedules start with the workers: a tick missed while the gateway was
	// down runs now if it is younger than its catch_up.
	g.sched.Start(workers)
	g.ready.Store(true)

	qln := newQuietListener(ln)
	var qadmin *quietListener
	served := make(chan error, 2)
	go func() { served <- g.app.Listener(qln) }()
	if adminLn != nil {
		qadmin = newQuietListener(adminLn)
		go func() { served <- g.adminApp.Listener(qadmin) }()
	}
	select {
	case err = <-served:
		if adminLn != nil { // one listener failed: stop the other
			_ = g.app.ShutdownWithTimeout(15 * time.Second)
			_ = g.adminApp.ShutdownWithTimeout(15 * time.Second)
		}
	case <-ctx.Done():
		g.log.Info().Msg("shutting down: draining requests")
		g.ready.Store(false)
		drained := make(chan struct{})
		go qln.closeSilentUntil(drained)
		if qadmin != nil {
			go qadmin.closeSilentUntil(drained)
		}
		err = g.app.ShutdownWithTimeout(15 * time.Second)
		if adminLn != nil {
			if aerr := g.adminApp.ShutdownWithTimeout(15 * time.Second); err == nil {
				err = aerr
			}
		}
		close(drained)
	}
	g.endReqs()
	stopWorkers()
	g.sched.Stop()
	wg.Wait()
	g.engine.WaitIO()
	if cerr := g.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	g.log.Info().Msg("stopped")
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// pruneBatch is how many messages one pruning transaction removes: small,
// so that no transaction holds the store for long.
const pruneBatch = 500

// pruneLoop removes the stored messages older than storage.retention, read
// from the running config at each pass: a pass a minute (more often for a
// retention shorter than 10 minutes), in batches of pruneBatch, each its
// own transaction. With several processes on one database each prunes; a
// batch that another took first finds less to remove.
func (g *Gateway) pruneLoop(ctx context.Context) {
	for {
		keep := g.cfg.Load().Storage.Retention.D()
		every := time.Minute
		if keep > 0 {
			every = min(max(keep/10, time.Second), time.Minute)
			g.prune(ctx, keep, "stored messages", retentionTx.PruneMessages)
			g.prune(ctx, keep, "settled events", retentionTx.PruneEvents)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// prune removes what pruneTx prunes (stored messages, settled events:
// what, in logs) older than keep, a batch at a time.
func (g *Gateway) prune(ctx context.Context, keep time.Duration, what string, pruneTx func(tx retentionTx, before time.Time, limit int) (int, error)) {
	before := time.Now().Add(-keep)
	total := 0
	for ctx.Err() == nil {
		var n int
		err := g.prunes(ctx, func(tx retentionTx) error {
			var err error
			n, err = pruneTx(tx, before, pruneBatch)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				g.log.Error().Err(err).Msg("retention: prune " + what)
			}
			break
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		g.log.Info().Int("pruned", total).Dur("retention", keep).Msg("retention: pruned " + what)
	}
}

// timerLoop fires due timers once each engine.TimerSoon (a robfig/cron
// job) and whenever a commit of this process set a timer due sooner.
func (g *Gateway) timerLoop(ctx context.Context) {
	tick := make(chan struct{}, 1)
	c := cron.New()
	if _, err := c.AddFunc("@every "+engine.TimerSoon.String(), func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	}); err != nil {
		g.log.Error().Err(err).Msg("timer tick")
		return
	}
	c.Start()
	defer c.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-g.kick:
		}
		n, err := g.engine.FireDue(ctx)
		if err != nil && ctx.Err() == nil {
			g.log.Error().Err(err).Msg("timers")
		}
		g.metrics.timers.Add(float64(n))
	}
}
