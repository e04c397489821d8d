package gateway

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/keyway-sms/keyway/automation"
	"github.com/keyway-sms/keyway/config"
)

// Reload reads the config file again. A valid file replaces the running
// automations at once; an invalid one is refused with its problems and the
// running config stays. The automations, groups, compliance replies,
// admin.token, server.public_url and server.max_body_bytes apply at once;
// server.listen, storage, providers and email are read only at start and
// are logged as needing a restart when they changed.
func (g *Gateway) Reload(ctx context.Context) (config.Problems, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cfg, set, problems := automation.Load(g.path)
	if set == nil {
		g.metrics.reloads.WithLabelValues("refused").Inc()
		g.log.Error().Int("problems", len(problems.Errors())).Msg("reload refused: the config has problems; the running config stays")
		return problems, fmt.Errorf("gateway: reload %s: %w", g.path, problems.Err())
	}
	if old := g.cfg.Load(); restartNeeded(old, cfg) {
		g.log.Warn().Msg("reload: server.listen, storage, providers and email take effect at the next restart")
	}
	g.cfg.Store(cfg)
	g.engine.Swap(set)
	// The new config is live: schedules and workers follow it whatever
	// reconciling the stored enrollments says.
	g.sched.Reload()
	g.wake()
	n, err := g.engine.Reconcile(ctx)
	if err != nil {
		g.log.Error().Err(err).Msg("reload: reconcile enrollments with the new config")
	}
	g.metrics.reloads.WithLabelValues("ok").Inc()
	g.log.Info().Int("automations", len(set.Automations())).Int("ended", n).Int("warnings", len(problems)).Msg("config reloaded")
	return problems, nil
}

func restartNeeded(a, b *config.Config) bool {
	return a.Server.Listen != b.Server.Listen || a.Storage.Path != b.Storage.Path ||
		fmt.Sprint(a.Providers) != fmt.Sprint(b.Providers) || fmt.Sprint(a.Email.SMTP) != fmt.Sprint(b.Email.SMTP)
}

// watchReloads reloads on SIGHUP and when the config file changes, until
// ctx is done. Editors replace files rather than write them, so it watches
// the folder and debounces bursts of events. It closes watching once SIGHUP
// is caught and the folder watched: a SIGHUP before that would end the
// process, and a change before that would go unseen.
func (g *Gateway) watchReloads(ctx context.Context, watching chan<- struct{}) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var events <-chan fsnotify.Event
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		if err = w.Add(filepath.Dir(g.path)); err == nil {
			events = w.Events
		}
	}
	if err != nil {
		g.log.Warn().Err(err).Msg("config file watch is off; SIGHUP and POST /api/v1/reload still reload")
	}
	target, _ := filepath.Abs(g.path)
	close(watching)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			g.log.Info().Msg("SIGHUP: reloading config")
			_, _ = g.Reload(ctx)
		case ev := <-events:
			if p, _ := filepath.Abs(ev.Name); p == target && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce = time.After(300 * time.Millisecond)
			}
		case <-debounce:
			debounce = nil
			g.log.Info().Msg("config file changed: reloading")
			_, _ = g.Reload(ctx)
		}
	}
}
