// Package events delivers the events the engine stores with their causes
// (engine.EventDelivery) to the endpoints of `events:`: each a JSON POST
// signed as the Standard Webhooks convention says, at least once, in
// order per contact and endpoint, retried with exponential backoff and
// jitter for a day, then marked failed.
package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/steps/httpstep"
	"github.com/keyway-sms/keyway/config"
)

// Store is what the worker needs of storage: transactions, read-write and
// read-only. Every engine.Store is one.
type Store interface {
	Update(ctx context.Context, fn func(tx engine.Tx) error) error
	View(ctx context.Context, fn func(tx engine.Tx) error) error
}

// Tx is what the worker reads and writes in a transaction: the event
// queues' leases (engine.EventQueue documents each method).
type Tx interface {
	ClaimEvents(now time.Time, lease time.Duration, owner string, limit int) ([]*engine.EventDelivery, error)
	SettleEvent(d *engine.EventDelivery, owner string) error
	RecoverEvents(owner string) (int, error)
	NextEventDue() (time.Time, error)
}

// Results of one attempt, as told to Options.OnResult.
const (
	ResultDelivered = "delivered" // the endpoint answered 2xx
	ResultRetrying  = "retrying"  // it did not; the event is tried again later
	ResultFailed    = "failed"    // it did not, and the retry period is over (or the endpoint is gone)
)

// Defaults of Options.
const (
	DefaultWorkers    = 32
	DefaultBatch      = 256
	DefaultTimeout    = 10 * time.Second
	DefaultRetryFor   = 24 * time.Hour
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = time.Hour
	DefaultPoll       = time.Second
	DefaultBusyPass   = time.Second
)

// busyCheck is how often a busy worker asks Busy again.
const busyCheck = 50 * time.Millisecond

// Options configure a Worker.
type Options struct {
	Store Store
	// Config returns the running config: its `events:` endpoints (URL and
	// secret, read at each attempt, so that a reload applies to retries)
	// and its `http` section, whose address guard event URLs go through.
	Config func() *config.Config
	// Client, if set, posts in place of the guarded client (tests).
	Client *http.Client
	Clock  engine.Clock
	Logger zerolog.Logger
	// Owner names this process on the leases it takes (default: the host
	// name); processes that share a store need names of their own.
	Owner string
	// Workers is how many posts may be under way at once.
	Workers int
	// Batch is how many events one pass claims, at most: the heads of as
	// many queues.
	Batch int
	// Timeout bounds one attempt, answer included.
	Timeout time.Duration
	// RetryFor is how long after its creation an event is retried before
	// it is marked failed.
	RetryFor time.Duration
	// Backoff is the first retry's delay; it doubles per attempt up to
	// MaxBackoff, with ±25% jitter.
	Backoff, MaxBackoff time.Duration
	// Poll is the longest Run waits without a wake, for events other
	// processes stored.
	Poll time.Duration
	// Busy, if set, reports whether inbound traffic has the machine (the
	// gateway: many webhooks handled at once). While it does, the worker
	// makes one pass each BusyPass, of at most Batch events, and leaves
	// the rest for when it does not: a post costs the CPU and the store's
	// writer that the webhooks need, and an event can wait, in its order,
	// where a webhook's answer cannot.
	Busy func() bool
	// BusyPass is the time between two passes while Busy.
	BusyPass time.Duration
	// OnResult, if set, is told of each attempt's result (a Result
	// constant), with the endpoint as Endpoint names it (for metrics).
	OnResult func(endpoint, result string)
}

// Worker delivers stored events.
type Worker struct {
	o    Options
	wake chan struct{}
}

