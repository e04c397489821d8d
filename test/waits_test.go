package test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
)

const dripWaitConfig = `
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "first" }
      - { type: wait, duration: 2s }
      - { type: reply, text: "after the wait" }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "support got: {{ message.body }}" }
`

func count(bodies []string, body string) int {
	n := 0
	for _, b := range bodies {
		if b == body {
			n++
		}
	}
	return n
}

// timersPassed proves that the timer loop is past every timer due so far:
// marker texts keyword, which starts a short wait, and the wait's outcome
// reply must arrive. Each pass of the loop fires every timer then due,
// oldest first, so by the pass that fires the marker's wait, any timer due
// before it has fired, and one that fired but was left stored has fired
// again. Call it once the timers under test have fired: a check of what
// they queued (after Settled) then shows a second firing.
func timersPassed(t *testing.T, g *Gateway, marker, keyword, reply string) {
	t.Helper()
	g.Text(Inbound{From: marker, Body: keyword})
	Eventually(t, patience, "the marker's wait ended", func() bool {
		return count(repliesToNow(g, marker), reply) == 1
	})
}

// ended waits until the contact's only enrollment in automation has ended
// and returns it.
func ended(t *testing.T, g *Gateway, automation, contact string) Enrollment {
	t.Helper()
	var ens []Enrollment
	Eventually(t, patience, "the "+automation+" enrollment of "+contact+" ended", func() bool {
		ens = g.Enrollments(automation, contact)
		return len(ens) == 1 && ens[0].Status == "ended"
	})
	return ens[0]
}

// A wait stored before a SIGKILL fires after the restart, once.
func TestWaitFiresAfterSIGKILLAndRestart(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, dripWaitConfig)
	const from = "+15553330001"
	g.Text(Inbound{From: from, Body: "DRIP"})
	g.Kill() // right after the webhook's 200
	g.Start()
	Eventually(t, patience, "the post-wait reply after restart", func() bool {
		return count(repliesToNow(g, from), "after the wait") > 0
	})
	if en := ended(t, g, "drip", from); en.EndReason != "completed" {
		t.Fatalf("enrollment %+v, want it completed", en)
	}
	timersPassed(t, g, "+15553339001", "DRIP", "after the wait")
	g.Settled(t, from)
	got := repliesToNow(g, from)
	if count(got, "after the wait") != 1 || count(got, "first") < 1 {
		t.Fatalf("sent %q; want the post-wait reply exactly once, after the first reply", got)
	}
	ens := g.Enrollments("drip", from)
	if len(ens) != 1 || ens[0].Status != "ended" || ens[0].EndReason != "completed" {
		t.Fatalf("enrollments %+v, want one completed", ens)
	}
}

// 1,000 contacts waiting 2 seconds each: every wait fires exactly once.
func TestThousandWaitsFireOnce(t *testing.T) {
	g := StartGateway(t, dripWaitConfig)
	const n, workers = 1000, 16
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	phones := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range phones {
				errs <- postSigned(client, g, Inbound{From: from, Body: "DRIP"})
			}
		}()
	}
	for i := range n {
		phones <- fmt.Sprintf("+1555444%04d", i)
	}
	close(phones)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g.Twilio.WaitSent(t, 2*n, 2*patience)
	Eventually(t, patience, "every drip enrollment ended", func() bool {
		var out struct{ Enrollments []Enrollment }
		if code := g.Admin(http.MethodGet, "/api/v1/enrollments?automation=drip&active=true", nil, &out); code != http.StatusOK {
			t.Fatalf("enrollments: status %d", code)
		}
		return len(out.Enrollments) == 0
	})
	const marker = "+15553339002"
	timersPassed(t, g, marker, "DRIP", "after the wait")
	for i := range n {
		g.Settled(t, fmt.Sprintf("+1555444%04d", i))
	}
	per := map[string][]string{}
	total := 0
	for _, m := range g.Twilio.Sent() {
		if m.To != marker {
			per[m.To] = append(per[m.To], m.Body)
			total++
		}
	}
	for i := range n {
		to := fmt.Sprintf("+1555444%04d", i)
		if got := per[to]; len(got) != 2 || count(got, "first") != 1 || count(got, "after the wait") != 1 {
			t.Errorf("%s got %q, want first and after the wait, once each", to, got)
		}
	}
	if total != 2*n {
		t.Fatalf("sent %d messages, want %d: a first reply and a post-wait reply per contact", total, 2*n)
	}
}

