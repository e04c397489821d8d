package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// routes builds the HTTP apps: the public one (webhooks, health) and the
// admin one (admin API, dashboard, /metrics). Without server.admin_listen
// they are one app on server.listen, where /metrics asks for the admin
// token; with it the admin routes are served only on the admin listener,
// and 404 on listen.
func (g *Gateway) routes() (public, admin *fiber.App) {
	cfg := g.cfg.Load()
	separate := cfg.Server.AdminListen != ""
	public = g.newApp(!separate)
	g.providerRoutes(public)
	g.healthRoutes(public)
	admin = public
	if separate {
		admin = g.newApp(true)
		g.healthRoutes(admin)
	}
	scrape := adaptor.HTTPHandler(promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{}))
	if separate {
		admin.Get("/metrics", scrape)
	} else {
		admin.Get("/metrics", g.metricsAuth, scrape)
	}
	g.adminRoutes(admin)
	g.dashboardRoutes(admin)
	return public, admin
}

// metricsAuth guards /metrics on the public listener: only with the admin
// token as a bearer token, and off (404) while there is none. (On
// server.admin_listen, out of the Internet's reach, it is open.)
func (g *Gateway) metricsAuth(c *fiber.Ctx) error {
	if g.cfg.Load().Admin.Token == "" {
		return fiber.NewError(fiber.StatusNotFound, "/metrics is off on the public listener: set admin.token and scrape with it as a bearer token, or set server.admin_listen")
	}
	return g.checkBearer(c, authMetrics)
}

// newApp builds an HTTP app. Bodies are streamed: guard, the first handler,
// refuses one over its route's limit before it is read, so BodyLimit is
// only the biggest any route takes. Concurrency caps the connections the
// app serves at once (server.max_connections, read at start); one more is
// answered 503 and closed.
func (g *Gateway) newApp(adminRoutes bool) *fiber.App {
	app := fiber.New(fiber.Config{
		BodyLimit:                    g.maxBodyLimit(adminRoutes),
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true, // it would read a whole multipart body before guard
		Concurrency:                  g.cfg.Load().Server.MaxConnections,
		DisableStartupMessage:        true,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  2 * time.Minute,
		ErrorHandler:                 g.errorHandler,
	})
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(g.reqs)
		return c.Next()
	})
	app.Use(g.guard(adminRoutes))
	return app
}

func (g *Gateway) healthRoutes(app *fiber.App) {
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", g.readyz)
}

// providerRoutes mounts the webhooks every provider declares; New checked
// that no two claim the same method and path.
func (g *Gateway) providerRoutes(app *fiber.App) {
	for _, p := range g.providers {
		for _, r := range p.Routes() {
			app.Add(r.Method, r.Path, g.webhook(p, r))
		}
	}
}

// answer answers a webhook the gateway took as route r says, or with the
// answer the batch carries (a handshake's challenge).
func answer(c *fiber.Ctx, r providers.Route, b providers.Batch) error {
	if b.Answer != "" {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.SendString(b.Answer)
	}
	if r.ContentType != "" {
		c.Set(fiber.HeaderContentType, r.ContentType)
	}
	return c.SendString(r.Answer)
}

// errorHandler answers a request a handler failed. A fault of keyway's own
// (any error but a *fiber.Error, e.g. a store's) is logged in full and
// answered 500 in words a client may see: its text can name the database,
// its user and host, or hold raw SQL.
func (g *Gateway) errorHandler(c *fiber.Ctx, err error) error {
	code, msg := fiber.StatusInternalServerError, "internal error: the details are in keyway's log"
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe):
		code, msg = fe.Code, fe.Message
	case errors.Is(err, context.DeadlineExceeded):
		if _, limited := engine.WaitLimit(c.UserContext()); limited {
			// Storage gave up waiting (limitStorageWait).
			code, msg = errStorageWait.Code, errStorageWait.Message
		}
	}
	if code >= 500 {
		g.log.Error().Err(err).Str("method", c.Method()).Str("path", c.Path()).Msg("request failed")
	}
	if isDashboard(routed(c.Path())) && g.cfg.Load().Admin.DashboardOn() {
		// The dashboard answers people: a page, in its layout. (While it
		// is off it answers 404 as the API does.)
		c.Status(code)
		if rerr := g.render(c, "error", fmt.Sprintf("Error %d", code), map[string]any{"Message": msg}); rerr == nil {
			return nil
		}
	}
	return c.Status(code).JSON(fiber.Map{"error": msg})
}

// isDashboard reports whether path (as routed gives it) is one of the
// dashboard's pages.
func isDashboard(path string) bool { return path == "/admin" || strings.HasPrefix(path, "/admin/") }

// request builds the provider's view of a webhook: the URL it was sent to
// is server.public_url plus the path and query; forwarded headers are
// never trusted.
func (g *Gateway) request(c *fiber.Ctx) *providers.Request {
	base := strings.TrimRight(g.cfg.Load().Server.PublicURL, "/")
	if base == "" {
		base = c.Protocol() + "://" + string(c.Request().Host())
	}
	req := &providers.Request{URL: base + c.OriginalURL(), Header: map[string][]string{}, Body: append([]byte(nil), c.Body()...)}
	c.Request().Header.VisitAll(func(k, v []byte) {
		req.Header.Add(string(k), string(v))
	})
	return req
}

