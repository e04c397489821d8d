package gateway

import (
	"cmp"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Actor is who a request acts for: a dashboard user, or the admin token
// (named config.TokenActor, an admin), through a session or the API.
type Actor struct {
	Name string
	Role config.Role
}

// IsAdmin reports whether the actor may do what only admins may: cancel,
// start, import, reload, pause.
func (a Actor) IsAdmin() bool { return a.Role == config.RoleAdmin }

// actorLocal is the request local the actor is kept under.
const actorLocal = "actor"

// actor returns who the request acts for: set by the session check of the
// dashboard and by the admin API's bearer check; the zero Actor (no name,
// no role) before either ran. What a handler then does through the
// engine with c.UserContext() records the name (engine.WithActor).
func actor(c *fiber.Ctx) Actor {
	a, _ := c.Locals(actorLocal).(Actor)
	return a
}

// actAs makes a the request's actor, for the handlers after and for the
// engine through the request's context.
func actAs(c *fiber.Ctx, a Actor) {
	c.Locals(actorLocal, a)
	c.SetUserContext(engine.WithActor(c.UserContext(), a.Name))
}

// tokenActor is who the admin token acts as.
var tokenActor = Actor{Name: config.TokenActor, Role: config.RoleAdmin}

// sessionActor is who a live session acts as under admin: its user with
// the role the running config gives them now, or the admin token.
func sessionActor(se *session, admin config.Admin) Actor {
	if se.user == "" {
		return tokenActor
	}
	if u := admin.User(se.user); u != nil {
		return Actor{Name: u.Name, Role: u.Role}
	}
	return Actor{Name: se.user}
}

// adminOnly lets an admin through; anybody else gets 403 (a page that
// says so, on the dashboard). It goes after the session or bearer check.
func (g *Gateway) adminOnly(c *fiber.Ctx) error {
	if a := actor(c); !a.IsAdmin() {
		return fiber.NewError(fiber.StatusForbidden, "only an admin may do this; you are logged in as "+a.Name+" ("+string(a.Role)+")")
	}
	return c.Next()
}

// userKey is the failed-login key of a user name, whatever its case: the
// login takes "ANN" for "Ann", so a guesser must not get a budget per way
// of writing it.
func userKey(name string) string { return "user " + config.FoldUserName(name) }

// noUserHash is compared against when a login names nobody, so that an
// unknown name takes as long to refuse as a wrong password.
var noUserHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	if err != nil {
		panic("gateway: bcrypt: " + err.Error())
	}
	return h
})

func (g *Gateway) loginPage(c *fiber.Ctx) error {
	return g.render(c, "login", "Log in", g.loginView(safeNext(c.Query("next")), "", ""))
}

func (g *Gateway) loginView(next, user, problem string) map[string]any {
	admin := g.cfg.Load().Admin
	return map[string]any{"Next": next, "User": user, "Error": problem, "Users": len(admin.Users) > 0, "Token": admin.Token != ""}
}

