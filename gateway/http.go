package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// routes builds the HTTP apps: the public one (webhooks, health) and the
// admin one (admin API, dashboard, /metrics). Without server.admin_listen
// they are one app on server.listen; with it the admin routes are served
// only on the admin listener, and 404 on listen.
func (g *Gateway) routes() (public, admin *fiber.App) {
	cfg := g.cfg.Load()
	public = g.newApp(cfg.Server.MaxBodyBytes)
	g.providerRoutes(public)
	g.healthRoutes(public)
	admin = public
	if cfg.Server.AdminListen != "" {
		admin = g.newApp(cfg.Server.MaxBodyBytes)
		g.healthRoutes(admin)
	}
	admin.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{})))
	g.adminRoutes(admin)
	g.dashboardRoutes(admin)
	return public, admin
}

func (g *Gateway) newApp(maxBody int) *fiber.App {
	return fiber.New(fiber.Config{
		// Bodies over server.max_body_bytes get 413 from the handlers; the
		// server itself reads a margin beyond it, so that a client still
		// sending gets a 413 rather than a closed connection.
		BodyLimit:             max(maxBody, adminMaxBody)*4 + 1<<20,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          g.errorHandler,
	})
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
			h := g.inbound(p, r)
			if r.Kind == providers.RouteStatus {
				h = g.status(p, r)
			}
			app.Add(r.Method, r.Path, g.limitBody, h)
		}
	}
}

// answer answers a webhook the gateway took as route r says.
func answer(c *fiber.Ctx, r providers.Route) error {
	if r.ContentType != "" {
		c.Set(fiber.HeaderContentType, r.ContentType)
	}
	return c.SendString(r.Answer)
}

func (g *Gateway) errorHandler(c *fiber.Ctx, err error) error {
	code := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
	}
	if code >= 500 {
		g.log.Error().Err(err).Str("path", c.Path()).Msg("request failed")
	}
	if isDashboard(c.Path()) && g.cfg.Load().Admin.Token != "" {
		// The dashboard answers people: a page, in its layout. (While it
		// is off it answers 404 as the API does.)
		c.Status(code)
		if rerr := g.render(c, "error", fmt.Sprintf("Error %d", code), map[string]any{"Message": err.Error()}); rerr == nil {
			return nil
		}
	}
	return c.Status(code).JSON(fiber.Map{"error": err.Error()})
}

// isDashboard reports whether path is one of the dashboard's pages.
func isDashboard(path string) bool { return path == "/admin" || strings.HasPrefix(path, "/admin/") }

// limitBody answers 413 to a webhook body over server.max_body_bytes.
func (g *Gateway) limitBody(c *fiber.Ctx) error {
	if len(c.Body()) > g.cfg.Load().Server.MaxBodyBytes {
		g.metrics.webhooks.WithLabelValues("413").Inc()
		return c.Status(fiber.StatusRequestEntityTooLarge).SendString("request body too large")
	}
	return c.Next()
}

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
	code := fiber.StatusInternalServerError
	switch {
	case errors.Is(err, providers.ErrSignature):
		code = fiber.StatusForbidden
	case errors.Is(err, providers.ErrMalformed):
		code = fiber.StatusBadRequest
	}
	g.metrics.webhooks.WithLabelValues(strconv.Itoa(code)).Inc()
	g.log.Warn().Err(err).Int("status", code).Str("path", c.Path()).Msg("webhook refused")
	return c.Status(code).SendString(strings.ToLower(fiberStatus(code)))
}

func fiberStatus(code int) string {
	switch code {
	case fiber.StatusForbidden:
		return "forbidden: bad or missing signature"
	case fiber.StatusBadRequest:
		return "bad request: malformed form"
	}
	return "internal error"
}

// inbound handles a message from a contact on route r of provider p.
func (g *Gateway) inbound(p providers.Provider, r providers.Route) fiber.Handler {
	return func(c *fiber.Ctx) error { return g.handleInbound(c, p, r) }
}

// handleInbound verifies, parses and handles a message, and answers once
// it and every effect are committed.
func (g *Gateway) handleInbound(c *fiber.Ctx, p providers.Provider, r providers.Route) error {
	start := time.Now()
	in, err := p.ParseInbound(g.request(c))
	if err != nil {
		return g.webhookError(c, err)
	}
	h, err := g.engine.HandleInbound(c.UserContext(), in)
	if err != nil {
		return g.webhookError(c, err)
	}
	route := h.Route
	if h.Duplicate {
		route = "duplicate"
	}
	g.metrics.inbound.WithLabelValues(route).Inc()
	g.metrics.webhooks.WithLabelValues("200").Inc()
	g.metrics.latency.Observe(time.Since(start).Seconds())
	g.log.Info().Str("msg_id", h.Message.ID).Str("from", config.MaskAddress(in.From)).
		Str("channel", in.Channel).Str("route", route).Msg("inbound")
	g.log.Debug().Str("msg_id", h.Message.ID).Str("body", in.Body).Msg("inbound body")
	return answer(c, r)
}

// status handles a delivery status report on route r of provider p.
func (g *Gateway) status(p providers.Provider, r providers.Route) fiber.Handler {
	return func(c *fiber.Ctx) error { return g.handleStatus(c, p, r) }
}

// handleStatus records a status report; the status callback the gateway
// asked for carries keyway's id as msg.
func (g *Gateway) handleStatus(c *fiber.Ctx, p providers.Provider, r providers.Route) error {
	s, err := p.ParseStatus(g.request(c))
	if err != nil {
		return g.webhookError(c, err)
	}
	found, err := g.engine.UpdateStatus(c.UserContext(), p.Name(), s, c.Query("msg"))
	if err != nil {
		return g.webhookError(c, err)
	}
	if !found {
		g.log.Info().Str("provider", p.Name()).Str("provider_id", s.ProviderID).Msg("status for an unknown message")
	}
	return answer(c, r)
}

// readyz answers 200 when the gateway can take traffic: it is serving, a
// config is loaded and storage can commit. Otherwise 503 with the reason,
// e.g. {"ready":false,"storage":"last commit failed: ...: no space left on
// device"}. Storage that failed probes again at most once a second, so
// readiness comes back by itself once commits succeed.
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
		body["storage"] = err.Error()
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
