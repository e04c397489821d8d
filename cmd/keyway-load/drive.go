package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// kind is what an inbound message of the load does.
type kind int

const (
	kindKeyword   kind = iota // HOURS: one reply
	kindJoin                  // JOIN: one reply, and the sender then waits for a reply
	kindReply                 // the answer to JOIN's question: one reply
	kindUnmatched             // nothing matches: stored, nothing sent
	kindLater                 // LATER (with --waits): a reply now and one after a 1s wait
)

// words are the texts of each kind; the MessageSid follows them.
var words = [...]string{kindKeyword: "hours", kindJoin: "JOIN", kindReply: "Ann", kindUnmatched: "hello there", kindLater: "LATER"}

// replies is how many sends each kind expects.
func (k kind) replies() int {
	switch k {
	case kindUnmatched:
		return 0
	case kindLater:
		return 2
	}
	return 1
}

// sent is one inbound message the load posted.
type sent struct {
	SID    string
	From   string
	Kind   kind
	Status int // the HTTP status of its webhook; 0 for a transport error

	sender *sender // its sender, while the drive runs
}

// loadOptions say how hard and how long to drive.
type loadOptions struct {
	Conns    int           // concurrent connections, each with its own senders
	Requests int           // stop after this many (0: no count bound)
	Duration time.Duration // stop after this long (0: no time bound)
	Rate     float64       // total requests per second (0: as fast as answered)
	Senders  int           // distinct sender numbers
	Nonce    string        // makes MessageSids unique across runs
	// Waits makes one message in ten a LATER, whose second reply comes
	// from a stored wait; each sender sends it once.
	Waits bool
	// State, when set, carries the senders' state over from an earlier
	// drive of the same keyway; its connections must number Conns.
	State *driveState
	// Stop, when set, ends the drive: each connection finishes the request
	// it has under way and sends no more.
	Stop *atomic.Bool
	// Provider is the webhook posted: twilio (the default: one message a
	// webhook, form-encoded) or meta (the WhatsApp Cloud API: PerPost
	// messages a webhook, JSON).
	Provider string
	PerPost  int
}

// perPost is how many messages one webhook carries.
func (o loadOptions) perPost() int {
	if o.Provider == providerMeta {
		return max(o.PerPost, 1)
	}
	return 1
}

// driveState is what the senders of each connection know, kept from one
// drive to the next.
type driveState struct {
	conns []*connState
	seq   atomic.Int64
}

// connState is one connection's senders and where it stands with them.
type connState struct {
	mine    []*sender
	cursor  int
	waiting []*sender
}

// newDriveState gives each of conns connections its share of senders.
func newDriveState(conns, senders int) *driveState {
	st := &driveState{conns: make([]*connState, conns)}
	for w := range conns {
		c := &connState{}
		for i := w; i < max(senders, conns); i += conns {
			c.mine = append(c.mine, &sender{From: fmt.Sprintf("+1555%07d", i)})
		}
		st.conns[w] = c
	}
	return st
}

// loadResult is what one drive measured.
type loadResult struct {
	Sent      []sent
	Latencies []time.Duration // of the answered requests
	Elapsed   time.Duration
	Errors    map[string]int // by "HTTP 500", "transport"...: one per webhook
	Webhooks  int            // webhooks answered 200
}

