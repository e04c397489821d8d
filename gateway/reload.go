package gateway

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Reload reads the config file again. A valid file replaces the running
// automations at once, its warnings logged; an invalid one is refused with its problems, each
// logged, and the running config stays. An empty file is invalid (see
// config.Parse), and so is a file with no automations at all while
// enrollments are active, unless it sets allow_empty_automations: true.
// The automations, groups, compliance replies, admin.token, admin.users,
// server.public_url, server.max_body_bytes and storage.retention apply at
// once; server.listen, the rest of storage, providers and email are read
// only at start and are logged as needing a restart when they changed.
func (g *Gateway) Reload(ctx context.Context) (config.Problems, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cfg, set, problems := engine.Load(g.path)
	if set != nil {
		if p, ok := g.keepsAutomations(ctx, cfg, set); !ok {
			problems, set = append(problems, p), nil
		}
	}
	if set == nil {
		g.metrics.reloads.WithLabelValues("refused").Inc()
		g.metrics.configLoaded(false, "")
		errs := problems.Errors()
		for _, p := range errs {
			g.log.Error().Str("problem", p.String()).Msg("reload refused")
		}
		g.log.Error().Int("problems", len(errs)).Msg("reload refused: the config has problems; the running config stays")
		err := fmt.Errorf("gateway: reload %s: %w", g.path, problems.Err())
		g.keepRefused(err, errs)
		return problems, err
	}
	old := g.engine.Set()
	if changed := restartSettings(g.cfg.Load(), cfg); len(changed) > 0 {
		g.log.Warn().Strs("settings", changed).Msg("reload: changed settings that take effect only at the next restart: " + strings.Join(changed, ", ") + "; the rest of the file applies now")
	}
	// The new config goes live once its steps are recorded among those
	// stored enrollments may stand at (see engine.ReconcileTo); schedules
	// and workers follow it whatever reconciling the enrollments says.
	n, err := g.engine.ReconcileTo(ctx, set, func() {
		g.cfg.Store(cfg)
		g.engine.Swap(set)
		g.metrics.configLoaded(true, cfg.Hash)
		now := time.Now()
		g.loadedAt.Store(&now)
		g.sched.Reload()
		g.wake()
	})
	if err != nil {
		g.log.Error().Err(err).Msg("reload: reconcile enrollments with the new config")
	}
	// A session that no longer stands under the new config ends at its
	// next click anyway (dashSession checks it); this drops it from the
	// store.
	if n, err := g.sessions.prune(ctx, cfg.Admin); err != nil {
		g.log.Error().Err(err).Msg("reload: drop the dashboard sessions that no longer stand")
	} else if n > 0 {
		g.log.Info().Int("sessions", n).Msg("reload: ended the dashboard sessions of users removed or whose password or the admin token changed, and those expired")
	}
	g.dropStalePauses(ctx, set, old)
	g.metrics.reloads.WithLabelValues("ok").Inc()
	// Each warning is logged as at start: an unset ${NAME} the new file
	// brings is named with its place, not only counted.
	for _, p := range problems.Warnings() {
		g.log.Warn().Str("problem", p.String()).Msg("config warning")
	}
	g.log.Info().Int("automations", len(set.Automations())).Int("ended", n).Int("warnings", len(problems)).Msg("config reloaded")
	return problems, nil
}

// dropStalePauses lifts the dashboard pauses of the automations that set
// changed or removed from old (nil: none removed), and logs them.
func (g *Gateway) dropStalePauses(ctx context.Context, set, old *engine.Set) {
	var gone []string
	if old != nil {
		for _, a := range old.Automations() {
			if set.Automation(a.ID) == nil {
				gone = append(gone, a.ID)
			}
		}
	}
	dropped, err := g.engine.DropStalePauses(ctx, set, gone)
	if err != nil {
		g.log.Error().Err(err).Msg("reload: lift the dashboard pauses of changed automations")
	}
	for _, id := range dropped {
		g.log.Info().Str("automation", id).Msg("the file changed an automation paused from the dashboard: the pause ends, the file rules")
	}
}

