package gateway

import (
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// loginMaxBody caps the dashboard's login form: a token and where to go
// next. It is read before anybody is known, so it gets far less room than
// the pages behind the login.
const loginMaxBody = 16 << 10

// prefetch is how much of a body the server reads along with the headers,
// before any handler runs (fasthttp's streaming reads up to 8 KiB); the
// rest is read only when a handler asks for it.
const prefetch = 8 << 10

// guard runs first on every request. It sets the headers every answer
// carries, and caps the body at its route's limit before it is read: the
// server streams bodies (fiber.Config.StreamRequestBody), so a body is
// read only when a handler asks for it, and a Content-Length over the
// limit is answered 413 at once, the connection closed instead of read.
// A chunked body has no length to check: it is read up to its limit, and
// refused as soon as it passes it; on an admin route other than the login
// form it is held unread until the request is authenticated (see
// readHeldBody), so that nobody unknown can make keyway read and keep up to
// that route's limit (64 MiB for a contacts import) per connection. A
// compressed body (Content-Encoding) is refused with 415: a small one can
// unpack to gigabytes. adminRoutes says whether the app serves the admin
// API and the dashboard, whose bodies may be bigger than a webhook's.
func (g *Gateway) guard(adminRoutes bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		path := routed(c.Path())
		admin := adminRoutes && isAdminPath(path)
		if admin {
			c.Set(fiber.HeaderCacheControl, "no-store")
		}
		limit := g.bodyLimit(path, admin)
		hold := admin && path != "/admin/login"
		if ok, err := g.capBody(c, limit, admin, hold); !ok {
			// What is left of the body is never read: the connection
			// cannot carry another request.
			c.Context().SetConnectionClose()
			return err
		}
		err := c.Next()
		held, _ := c.Locals(heldBody).(int)
		if held > 0 || c.Request().IsBodyStream() && c.Request().Header.ContentLength() > prefetch {
			// Answered without reading the body (a 401, a 404): the
			// rest of it would be read as the next request.
			c.Context().SetConnectionClose()
		}
		return err
	}
}

// routed is path as the router matches it: whatever its case, and with or
// without a trailing slash (/API/V1/contacts/ reaches the admin API as
// /api/v1/contacts does), so that guard holds every way of writing a route
// to that route's limits.
func routed(path string) string {
	path = strings.ToLower(path)
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return path
}

// isAdminPath reports whether path (as routed gives it) is the admin
// API's or the dashboard's.
func isAdminPath(path string) bool {
	return path == "/api/v1" || strings.HasPrefix(path, "/api/v1/") || isDashboard(path)
}

// bodyLimit is the most a request body on path may hold: the admin
// routes' own limit (the login form's smaller one), else
// server.max_body_bytes, which webhooks are held to.
func (g *Gateway) bodyLimit(path string, admin bool) int {
	switch {
	case admin && path == "/admin/login":
		return loginMaxBody
	case admin && path == importPath:
		return importMaxBody
	case admin:
		return adminMaxBody
	}
	return g.cfg.Load().Server.MaxBodyBytes
}

// maxBodyLimit is the biggest body any route of an app takes: the server's
// own BodyLimit.
func (g *Gateway) maxBodyLimit(adminRoutes bool) int {
	n := g.cfg.Load().Server.MaxBodyBytes
	if adminRoutes {
		n = max(n, adminMaxBody, loginMaxBody, importMaxBody)
	}
	return n
}

// heldBody is the local under which guard leaves the limit of a chunked
// body it held unread for readHeldBody.
const heldBody = "keyway.heldBody"

// capBody refuses a body over limit, or compressed, before it is read; a
// chunked one is read here, up to limit, unless hold says to leave it for
// readHeldBody. When it refuses (ok false), it has answered or returns the
// error to answer.
func (g *Gateway) capBody(c *fiber.Ctx, limit int, admin, hold bool) (ok bool, err error) {
	if enc := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)); enc != "" && !strings.EqualFold(enc, "identity") {
		return false, g.refuseBody(c, admin, fiber.StatusUnsupportedMediaType, "compressed request bodies are not taken: send it without Content-Encoding")
	}
	n := c.Request().Header.ContentLength()
	if n > limit {
		return false, g.refuseBody(c, admin, fiber.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: at most %d bytes", limit))
	}
	if n != -1 || !c.Request().IsBodyStream() { // -1: chunked
		return true, nil
	}
	if hold {
		c.Locals(heldBody, limit)
		return true, nil
	}
	return g.readChunked(c, limit, admin)
}

// readHeldBody reads the chunked body guard held unread, up to its route's
// limit, once the request is known to come from an admin or a user: the
// admin API's token check and the dashboard's session check call it as
// they let a request through. A body over the limit is refused with 413
// and the connection closed.
func (g *Gateway) readHeldBody(c *fiber.Ctx) error {
	limit, _ := c.Locals(heldBody).(int)
	if limit == 0 {
		return nil
	}
	c.Locals(heldBody, 0)
	if ok, err := g.readChunked(c, limit, true); !ok {
		c.Context().SetConnectionClose()
		return err
	}
	return nil
}

// readChunked reads a chunked body up to limit, and refuses it (ok false,
// with the error to answer) once it passes limit.
func (g *Gateway) readChunked(c *fiber.Ctx, limit int, admin bool) (ok bool, err error) {
	body, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), int64(limit)+1))
	switch {
	case err != nil:
		return false, g.refuseBody(c, admin, fiber.StatusBadRequest, "unreadable chunked body")
	case len(body) > limit:
		return false, g.refuseBody(c, admin, fiber.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: at most %d bytes", limit))
	}
	c.Request().SetBody(body)
	return true, nil
}

// refuseBody answers a body guard refused: the admin routes in their own
// way (JSON, or a dashboard page), the others, webhooks among them, as
// plain text, counted as webhook answers.
func (g *Gateway) refuseBody(c *fiber.Ctx, admin bool, code int, msg string) error {
	if admin {
		return fiber.NewError(code, msg)
	}
	if c.Method() == fiber.MethodPost {
		g.metrics.webhooks.WithLabelValues(fmt.Sprint(code)).Inc()
	}
	return c.Status(code).SendString(msg)
}