// New returns a worker with o's defaults filled in.
func New(o Options) *Worker {
	if o.Clock == nil {
		o.Clock = engine.SystemClock{}
	}
	if o.Owner == "" {
		o.Owner, _ = os.Hostname()
		if o.Owner == "" {
			o.Owner = "keyway"
		}
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.BusyPass <= 0 {
		o.BusyPass = DefaultBusyPass
	}
	if o.OnResult == nil {
		o.OnResult = func(string, string) {}
	}
	return &Worker{o: o, wake: make(chan struct{}, 1)}
}

// Wake tells the worker that events were stored.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx is done, waiting for a wake, the next
// event due or the poll interval, whichever comes first, between passes;
// while Busy, one pass each BusyPass. It takes back, first, the leases
// its owner held before (Recover).
func (w *Worker) Run(ctx context.Context) {
	w.Recover(ctx)
	var busyPass time.Time // the last pass made while busy
	for ctx.Err() == nil {
		if w.o.Busy != nil && w.o.Busy() {
			if now := w.o.Clock.Now(); now.Before(busyPass.Add(w.o.BusyPass)) {
				sleep(ctx, busyCheck)
				continue
			}
			busyPass = w.o.Clock.Now()
		}
		n, err := w.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			w.o.Logger.Error().Err(err).Msg("events: deliver")
		}
		if n > 0 && err == nil {
			continue // more may be due: the queues' next heads
		}
		wait := w.o.Poll
		if next, err := w.nextDue(ctx); err == nil {
			if d := next.Sub(w.o.Clock.Now()); d < wait {
				wait = max(d, 0)
			}
		}
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-w.wake:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
}

// sleep waits for d or ctx, whichever ends first.
func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// Recover takes back the events this owner was posting when it last
// stopped or died, so that they are tried again at once rather than when
// their leases run out: their outcome was never recorded. Only this
// owner's leases are taken back; a process sharing the store holds its
// own under another name.
func (w *Worker) Recover(ctx context.Context) {
	var n int
	err := w.o.Store.Update(ctx, func(tx engine.Tx) error {
		var err error
		n, err = Tx(tx).RecoverEvents(w.o.Owner)
		return err
	})
	switch {
	case err != nil:
		if ctx.Err() == nil {
			w.o.Logger.Error().Err(err).Msg("events: take back the events under way at the last stop")
		}
	case n > 0:
		w.o.Logger.Warn().Int("events", n).Msg("events: events under way at the last stop were not recorded; trying them again")
	}
}

func (w *Worker) nextDue(ctx context.Context) (time.Time, error) {
	var next time.Time
	err := w.o.Store.View(ctx, func(tx engine.Tx) error {
		var err error
		next, err = Tx(tx).NextEventDue()
		return err
	})
	return next, err
}

// Pass claims the events due now, at most Batch of them (the head of
// each queue), posts them side by side, Workers at a time, records each
// outcome as it comes (the store's group commit joins those that come
// together) and returns how many it claimed.
func (w *Worker) Pass(ctx context.Context) (int, error) {
	now := w.o.Clock.Now()
	lease := w.o.Timeout*2 + 30*time.Second
	var claimed []*engine.EventDelivery
	err := w.o.Store.Update(ctx, func(tx engine.Tx) error {
		var err error
		claimed, err = Tx(tx).ClaimEvents(now, lease, w.o.Owner, w.o.Batch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("events: claim: %w", err)
	}
	cfg := w.o.Config()
	var wg sync.WaitGroup
	errs := make([]error, len(claimed))
	posting := make(chan struct{}, w.o.Workers)
	for i, d := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.deliver(ctx, cfg, d, posting)
		}()
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// deliver makes one attempt at d, holding a place in posting while it
// posts, and records its outcome.
func (w *Worker) deliver(ctx context.Context, cfg *config.Config, d *engine.EventDelivery, posting chan struct{}) error {
	ep, ok := endpointOf(cfg, d.Endpoint)
	var err error
	if !ok {
		err = errEndpointGone
	} else {
		posting <- struct{}{}
		err = w.post(ctx, cfg, ep, d)
		<-posting
	}
	if ctx.Err() != nil {
		return nil // stopping: the lease runs out and the event is tried again
	}
	now := w.o.Clock.Now()
	d.Attempts++
	result := ResultDelivered
	switch {
	case err == nil:
		d.Status, d.SettledAt, d.LastError = engine.EventDelivered, now, ""
	case errors.Is(err, errEndpointGone) || !now.Before(d.CreatedAt.Add(w.o.RetryFor)):
		d.Status, d.SettledAt, d.LastError, result = engine.EventFailed, now, err.Error(), ResultFailed
	default:
		d.LastError, result = err.Error(), ResultRetrying
		d.Due = now.Add(w.backoff(d.Attempts))
		if last := d.CreatedAt.Add(w.o.RetryFor); d.Due.After(last) {
			d.Due = last // one last try when the retry period ends
		}
	}
	err = w.o.Store.Update(ctx, func(tx engine.Tx) error { return Tx(tx).SettleEvent(d, w.o.Owner) })
	switch {
	case errors.Is(err, engine.ErrLeaseLost), errors.Is(err, engine.ErrNotFound):
		about(w.o.Logger.Warn(), d).Err(err).Msg("events: the lease on this event ran out and another took it; its outcome is theirs to record")
		return nil
	case err != nil:
		return fmt.Errorf("events: record the outcome of %s: %w", d.ID, err)
	}
	w.o.OnResult(Endpoint(d.Endpoint), result)
	switch result {
	case ResultDelivered:
		about(w.o.Logger.Debug(), d).Int("attempts", d.Attempts).Msg("events: delivered")
	case ResultRetrying:
		about(w.o.Logger.Info(), d).Int("attempts", d.Attempts).Str("error", d.LastError).Time("retry_at", d.Due).Msg("events: not delivered; will retry")
	default:
		about(w.o.Logger.Warn(), d).Int("attempts", d.Attempts).Str("error", d.LastError).Msg("events: not delivered; gave up")
	}
	return nil
}

// about adds what names d to e, unless e is disabled (a debug line at
// info level): a logger made for each event cost a copy of its context
// and a parse of its URL for every post.
func about(e *zerolog.Event, d *engine.EventDelivery) *zerolog.Event {
	if !e.Enabled() {
		return e
	}
	return e.Str("event", d.ID).Str("type", string(d.Type)).Str("endpoint", Endpoint(d.Endpoint))
}

var errEndpointGone = errors.New("the endpoint is no longer in the config's events")

// post makes one signed POST of d to ep and returns nil on a 2xx answer.
func (w *Worker) post(ctx context.Context, cfg *config.Config, ep config.EventEndpoint, d *engine.EventDelivery) error {
	hook, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		return fmt.Errorf("the endpoint's secret: %w", err)
	}
	ts := w.o.Clock.Now()
	sig, err := hook.Sign(d.ID, ts, d.Body)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Endpoint, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyway-events")
	req.Header.Set(standardwebhooks.HeaderWebhookID, d.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	res, err := w.client(cfg).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose query may hold a key
		}
		return fmt.Errorf("no answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // so that the connection is reused
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("answered %d", res.StatusCode)
	}
	return nil
}

// client returns the client to post with: the guarded client of the
// config's http section, told not to follow redirects (a POST redirected
// would become a GET, and the guard checks each address dialled anyway).
func (w *Worker) client(cfg *config.Config) *http.Client {
	if w.o.Client != nil {
		return w.o.Client
	}
	c := *httpstep.GuardedClient(cfg.HTTP)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// backoff is the delay before the attempt after attempts failed ones:
// Backoff doubled per attempt, up to MaxBackoff, ±25%.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.o.Backoff
	for i := 1; i < attempts && d < w.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.o.MaxBackoff)
	return d - d/4 + rand.N(d/2+1)
}

func endpointOf(cfg *config.Config, u string) (config.EventEndpoint, bool) {
	for _, ep := range cfg.Events {
		if ep.URL == u {
			return ep, true
		}
	}
	return config.EventEndpoint{}, false
}

// Endpoint names an endpoint URL in logs and metrics: its scheme, host
// and path, without credentials, query or fragment, which may hold keys.
func Endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
