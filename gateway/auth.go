package gateway

import (
	"crypto/subtle"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// Where a request that needs the admin token came, as the
// keyway_auth_failures_total metric labels it.
const (
	authAPI       = "api"
	authDashboard = "dashboard"
	authMetrics   = "metrics"
)

// How fast a client may fail: loginBurst failures at once, then one more
// each loginEvery. A 16-character random token is out of reach of any
// guessing, but a short one set in dev mode is not, and a flood of tries
// costs work; this keeps a guesser to a few hundred tries an hour.
const (
	loginBurst = 5
	loginEvery = 10 * time.Second
	// maxLoginKeys bounds the memory the failures of many addresses take:
	// beyond it, the keys that have fully recovered are forgotten, and
	// should that not make room, new ones share one budget.
	maxLoginKeys = 10000
)

// failedLogins slows down guessing at the dashboard's login form. Each key
// ("addr " and the client's address, and "user " and a user name, both
// checked) may fail loginBurst times, then once per loginEvery; until its
// next try is due, a login is answered 429 without its password being
// looked at, so that a guesser learns nothing. A right password does not
// spend the budget. The admin API keeps a budget of its own per address
// ("api "), which only quiets its log (see checkBearer).
type failedLogins struct {
	now func() time.Time // the clock, for tests
	mu  sync.Mutex
	by  map[string]*rate.Limiter
}

func newFailedLogins(now func() time.Time) *failedLogins {
	return &failedLogins{now: now, by: map[string]*rate.Limiter{}}
}

// addrKey is the key of a client address. An IPv6 address counts by its
// /64, the block one subscriber or server is given, so that a guesser
// cannot get a fresh budget by moving to the next address of its own.
func addrKey(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return "addr " + p.String()
		}
	}
	return "addr " + ip
}

// overflowKey counts the failures of the keys that found no room of their
// own: past maxLoginKeys, they share its one budget.
const overflowKey = "overflow"

// counter returns the limiter that counts the failures of key k at now,
// and its key: k's own; or, when k has none and there is no room for one
// even after forgetting the keys that recovered, the budget such keys
// share (overflowKey); nil when that is not made yet.
func (f *failedLogins) counter(k string, now time.Time) (*rate.Limiter, string) {
	if lim := f.by[k]; lim != nil {
		return lim, k
	}
	if len(f.by) >= maxLoginKeys {
		f.forgetRecovered(now)
	}
	if len(f.by) >= maxLoginKeys {
		return f.by[overflowKey], overflowKey
	}
	return nil, k
}

// wait returns how long the clients of keys must wait before their next
// try is checked: 0 when they may try now. A key that has no budget of
// its own while the others fill the room waits as the overflow budget
// says: once a flood of addresses filled it, a new address or name is not
// free to guess.
func (f *failedLogins) wait(keys ...string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var longest time.Duration
	for _, k := range keys {
		lim, _ := f.counter(k, now)
		if lim == nil {
			continue
		}
		if tokens := lim.TokensAt(now); tokens < 1 {
			longest = max(longest, time.Duration((1-tokens)*float64(loginEvery)))
		}
	}
	return longest
}

// failed records a failed try of the clients of keys.
func (f *failedLogins) failed(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, k := range keys {
		lim, key := f.counter(k, now)
		if lim == nil {
			lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
			f.by[key] = lim
		}
		lim.AllowN(now, 1)
	}
}

// forgetRecovered drops the keys whose budget is whole again.
func (f *failedLogins) forgetRecovered(now time.Time) {
	for k, lim := range f.by {
		if lim.TokensAt(now) >= loginBurst {
			delete(f.by, k)
		}
	}
}

// retryAfter is the Retry-After value for a wait: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// bearer reports whether the request carries token as its bearer token.
func bearer(c *fiber.Ctx, token string) bool {
	scheme, got, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	return strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

// checkBearer lets a request with the admin token as its bearer token
// through, for the route via (authAPI, authMetrics). Any other request
// gets 401, whatever happened before: a bearer token is a password that
// no budget guards (the right token always passes, since an address
// behind a proxy or NAT is shared and someone guessing from it must not
// lock out the clients that hold it; at 16 characters or more it is not
// guessed by trying), so a 429 would only tell a client that holds a
// wrong token something other than that it is wrong. One without any
// Authorization header is counted (missing), and guesses nothing. One with
// a wrong token is counted and logged (its address and path, never what
// it sent) while its address has budget for wrong API tokens (apiKey:
// apart from the dashboard's logins, so that wrong API tokens never keep
// a person from logging in); past it, it is counted as limited and not
// logged, so that a flood of guesses does not flood the log.
func (g *Gateway) checkBearer(c *fiber.Ctx, via string) error {
	refuse := func(result, msg string) error {
		g.metrics.authFailures.WithLabelValues(via, result).Inc()
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="keyway"`)
		return fiber.NewError(fiber.StatusUnauthorized, msg)
	}
	if c.Get(fiber.HeaderAuthorization) == "" {
		g.log.Debug().Str("remote", c.IP()).Str("path", c.Path()).Msg("admin token missing")
		return refuse("missing", "missing bearer token: send Authorization: Bearer and the admin token")
	}
	if bearer(c, g.cfg.Load().Admin.Token) {
		if err := g.readHeldBody(c); err != nil {
			return err
		}
		actAs(c, tokenActor)
		return c.Next()
	}
	key := apiKey(c.IP())
	if g.logins.wait(key) > 0 {
		return refuse("limited", "wrong bearer token")
	}
	g.logins.failed(key)
	g.log.Warn().Str("remote", c.IP()).Str("path", c.Path()).Msg("admin token missing or wrong")
	return refuse("wrong", "wrong bearer token")
}

// apiKey is the key of a client address for wrong bearer tokens, apart
// from its dashboard logins (addrKey).
func apiKey(ip string) string { return "api " + ip }