// keepsAutomations refuses, with a problem placed at automations, a
// reloaded config with no automations while enrollments are active: applying
// it would end them all, and a file that lost every automation is far more
// often half-written than meant. allow_empty_automations: true lets it
// through. The count is taken before the swap, so an enrollment started in
// between still ends; the guard is against the deploy, not the race.
func (g *Gateway) keepsAutomations(ctx context.Context, cfg *config.Config, set *engine.Set) (config.Problem, bool) {
	if len(set.Automations()) > 0 || cfg.AllowEmptyAutomations {
		return config.Problem{}, true
	}
	active := 0
	err := g.view(ctx, func(tx adminTx) error {
		counts, err := tx.CountActive()
		for _, n := range counts {
			active += n
		}
		return err
	})
	switch {
	case err != nil:
		return cfg.Problemf("automations", "the file has no automations, and the active enrollments it would end cannot be counted (%v); "+
			"set allow_empty_automations: true at top level to remove every automation anyway", err), false
	case active > 0:
		return cfg.Problemf("automations", "the file has no automations, and applying it would end %d active enrollment(s); "+
			"to remove every automation on purpose, set allow_empty_automations: true at top level", active), false
	}
	return config.Problem{}, true
}

// restartSettings names the settings read only at start that b changes
// from a, the running config, in the order the file reference gives them.
func restartSettings(a, b *config.Config) []string {
	var changed []string
	for _, s := range []struct {
		name string
		same bool
	}{
		{"server.listen", a.Server.Listen == b.Server.Listen},
		{"server.admin_listen", a.Server.AdminListen == b.Server.AdminListen},
		{"server.max_connections", a.Server.MaxConnections == b.Server.MaxConnections},
		{"storage.path", a.Storage.Path == b.Storage.Path},
		{"storage.postgres", a.Storage.Postgres == b.Storage.Postgres},
		{"providers", a.Providers.Equal(b.Providers)},
		{"email", fmt.Sprint(a.Email.SMTP) == fmt.Sprint(b.Email.SMTP)},
	} {
		if !s.same {
			changed = append(changed, s.name)
		}
	}
	return changed
}

// watchReloads reloads on SIGHUP and when the config file changes, until
// ctx is done. Editors replace files rather than write them, so it watches
// the folder and debounces bursts of events. It closes watching once SIGHUP
// is caught and the folder watched: a change before that would go unseen.
// SIGHUP comes through Options.Hangups, caught since the process started,
// so that one sent while keyway starts waits for this loop; without it,
// the loop catches SIGHUP itself.
func (g *Gateway) watchReloads(ctx context.Context, watching chan<- struct{}) {
	hup := g.hangups
	if hup == nil {
		own := make(chan os.Signal, 1)
		signal.Notify(own, syscall.SIGHUP)
		defer signal.Stop(own)
		hup = own
	}

	var events <-chan fsnotify.Event
	target, _ := filepath.Abs(g.path)
	// A config that is a symlink (a Kubernetes ConfigMap is one, through a
	// folder symlink that an update swaps) changes where it points to: its
	// target's folder is watched too, and a new target is a change.
	resolved := resolveConfig(target)
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		if err = w.Add(filepath.Dir(target)); err == nil {
			events = w.Events
			g.watchTarget(w, target, resolved)
		}
	}
	if err != nil {
		g.log.Warn().Err(err).Msg("config file watch is off; SIGHUP and POST /api/v1/reload still reload")
	}
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
			if !mayChange(ev, target, resolved) {
				continue
			}
			p, _ := filepath.Abs(ev.Name)
			now := resolveConfig(target)
			if p == target || p == resolved || now != resolved {
				if now != resolved {
					g.watchTarget(w, target, now)
					resolved = now
				}
				debounce = time.After(300 * time.Millisecond)
			}
		case <-debounce:
			debounce = nil
			g.log.Info().Msg("config file changed: reloading")
			_, _ = g.Reload(ctx)
		}
	}
}

// mayChange reports whether ev, from a watched folder, may change the
// config at target, which leads to resolved: a write to either, or a file
// created or renamed, which may be a symlink on the way to it swapped. A
// write to any other file is not looked at further: the data file often
// sits beside the config, and every commit writes it.
func mayChange(ev fsnotify.Event, target, resolved string) bool {
	switch {
	case ev.Op&(fsnotify.Create|fsnotify.Rename) != 0:
		return true
	case ev.Op&fsnotify.Write == 0:
		return false
	}
	p, _ := filepath.Abs(ev.Name)
	return p == target || p == resolved
}

// resolveConfig returns the file the config path leads to through its
// symlinks, or path itself when it leads nowhere (yet).
func resolveConfig(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// watchTarget watches the folder of resolved, the file the config path
// target leads to, when it is not target's own folder.
func (g *Gateway) watchTarget(w *fsnotify.Watcher, target, resolved string) {
	if dir := filepath.Dir(resolved); dir != filepath.Dir(target) {
		if err := w.Add(dir); err != nil {
			g.log.Warn().Err(err).Str("folder", dir).Msg("config file watch: changes to the file the config links to are not seen; SIGHUP and POST /api/v1/reload still reload")
		}
	}
}