// postSigned posts in as Twilio would, from any goroutine; it reports
// anything but a 200 as an error. Like Twilio, it posts the same message
// again when the connection fails (a keep-alive connection the server
// closed): the gateway handles a MessageSid once.
func postSigned(client *http.Client, g *Gateway, in Inbound) error {
	form := g.Form(in)
	sig := twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form)
	var err error
	for range 3 {
		var req *http.Request
		req, err = http.NewRequest(http.MethodPost, g.URL+"/webhooks/twilio", strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		var res *http.Response
		if res, err = client.Do(req); err != nil {
			err = fmt.Errorf("webhook from %s: %w", in.From, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook from %s answered %d", in.From, res.StatusCode)
		}
		return nil
	}
	return err
}

// A message during a wait goes where the routing order sends it (here
// catch_all), and the wait goes on.
func TestReplyDuringWaitGoesToCatchAll(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, dripWaitConfig)
	const from = "+15553330002"
	g.Text(Inbound{From: from, Body: "DRIP"})
	g.Text(Inbound{From: from, Body: "is anyone there?"})
	Eventually(t, patience, "the catch_all reply and the post-wait reply", func() bool {
		got := repliesToNow(g, from)
		return count(got, "support got: is anyone there?") == 1 && count(got, "after the wait") == 1
	})
	ended(t, g, "drip", from)
	timersPassed(t, g, "+15553339003", "DRIP", "after the wait")
	g.Settled(t, from)
	got := repliesToNow(g, from)
	if len(got) != 3 || count(got, "first") != 1 {
		t.Fatalf("sent %q, want first, the catch_all reply and after the wait, once each", got)
	}
	if ens := g.Enrollments("drip", from); len(ens) != 1 || ens[0].EndReason != "completed" {
		t.Fatalf("drip enrollments %+v, want one completed", ens)
	}
}

const askConfig = `
automations:
  - id: ask
    keywords: [ASK]
    steps:
      - { type: reply, text: "What is 6 x 7?" }
      - { type: wait_for_reply, timeout: 2s, save_as: answer, on_timeout: late }
      - { type: reply, text: "You said {{ vars.answer }}", next: end }
      - { id: late, type: reply, text: "Too late!" }
`

// A wait_for_reply takes the next message as its answer (never the
// keyword), and without one takes on_timeout.
func TestWaitForReplyTimeoutTakesOnTimeout(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, askConfig)
	const silent, answers = "+15553330003", "+15553330004"
	// The enrollment waits for a reply from the commit before ASK's 200:
	// the answer is posted at once, well within the 2s, and the silent
	// contact asks after it, so its timeout falls due after the (cancelled)
	// one of the answering contact.
	g.Text(Inbound{From: answers, Body: "ASK"})
	g.Text(Inbound{From: answers, Body: "42"})
	g.Text(Inbound{From: silent, Body: "ASK"})
	Eventually(t, patience, "the timeout of the silent contact", func() bool {
		return count(repliesToNow(g, silent), "Too late!") == 1
	})
	ended(t, g, "ask", silent)
	ended(t, g, "ask", answers)
	timersPassed(t, g, "+15553339004", "ASK", "Too late!")
	g.Settled(t, silent)
	g.Settled(t, answers)
	if got := repliesToNow(g, silent); strings.Join(got, "|") != "What is 6 x 7?|Too late!" {
		t.Errorf("silent contact got %q", got)
	}
	if got := repliesToNow(g, answers); strings.Join(got, "|") != "What is 6 x 7?|You said 42" {
		t.Errorf("answering contact got %q", got)
	}
	ens := g.Enrollments("ask", answers)
	if len(ens) != 1 || ens[0].Vars["answer"] != "42" {
		t.Errorf("answering contact's enrollment %+v, want vars.answer 42", ens)
	}
}

