package gateway

import (
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// web holds the dashboard's templates and stylesheet: plain files, no
// build step, embedded in the binary so that it works offline.
//
//go:embed web
var web embed.FS

const (
	sessionCookie = "keyway_session"
	sessionTTL    = 12 * time.Hour
	dashPageSize  = 50
)

// pages are the dashboard's templates, each the layout plus one page. The
// functions given here only name the functions pages call: render clones
// the page and gives it the request's own (times in defaults.timezone,
// contact names), so that a page is never executed itself.
var pages = func() map[string]*template.Template {
	funcs := pageFuncs(time.UTC, nil, nil)
	funcs["consoleurl"] = func(*engine.Message) string { return "" } // render gives the gateway's
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "off", "automations", "automation", "enrollments", "cancel", "contacts", "contact", "messages", "handoffs", "reload", "error", "overview", "import", "importjob",
		"inbox", "conversation", "send", "start", "broadcasts"} {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(web, "web/layout.html", "web/"+name+".html"))
	}
	return out
}()

// refusedReload is the last reload the gateway refused, for the
// dashboard.
type refusedReload struct {
	At       time.Time
	Error    string
	Problems []string
}

// dashboardRoutes mounts the dashboard under /admin/. It is off (404)
// while there is neither admin.token nor any admin.users.
func (g *Gateway) dashboardRoutes(app *fiber.App) {
	d := app.Group("/admin", g.limitStorageWait, g.dashOn)
	d.Get("/style.css", func(c *fiber.Ctx) error {
		css, err := web.ReadFile("web/style.css")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
		return c.Send(css)
	})
	d.Get("/login", g.loginPage)
	d.Post("/login", g.login)
	// Every other page needs a session; the admin-only ones an admin.
	in, admin := g.dashSession, g.adminOnly
	d.Get("/", in, g.dashHome)
	d.Post("/logout", in, g.logout)
	d.Get("/automations", in, admin, g.dashAutomations)
	d.Get("/automations/:id", in, admin, g.dashAutomation)
	d.Post("/automations/:id/pause", in, admin, g.dashPause)
	d.Get("/enrollments", in, admin, g.dashEnrollments)
	d.Get("/enrollments/:id/cancel", in, admin, g.dashCancelPage)
	d.Post("/enrollments/:id/cancel", in, admin, g.dashCancel)
	d.Get("/contacts", in, g.dashContacts)
	d.Get("/contacts.csv", in, g.exportContactsCSV)
	d.Get("/contacts/import", in, admin, g.dashImportForm)
	d.Post("/contacts/import", in, admin, g.dashImportUpload)
	d.Get("/contacts/import/:id", in, admin, g.dashImport)
	d.Post("/contacts/import/:id/apply", in, admin, g.dashImportApply)
	d.Get("/contacts/:phone", in, g.dashContact)
	d.Get("/messages", in, g.dashMessages)
	d.Get("/handoffs", in, g.dashHandoffs)
	d.Get("/broadcasts", in, admin, g.dashBroadcasts)
	d.Post("/broadcasts/:id/cancel", in, admin, g.dashCancelBroadcast)
	d.Get("/reload", in, admin, g.dashReload)
	d.Post("/reload", in, admin, g.dashReloadNow)
	d.Get("/overview", in, admin, g.dashOverview)
	g.inboxRoutes(d, in, admin)
}

// dashOn sets the dashboard's security headers, and answers every page
// with one that says how to turn the dashboard on while admin.token is
// empty (404, but a page a person can read, and its stylesheet).
func (g *Gateway) dashOn(c *fiber.Ctx) error {
	c.Set("X-Frame-Options", "DENY")
	c.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !g.cfg.Load().Admin.DashboardOn() && !strings.HasSuffix(c.Path(), "/style.css") && !strings.HasSuffix(c.Path(), "/poll.js") {
		c.Status(fiber.StatusNotFound)
		return g.render(c, "off", "The dashboard is off", map[string]any{"Path": g.path})
	}
	return c.Next()
}