// login opens a session: for a user of admin.users with their password, or,
// with no user name, for the admin token. Failures are slowed down per
// client address and per user name (failedLogins): past a few, a try gets
// 429 with Retry-After, unchecked (a right password too), until the next
// try of both is due.
func (g *Gateway) login(c *fiber.Ctx) error {
	admin := g.cfg.Load().Admin
	// The form's fields, never the query string's: a secret in a URL lands
	// in logs and histories.
	form := c.Request().PostArgs()
	next := safeNext(string(form.Peek("next")))
	name := strings.TrimSpace(string(form.Peek("user")))
	if err := g.crossSite(c); err != nil {
		g.log.Warn().Str("remote", c.IP()).Str("sec_fetch_site", c.Get("Sec-Fetch-Site")).Str("origin", c.Get(fiber.HeaderOrigin)).
			Msg("dashboard: login refused: it was posted from another site's page")
		c.Status(fiber.StatusForbidden)
		return g.render(c, "login", "Log in", g.loginView(next, "",
			"That login was sent from another site's page, so it was refused: log in here instead."))
	}
	secret := string(form.Peek("password"))
	if secret == "" {
		secret = string(form.Peek("token")) // the form before users came
	}
	keys := []string{addrKey(c.IP())}
	if name != "" {
		keys = append(keys, userKey(name))
	}
	if wait := g.logins.wait(keys...); wait > 0 {
		g.metrics.authFailures.WithLabelValues(authDashboard, "limited").Inc()
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		c.Status(fiber.StatusTooManyRequests)
		who := "from your address"
		if name != "" {
			who = "as " + name + " or from your address"
		}
		return g.render(c, "login", "Log in", g.loginView(next, name,
			"Too many failed logins "+who+": try again in "+retryAfter(wait)+" seconds."))
	}
	var ok bool
	var problem string
	if name == "" {
		ok = admin.Token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(secret)), []byte(admin.Token)) == 1
		problem = "That is not the admin token."
		if admin.Token == "" {
			problem = "Give your user name and password."
		}
	} else {
		u, hash := admin.User(name), noUserHash()
		if u != nil {
			hash = []byte(u.PasswordHash)
		}
		ok = bcrypt.CompareHashAndPassword(hash, []byte(secret)) == nil && u != nil
		problem = "That user name and password do not match."
		if ok {
			name = u.Name // as the file writes it, whatever was typed
		}
	}
	if !ok {
		g.logins.failed(keys...)
		g.metrics.authFailures.WithLabelValues(authDashboard, "wrong").Inc()
		ev := g.log.Warn().Str("remote", c.IP())
		if admin.User(name) != nil {
			ev = ev.Str("user", name) // a name that is nobody's may be a password typed in the wrong box
		}
		ev.Bool("token", name == "").Msg("dashboard: failed login")
		c.Status(fiber.StatusUnauthorized)
		return g.render(c, "login", "Log in", g.loginView(next, name, problem))
	}
	id, err := g.sessions.open(c.UserContext(), admin, name)
	if err != nil {
		return err
	}
	g.log.Info().Str("remote", c.IP()).Str("user", cmp.Or(name, config.TokenActor)).Msg("dashboard: logged in")
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: id, Path: "/admin", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: g.overHTTPS(c), MaxAge: int(sessionTTL.Seconds()),
	})
	return c.Redirect(next, fiber.StatusSeeOther)
}

// crossSite returns an error when the request was sent by a browser from
// another site's page, as a login form hidden in an attacker's page would
// be, to log the victim in as the attacker (login CSRF: what they then type
// lands in the attacker's account). The other dashboard forms carry the
// session's CSRF token; the login has no session yet, so the browser's own
// Sec-Fetch-Site header decides, or, from a browser without it, the Origin
// header against the Host (or the origin of server.public_url, which a
// proxy in front may serve under another Host). A request with neither is
// no browser's cross-site one (a script), and passes.
func (g *Gateway) crossSite(c *fiber.Ctx) error {
	p := http.NewCrossOriginProtection()
	if u, err := url.Parse(g.cfg.Load().Server.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		// An origin it does not take trusts nothing more.
		_ = p.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	req := &http.Request{Method: c.Method(), Host: string(c.Request().Host()), Header: http.Header{}}
	for _, h := range []string{"Sec-Fetch-Site", fiber.HeaderOrigin} {
		if v := c.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if err := p.Check(req); err != nil {
		return fmt.Errorf("gateway: dashboard login: %w", err)
	}
	return nil
}

// overHTTPS reports whether the browser reached keyway over HTTPS, so that
// the session cookie may be marked Secure: the connection is TLS, a proxy
// in front says so (X-Forwarded-Proto: https), or the request is for the
// host of an https server.public_url (what the proxy in front serves).
// Reached over plain HTTP at another address (server.admin_listen on a
// private network, a tunnel to loopback, a script), a Secure cookie would
// be refused by the browser or never sent back, and the login would lead
// nowhere.
func (g *Gateway) overHTTPS(c *fiber.Ctx) bool {
	if c.Protocol() == "https" {
		return true
	}
	u, err := url.Parse(g.cfg.Load().Server.PublicURL)
	if err != nil || !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	host := c.Hostname()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.EqualFold(host, u.Hostname())
}

func (g *Gateway) logout(c *fiber.Ctx) error {
	if err := g.sessions.close(c.UserContext(), c.Cookies(sessionCookie)); err != nil {
		return err
	}
	c.ClearCookie(sessionCookie)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}

// dashHome sends a person to their first page: the overview for an
// admin, the contacts for staff.
func (g *Gateway) dashHome(c *fiber.Ctx) error {
	if actor(c).IsAdmin() {
		return c.Redirect("/admin/overview", fiber.StatusFound)
	}
	return c.Redirect("/admin/inbox", fiber.StatusFound)
}