// An answer that comes after the timeout fell due is late, even before
// the timer loop (once a second) fired the timeout: the timeout's way runs
// first, and the message goes on to catch_all, never taken as the answer.
// On PostgreSQL too (TestAnAnswerAfterTheTimeoutIsLateOnPostgres).
func TestAnAnswerAfterTheTimeoutIsLate(t *testing.T) {
	t.Parallel()
	answerAfterTheTimeout(t, StartGateway(t, lateAnswerConfig))
}

func TestAnAnswerAfterTheTimeoutIsLateOnPostgres(t *testing.T) {
	t.Parallel()
	answerAfterTheTimeout(t, startShared(t, 1, lateAnswerConfig)[0])
}

const lateAnswerConfig = askConfig + `
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "support got: {{ message.body }}" }
`

func answerAfterTheTimeout(t *testing.T, g *Gateway) {
	const late = "+15553330005"
	g.Text(Inbound{From: late, Body: "ASK"})
	var out struct {
		Enrollments []struct {
			WaitUntil *time.Time `json:"wait_until"`
		}
	}
	q := "/api/v1/enrollments?automation=ask&contact=" + url.QueryEscape(late)
	if code := g.Admin(http.MethodGet, q, nil, &out); code != http.StatusOK || len(out.Enrollments) != 1 || out.Enrollments[0].WaitUntil == nil {
		t.Fatalf("enrollments: %d %+v, want one waiting for a reply", code, out.Enrollments)
	}
	due := *out.Enrollments[0].WaitUntil
	Eventually(t, patience, "the timeout fell due", func() bool { return time.Now().After(due) })
	g.Text(Inbound{From: late, Body: "42"})
	Eventually(t, patience, "the timeout's reply and the catch_all's, or the answer's", func() bool {
		got := repliesToNow(g, late)
		return len(got) >= 3 || count(got, "You said 42") > 0
	})
	g.Settled(t, late)
	if got := repliesToNow(g, late); strings.Join(got, "|") != "What is 6 x 7?|Too late!|support got: 42" {
		t.Errorf("sent %q, want the question, the timeout's reply, then the catch_all's", got)
	}
	if en := ended(t, g, "ask", late); en.Vars["answer"] != nil {
		t.Errorf("the late message was saved as the answer: %+v", en)
	}
}

const broadcastConfig = `
groups: [ { id: news } ]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [news] }
      - { type: reply, text: "joined" }
  - id: deals
    schedule: { cron: "@every 2s", group: news }
    steps:
      - { type: reply, text: "deal of the moment" }
`

// A scheduled automation reaches the members of its group, but not an
// opted-out member.
func TestScheduledBroadcastSkipsOptedOut(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastConfig)
	const member, optedOut, outsider = "+15553330005", "+15553330006", "+15553330007"
	g.Text(Inbound{From: member, Body: "JOIN"})
	// Opted out first, then joined: a member that must get nothing.
	g.Text(Inbound{From: optedOut, Body: "STOP"})
	g.Text(Inbound{From: optedOut, Body: "JOIN"})
	g.Text(Inbound{From: outsider, Body: "hello"})
	if c := g.Contact(optedOut); !c.Contact.OptedOut || !strings.Contains(strings.Join(c.Contact.Groups, ","), "news") {
		t.Fatalf("the opted-out contact should be an opted-out member of news: %+v", c.Contact)
	}
	Eventually(t, patience, "two ticks of the schedule reach the member", func() bool {
		return count(repliesToNow(g, member), "deal of the moment") >= 2
	})
	for _, to := range []string{optedOut, outsider} {
		// A tick takes its group 100 members a commit: what it queued
		// for the others was committed with the member's, and is done
		// once nothing is queued.
		g.Settled(t, to)
		if got := repliesToNow(g, to); count(got, "deal of the moment") != 0 {
			t.Errorf("%s got %q", to, got)
		}
	}
	if got := repliesToNow(g, optedOut); strings.Join(got, "|") != "You are unsubscribed. Reply START to resubscribe." {
		t.Errorf("the opted-out contact got %q, want just the opt-out reply", got)
	}
	if ens := g.Enrollments("deals", optedOut); len(ens) != 0 {
		t.Errorf("the opted-out contact was enrolled: %+v", ens)
	}
}