// webhookError answers a provider request that could not be taken.
func (g *Gateway) webhookError(c *fiber.Ctx, err error) error {
	code := providers.WebhookStatus(err)
	g.metrics.webhooks.WithLabelValues(strconv.Itoa(code)).Inc()
	g.log.Warn().Err(err).Int("status", code).Str("path", c.Path()).Msg("webhook refused")
	return c.Status(code).SendString(providers.WebhookRefusal(err))
}

// webhook handles a request on route r of provider p.
func (g *Gateway) webhook(p providers.Provider, r providers.Route) fiber.Handler {
	return func(c *fiber.Ctx) error { return g.handleWebhook(c, p, r) }
}

// webhookDeadline bounds the handling of a webhook, its commit included:
// past it (storage that stopped answering) the webhook is answered 500,
// within the time providers wait for an answer (Twilio: 15 s), so that
// they retry it rather than give up on a request that hangs. A commit cut
// short may still have gone through: the retry is then a message id seen
// before, answered 200 and handled no further.
const webhookDeadline = 10 * time.Second

// storageWait bounds each storage transaction of an admin API or
// dashboard request (engine.WithWaitLimit): on a database that stopped
// answering the request is answered 503 after it, as a webhook is 500
// after webhookDeadline, rather than held until the database answers
// again or keyway stops. Work of many transactions (a manual start of a
// big group, an import's preview) is not cut short while each answers.
const storageWait = 10 * time.Second

// limitStorageWait puts storageWait on the storage work of the admin API
// and dashboard requests under it.
func (g *Gateway) limitStorageWait(c *fiber.Ctx) error {
	c.SetUserContext(engine.WithWaitLimit(c.UserContext(), storageWait))
	return c.Next()
}

// errStorageWait is what a request whose storage gave up waiting is
// answered.
var errStorageWait = fiber.NewError(fiber.StatusServiceUnavailable,
	fmt.Sprintf("storage did not answer within %d seconds: try again later", int(storageWait/time.Second)))

// handleWebhook verifies and parses a request, handles every message and
// status it carries in one commit, and answers once that is committed.
func (g *Gateway) handleWebhook(c *fiber.Ctx, p providers.Provider, r providers.Route) error {
	start := time.Now()
	b, err := providers.ParseWebhook(p, r, g.request(c))
	if err != nil {
		return g.webhookError(c, err)
	}
	for _, ig := range b.Ignored {
		g.log.Debug().Str("provider", p.Name()).Str("kind", ig.Kind).Str("id", ig.ID).Str("reason", ig.Reason).Msg("webhook item ignored")
	}
	if len(b.Messages) == 0 && len(b.Statuses) == 0 {
		g.metrics.webhooks.WithLabelValues("200").Inc()
		return answer(c, r, b)
	}
	done := g.load.enter(start)
	ctx, cancel := context.WithTimeout(c.UserContext(), webhookDeadline)
	res, err := g.engine.HandleBatch(ctx, p.Name(), b)
	cancel()
	done()
	if err != nil {
		return g.webhookError(c, err)
	}
	for i, h := range res.Messages {
		in := b.Messages[i]
		via := h.Via
		if h.Duplicate {
			via = "duplicate"
		}
		g.metrics.inbound.WithLabelValues(via).Inc()
		g.log.Info().Str("msg_id", h.Message.ID).Str("from", config.MaskAddress(in.From)).
			Str("channel", in.Channel).Str("route", via).Msg("inbound")
		g.log.Debug().Str("msg_id", h.Message.ID).Str("body", in.Body).Msg("inbound body")
	}
	for i, found := range res.Found {
		if !found {
			g.log.Info().Str("provider", p.Name()).Str("provider_id", b.Statuses[i].ProviderID).Msg("status for an unknown message")
		}
	}
	g.metrics.webhooks.WithLabelValues("200").Inc()
	if len(b.Messages) > 0 {
		g.metrics.latency.Observe(time.Since(start).Seconds())
	}
	return answer(c, r, b)
}

// readyz answers 200 when the gateway can take traffic: it is serving, a
// config is loaded and storage can commit. Otherwise 503 with the reason in
// words anybody may read, e.g. {"ready":false,"storage":"storage cannot
// commit: no space left on device"}; the storage's own error, which can
// name the database, its user and host, goes to the log. Storage that
// failed probes again at most once a second, so readiness comes back by
// itself once commits succeed; a database is asked whether it answers at
// most once a second too, however many requests come (Store.Healthy).
func (g *Gateway) readyz(c *fiber.Ctx) error {
	body := fiber.Map{}
	if !g.ready.Load() {
		body["serving"] = "starting or shutting down"
	}
	if g.engine.Set() == nil {
		body["config"] = "no config loaded"
	}
	err := g.store.Healthy(c.UserContext())
	if err != nil {
		body["storage"] = storageTrouble(err)
	}
	if degraded := err != nil; g.degraded.Swap(degraded) != degraded {
		if degraded {
			g.log.Error().Err(err).Msg("not ready: storage cannot commit")
		} else {
			g.log.Info().Msg("ready again: storage commits")
		}
	}
	body["ready"] = len(body) == 0
	if body["ready"] == false {
		return c.Status(fiber.StatusServiceUnavailable).JSON(body)
	}
	return c.JSON(body)
}

// storageTrouble says what is wrong with storage in words a client may
// see: a full disk by name (what the operator must fix), anything else as
// unavailable.
func storageTrouble(err error) string {
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(strings.ToLower(err.Error()), "no space left on device") {
		return "storage cannot commit: no space left on device"
	}
	return "storage unavailable: it cannot commit (the details are in keyway's log)"
}