// dashSession lets a request with a live session through, as the
// session's actor, and sends anybody else to the login page. A POST must
// carry the session's CSRF token besides the SameSite=Strict cookie.
func (g *Gateway) dashSession(c *fiber.Ctx) error {
	admin := g.cfg.Load().Admin
	se, err := g.sessions.get(c.UserContext(), c.Cookies(sessionCookie), admin)
	if err != nil {
		return err
	}
	if se == nil {
		if c.Method() != fiber.MethodGet {
			return fiber.NewError(fiber.StatusForbidden, "log in to the dashboard first")
		}
		return c.Redirect("/admin/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	if err := g.readHeldBody(c); err != nil {
		return err
	}
	if c.Method() == fiber.MethodPost && subtle.ConstantTimeCompare([]byte(csrfToken(c)), []byte(se.csrf)) != 1 {
		return fiber.NewError(fiber.StatusForbidden, "the form's CSRF token is missing or stale: reload the page")
	}
	c.Locals("session", se)
	actAs(c, sessionActor(se, admin))
	return c.Next()
}

// csrfHeader is the header a script may send the CSRF token in.
const csrfHeader = "X-CSRF-Token"

// csrfToken is the CSRF token a POST carries: in the X-CSRF-Token header,
// or the form body's csrf field (url-encoded or multipart). Never the query
// string: a URL lands in logs, histories and Referer headers.
func csrfToken(c *fiber.Ctx) string {
	if t := c.Get(csrfHeader); t != "" {
		return t
	}
	if strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEMultipartForm) {
		if f, err := c.MultipartForm(); err == nil && len(f.Value["csrf"]) > 0 {
			return f.Value["csrf"][0]
		}
		return ""
	}
	return string(c.Request().PostArgs().Peek("csrf"))
}

// render answers with page, its data wrapped with what the layout needs.
// Times show in defaults.timezone, and contacts by the names a handler
// put in the request's locals (see dashNames).
func (g *Gateway) render(c *fiber.Ctx, page, title string, data any) error {
	return g.renderTemplate(c, page, "", title, data)
}

// renderPart answers with the part named part of page (a template the
// page defines), for poll.js: the same data as the whole page.
func (g *Gateway) renderPart(c *fiber.Ctx, page, part string, data any) error {
	return g.renderTemplate(c, page, part, "", data)
}

// renderTemplate answers with page, or with only its part named part
// when part is not empty.
func (g *Gateway) renderTemplate(c *fiber.Ctx, page, part, title string, data any) error {
	view := map[string]any{"Title": title, "Page": page, "Data": data, "Actor": actor(c)}
	if se, ok := c.Locals("session").(*session); ok {
		view["CSRF"] = se.csrf
	}
	set := g.engine.Set()
	names, _ := c.Locals("names").(map[string]string)
	t, err := pages[page].Clone()
	if err != nil {
		return fmt.Errorf("gateway: dashboard page %s: %w", page, err)
	}
	t.Funcs(pageFuncs(set.Config.Location(), names, set)).Funcs(template.FuncMap{"consoleurl": g.consoleURL})
	var b strings.Builder
	if part == "" {
		err = t.Execute(&b, view)
	} else {
		err = t.ExecuteTemplate(&b, part, view)
	}
	if err != nil {
		return fmt.Errorf("gateway: dashboard page %s %s: %w", page, part, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(b.String())
}

// safeNext keeps a login's "next" on the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin/"
	}
	return next
}

// keepRefused remembers a refused reload's problems for the dashboard.
func (g *Gateway) keepRefused(err error, problems config.Problems) {
	r := &refusedReload{At: time.Now(), Error: err.Error()}
	for _, p := range problems {
		r.Problems = append(r.Problems, p.String())
	}
	g.lastRefused.Store(r)
}
