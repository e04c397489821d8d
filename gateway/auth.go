package gateway

import (
	"crypto/subtle"
	"math"
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

// failedLogins slows down guessing of the admin token. Each key (today
// "addr " and the client's address; "user " and a user name can be added
// beside it, both checked) may fail loginBurst times, then once per
// loginEvery; until its next try is due, a request is answered 429
// without its token being looked at, so that a guesser learns nothing.
// A right token does not spend the budget.
type failedLogins struct {
	now func() time.Time // the clock, for tests
	mu  sync.Mutex
	by  map[string]*rate.Limiter
}

func newFailedLogins(now func() time.Time) *failedLogins {
	return &failedLogins{now: now, by: map[string]*rate.Limiter{}}
}

// addrKey is the key of a client address.
func addrKey(ip string) string { return "addr " + ip }

// wait returns how long the clients of keys must wait before their next
// try is checked: 0 when they may try now.
func (f *failedLogins) wait(keys ...string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var longest time.Duration
	for _, k := range keys {
		lim := f.by[k]
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
		lim := f.by[k]
		if lim == nil {
			if len(f.by) >= maxLoginKeys {
				f.forgetRecovered(now)
			}
			if len(f.by) >= maxLoginKeys {
				k = "overflow"
				lim = f.by[k]
			}
		}
		if lim == nil {
			lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
			f.by[k] = lim
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
// through, for the route via (authAPI, authMetrics). One without any
// Authorization header gets 401 and is counted, but guesses nothing: it
// spends no budget, so that a client asking without the token (a probe, a
// browser, a script checking each route) is never slowed down. One with a
// wrong token gets 401, is counted and logged (its address and path,
// never what it sent), and spends its address's budget; once its address
// is out of budget, a wrong token gets 429 with Retry-After instead. The
// right token always passes: an address behind a proxy or NAT is shared,
// and someone guessing from it must not lock out the clients that hold the
// token (at 16 characters or more it is not guessed by trying).
func (g *Gateway) checkBearer(c *fiber.Ctx, via string) error {
	key := addrKey(c.IP())
	if c.Get(fiber.HeaderAuthorization) == "" {
		g.metrics.authFailures.WithLabelValues(via, "missing").Inc()
		g.log.Debug().Str("remote", c.IP()).Str("path", c.Path()).Msg("admin token missing")
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="keyway"`)
		return fiber.NewError(fiber.StatusUnauthorized, "missing bearer token: send Authorization: Bearer and the admin token")
	}
	if bearer(c, g.cfg.Load().Admin.Token) {
		actAs(c, tokenActor)
		return c.Next()
	}
	if wait := g.logins.wait(key); wait > 0 {
		g.metrics.authFailures.WithLabelValues(via, "limited").Inc()
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		return fiber.NewError(fiber.StatusTooManyRequests, "too many requests with a wrong admin token from this address: try again in "+retryAfter(wait)+"s")
	}
	g.logins.failed(key)
	g.metrics.authFailures.WithLabelValues(via, "wrong").Inc()
	g.log.Warn().Str("remote", c.IP()).Str("path", c.Path()).Msg("admin token missing or wrong")
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="keyway"`)
	return fiber.NewError(fiber.StatusUnauthorized, "wrong bearer token")
}