// Accepted counts the messages answered 200.
func (r *loadResult) Accepted() int {
	n := 0
	for _, s := range r.Sent {
		if s.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// sender is one sender number, owned by one connection.
type sender struct {
	From     string
	Waiting  bool // it sent JOIN and has not answered yet
	Broken   bool // a request of its failed, so its state is unknown
	Reminded bool // it sent LATER
}

// drive posts signed webhooks to target (keyway, or the baseline) as
// opts say, until the count or the time is reached or ctx ends. The time
// bound only stops new requests: one under way at it is answered and
// counted like any other, since keyway may have taken it (and then
// replies to it). Only the end of ctx cuts a request off.
func drive(ctx context.Context, target string, opts loadOptions) *loadResult {
	outer := ctx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: opts.Conns, MaxIdleConnsPerHost: opts.Conns, MaxConnsPerHost: opts.Conns,
	}}
	defer client.CloseIdleConnections()
	var pace <-chan time.Time
	if opts.Rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / opts.Rate))
		defer tick.Stop()
		pace = tick.C
	}
	var left atomic.Int64
	left.Store(int64(opts.Requests))
	if opts.Requests <= 0 {
		left.Store(1 << 62)
	}
	st := opts.State
	if st == nil {
		st = newDriveState(opts.Conns, opts.Senders)
	}
	type part struct {
		sent     []sent
		lat      []time.Duration
		errs     map[string]int
		webhooks int
	}
	parts := make([]part, opts.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range opts.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			p.errs = map[string]int{}
			c := st.conns[w]
			batch := make([]sent, 0, opts.perPost())
			for left.Add(-1) >= 0 && ctx.Err() == nil && (opts.Stop == nil || !opts.Stop.Load()) {
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				batch = next(batch[:0], opts, st, c)
				if len(batch) == 0 {
					return // every sender of this connection broke
				}
				t0 := time.Now()
				var status int
				var err error
				if opts.Provider == providerMeta {
					status, err = postMeta(outer, client, target, batch)
				} else {
					status, err = post(outer, client, target, batch[0].From, batch[0].SID, words[batch[0].Kind]+" "+batch[0].SID)
				}
				if err == nil {
					p.lat = append(p.lat, time.Since(t0))
				}
				if err != nil && outer.Err() != nil {
					return // the command is ending: the outcome is not known
				}
				for _, m := range batch {
					m.Status = status
					p.sent = append(p.sent, m)
				}
				switch {
				case err != nil:
					p.errs["transport"]++
				case status != http.StatusOK:
					p.errs[fmt.Sprintf("HTTP %d", status)]++
				default:
					p.webhooks++
					continue
				}
				// A webhook that failed leaves its senders' state unknown.
				for _, m := range batch {
					m.sender.Broken = true
				}
			}
		}()
	}
	wg.Wait()
	res := &loadResult{Elapsed: time.Since(start), Errors: map[string]int{}}
	for _, p := range parts {
		res.Sent = append(res.Sent, p.sent...)
		res.Latencies = append(res.Latencies, p.lat...)
		res.Webhooks += p.webhooks
		for k, v := range p.errs {
			res.Errors[k] += v
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// next fills batch with the messages of connection c's next webhook:
// opts.perPost() of them, fewer when its senders run out. Each sender's
// state moves on as if the webhook is handled (a JOIN makes it wait, an
// answer ends the wait), so a later message of the same webhook may answer
// an earlier one, as keyway handles a webhook's messages in order.
func next(batch []sent, opts loadOptions, st *driveState, c *connState) []sent {
	for range opts.perPost() {
		n := st.seq.Add(1)
		k, s := pick(n, c.mine, &c.cursor, &c.waiting)
		if s == nil {
			break
		}
		if opts.Waits && k == kindKeyword && n%10 == 9 && !s.Reminded {
			k, s.Reminded = kindLater, true
		}
		switch k {
		case kindJoin:
			s.Waiting = true
			c.waiting = append(c.waiting, s)
		case kindReply:
			s.Waiting = false
		}
		batch = append(batch, sent{SID: messageID(opts, n), From: s.From, Kind: k, sender: s})
	}
	return batch
}

// messageID is the provider's id of the load's message n: a MessageSid
// for Twilio, a wamid for Meta.
func messageID(opts loadOptions, n int64) string {
	if opts.Provider == providerMeta {
		return fmt.Sprintf("wamid.LOAD%s%020d", opts.Nonce, n)
	}
	return fmt.Sprintf("SM%s%024d", opts.Nonce, n)
}

// pick chooses the next message's kind and sender: four in ten are HOURS,
// two JOIN, two answers to a JOIN and two unmatched. Only a sender that
// waits answers, and only one that does not wait gets the others, so each
// message's outcome is known in advance. When no sender fits the kind, the
// other kind of sender gets a message that fits it. It returns nil when
// every sender broke.
func pick(n int64, mine []*sender, cursor *int, waiting *[]*sender) (kind, *sender) {
	k := []kind{kindKeyword, kindJoin, kindReply, kindUnmatched, kindKeyword, kindJoin, kindReply, kindUnmatched, kindKeyword, kindKeyword}[n%10]
	nextWaiting := func() *sender {
		for len(*waiting) > 0 {
			s := (*waiting)[0]
			*waiting = (*waiting)[1:]
			if !s.Broken && s.Waiting {
				return s
			}
		}
		return nil
	}
	if k == kindReply {
		if s := nextWaiting(); s != nil {
			return k, s
		}
		k = kindJoin
	}
	for range mine {
		s := mine[*cursor%len(mine)]
		*cursor++
		if !s.Broken && !s.Waiting {
			return k, s
		}
	}
	return kindReply, nextWaiting()
}

// post sends one signed inbound webhook and returns the HTTP status.
func post(ctx context.Context, client *http.Client, target, from, sid, body string) (int, error) {
	form := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {fakeAccountSID},
		"From": {from}, "To": {ourNumber}, "Body": {body}, "NumMedia": {"0"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"/webhooks/twilio", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Sign(fakeAuthToken, publicURL+"/webhooks/twilio", form))
	return status(client, req)
}

// status makes req and returns the HTTP status of its answer, whose body
// it reads to the end so that the connection is kept.
func status(client *http.Client, req *http.Request) (int, error) {
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// quantile is the q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
