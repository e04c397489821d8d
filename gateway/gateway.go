// Package gateway wires keyway together and serves it over HTTP: the
// provider webhooks, health, metrics and the admin API on Fiber, the
// engine, the outbox and the timer tick. It is the only package that knows
// Fiber, and only cmd imports it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/gateway/store"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// Gateway is a running keyway: storage, engine, workers and HTTP server.
type Gateway struct {
	log      zerolog.Logger
	path     string // the config file, for reloads
	cfg      atomic.Pointer[config.Config]
	store    *store.Bolt
	engine   *automation.Engine
	sched    *automation.Scheduler
	outbox   *automation.Outbox
	provider *twilio.Twilio
	app      *fiber.App
	metrics  *metrics
	kick     chan struct{} // wakes the timer loop
	reloadMu sync.Mutex
	ready    atomic.Bool
}

// New opens storage and builds the gateway for cfg, read from path and
// already compiled into set.
func New(path string, cfg *config.Config, set *automation.Set, log zerolog.Logger) (*Gateway, error) {
	// The provider keeps one idle connection per outbox worker.
	workers := automation.DefaultOutboxWorkers
	provider, err := twilio.New(cfg.Providers.Twilio, cfg.Defaults.Region, log, twilio.WithIdleConns(workers))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	st, err := store.Open(cfg.Storage.Path)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &Gateway{log: log, path: path, store: st, provider: provider, metrics: newMetrics(), kick: make(chan struct{}, 1)}
	g.cfg.Store(cfg)
	mailer, err := newMailer(cfg, log)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	mps := map[string]float64{}
	for _, n := range cfg.Providers.Twilio.Numbers {
		mps[n.Number] = n.MPS
	}
	callback := ""
	if !provider.DevMode() && cfg.Server.PublicURL != "" {
		callback = strings.TrimRight(cfg.Server.PublicURL, "/") + "/webhooks/twilio/status"
	}
	g.outbox = automation.NewOutbox(automation.OutboxOptions{
		Store: st, Texter: provider, Mailer: mailer, Logger: log, MPS: mps, Workers: workers,
		Dev: provider.DevMode(), Provider: provider.Name(), StatusCallback: callback,
		OnResult: g.countSend, OnOptedOut: g.optedOut,
	})
	g.engine = automation.New(st, set, automation.Options{Logger: log, OnQueue: g.wake})
	g.sched = automation.NewScheduler(g.engine, log)
	g.app = g.routes()
	return g, nil
}

// Engine returns the gateway's engine.
func (g *Gateway) Engine() *automation.Engine { return g.engine }

func (g *Gateway) wake() {
	g.outbox.Wake()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// optedOut opts out a contact the provider refused as opted out.
func (g *Gateway) optedOut(phone string) {
	if err := g.engine.OptOut(context.Background(), phone, "the provider refused a message: the contact opted out there"); err != nil {
		g.log.Error().Err(err).Str("contact", providers.Mask(phone)).Msg("opt out")
	}
}

func (g *Gateway) countSend(m *automation.Message, err error) {
	result := "sent"
	switch {
	case err == nil:
	case providers.IsRetryable(err):
		result = "retry"
	default:
		result = "failed"
	}
	g.metrics.sends.WithLabelValues(m.Kind, result).Inc()
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
	if g.provider.DevMode() {
		g.log.Warn().Msg("DEV MODE: no Twilio credentials. Outbound messages are logged and stored, NOT sent; webhook signatures are NOT checked. Set providers.twilio.account_sid and auth_token for production.")
	}
	g.log.Info().Str("listen", ln.Addr().String()).Str("storage", cfg.Storage.Path).
		Int("automations", len(g.engine.Set().Automations())).Msg("keyway serving")

	workers, stopWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if _, err := g.engine.Reconcile(ctx); err != nil {
		g.log.Error().Err(err).Msg("reconcile enrollments with the config")
	}
	wg.Add(3)
	go func() { defer wg.Done(); g.outbox.Run(workers) }()
	go func() { defer wg.Done(); g.timerLoop(workers) }()
	go func() { defer wg.Done(); g.watchReloads(workers) }()
	g.wake() // overdue timers and pending sends run at start
	// Schedules start with the workers: a tick missed while the gateway was
	// down runs now if it is younger than its catch_up.
	g.sched.Start(workers)
	g.ready.Store(true)

	served := make(chan error, 1)
	go func() { served <- g.app.Listener(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		g.log.Info().Msg("shutting down: draining requests")
		g.ready.Store(false)
		err = g.app.ShutdownWithTimeout(15 * time.Second)
	}
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

// timerLoop fires due timers once a second (a robfig/cron job) and
// whenever a commit set a timer.
func (g *Gateway) timerLoop(ctx context.Context) {
	tick := make(chan struct{}, 1)
	c := cron.New()
	if _, err := c.AddFunc("@every 1s", func() {
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
