package test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/providers/twilio"
	"github.com/keyway-sms/keyway/providers/vonage"
	"github.com/keyway-sms/keyway/test/fakes"
)

// The database goes away while Vonage takes a send, and comes back: the
// process that made the send records it (sent, with Vonage's id) as soon as
// the database is back, well within the send's lease, and never sends it
// again. Vonage keeps no log to look a send up in, so a send whose outcome
// was dropped would go out a second time once its lease ran out.
func TestPostgresOutageMidSendRecordsTheSendOnce(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)

	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	target, _ := url.Parse(api.URL())
	forward := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The database goes down while the send is at Vonage.
		once.Do(db.Cut)
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	section := strings.Replace(vonageSection(api), api.URL(), front.URL, 1)
	g := startProcesses(t, 1, section+vonageAutomations, 0, u.String())[0]

	const ann = "+447700900511"
	in := vonageInbound("11111111-0000-4000-8000-000000000811", ann, "join")
	if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, patience, "Vonage took the answer", func() bool { return len(api.Sent()) == 1 })
	Eventually(t, patience, "readyz 503 with the database down", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	db.Restore()
	back := time.Now()

	// A send's lease is a minute: recorded well before it could run out.
	var out Message
	Eventually(t, 20*time.Second, "the send recorded once the database is back", func() bool {
		var got struct{ Messages []Message }
		if g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(ann)+"/messages", nil, &got) != http.StatusOK {
			return false
		}
		for _, m := range got.Messages {
			if m.Direction == "out" {
				out = m
				return m.Status == "sent"
			}
		}
		return false
	})
	t.Logf("recorded %s after the database came back", time.Since(back).Round(time.Millisecond))
	if want := api.Sent()[0].UUID; out.ProviderID != want {
		t.Errorf("recorded with provider id %q, want Vonage's %q", out.ProviderID, want)
	}
	if v, ok := metricValue(scrape(t, g), "keyway_outbox_queued"); !ok || v != 0 {
		t.Errorf("keyway_outbox_queued %v (found %v), want 0: nothing left to send again", v, ok)
	}
	if n := len(api.Sent()); n != 1 {
		t.Errorf("Vonage got %d sends, want 1", n)
	}
}

// keyway started while its database cannot be reached yet (both starting
// together) waits for it, and serves once it answers; a database that
// refuses keyway (no such database) ends the start at once.
func TestPostgresServeWaitsForTheDatabaseAtStart(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)
	db.Cut()
	tw := fakes.NewTwilio(t)
	g := &Gateway{t: t, Dir: t.TempDir(), Twilio: tw, postgres: u.String(), cmdArgs: []string{"--log-level", "info"}}
	g.Config = g.Dir + "/keyway.yaml"
	g.WriteConfig(echoConfig)
	g.launch()
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("keyway log:\n%s", g.Logs())
		}
	})
	Eventually(t, patience, "keyway saying it waits for the database", func() bool {
		return strings.Contains(g.Logs(), "the database cannot be reached; trying again")
	})
	if strings.Contains(g.Logs(), "keyway serving") {
		t.Fatal("keyway serves without its database")
	}
	db.Restore()
	g.waitReady()
	g.Text(Inbound{From: "+15551239001", Body: "hello"})
	if got := Bodies(tw.WaitSent(t, 1, patience)); got[0] != "got hello" {
		t.Errorf("sent %q", got)
	}

	// No such database: not a matter of waiting.
	u.Path = "/keyway_no_such_database"
	bad := &Gateway{t: t, Dir: t.TempDir(), Twilio: tw, postgres: u.String(), cmdArgs: []string{"--log-level", "info"}}
	bad.Config = bad.Dir + "/keyway.yaml"
	bad.WriteConfig(echoConfig)
	start := time.Now()
	code, out := Keyway(t, "", "serve", "--config", bad.Config)
	if code != 1 || !strings.Contains(out, "keyway_no_such_database") || strings.Contains(out, "trying again") {
		t.Errorf("serve on a database that does not exist: exit %d after %v:\n%s", code, time.Since(start), out)
	}
}

// A database that answers but refuses writes (read-only, as a standby is
// after a failover): the webhook gets 500, /readyz says 503 so that the
// load balancer stops sending, and both come back by themselves once the
// database takes writes again.
func TestPostgresReadOnlyDatabaseIsNotReady(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	g := startProcesses(t, 1, echoConfig, 0, dsn)[0]
	readOnly := func(on bool) { pgtest.ReadOnly(t, dsn, on) }
	const ann = "+15551239201"
	readOnly(true)
	if code, _ := g.PostSigned("/webhooks/twilio", g.Form(Inbound{SID: "SMreadonly1", From: ann, Body: "first"})); code != http.StatusInternalServerError {
		t.Errorf("webhook to a read-only database answered %d, want 500", code)
	}
	Eventually(t, patience, "readyz 503 while the database refuses writes", func() bool {
		code, body := get(t, g.URL+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "storage")
	})
	readOnly(false)
	Eventually(t, patience, "ready again once the database takes writes", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusOK
	})
	if code, _ := g.PostSigned("/webhooks/twilio", g.Form(Inbound{SID: "SMreadonly1", From: ann, Body: "first"})); code != http.StatusOK {
		t.Fatalf("the provider's retry answered %d, want 200", code)
	}
	if got := Bodies(g.Twilio.WaitSent(t, 1, patience)); got[0] != "got first" {
		t.Errorf("sent %q", got)
	}
}

// The database stops answering (a frozen process, a network partition):
// a webhook is answered 500 within its deadline rather than held until
// the database answers again, so that the provider retries it; once the
// database is back the retry is handled, once.
func TestPostgresHungDatabaseWebhookAnswersInTime(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)
	g := startProcesses(t, 1, echoConfig, 0, u.String())[0]
	const ann = "+15551239401"
	in := g.Form(Inbound{SID: "SMhung1", From: ann, Body: "hello"})
	body := in.Encode()
	headers := map[string]string{"X-Twilio-Signature": twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", in)}

	db.Freeze()
	start := time.Now()
	answered := make(chan int, 1)
	go func() {
		code, _, err := g.TryPostRaw("/webhooks/twilio", body, headers)
		if err != nil {
			code = -1
		}
		answered <- code
	}()
	select {
	case code := <-answered:
		if code != http.StatusInternalServerError {
			t.Errorf("webhook with the database hung answered %d after %v, want 500", code, time.Since(start))
		}
	case <-time.After(25 * time.Second):
		t.Errorf("webhook with the database hung: no answer after %v", time.Since(start))
	}
	db.Thaw()
	Eventually(t, patience, "ready once the database answers", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusOK
	})
	if code, _ := g.PostRaw("/webhooks/twilio", body, headers); code != http.StatusOK {
		t.Fatalf("the provider's retry answered %d, want 200", code)
	}
	g.Settled(t, ann)
	if got := Bodies(g.Twilio.Sent()); len(got) != 1 || got[0] != "got hello" {
		t.Errorf("sent %q, want the answer once", got)
	}
}

// The database stops answering: an admin API request and a dashboard page
// are answered 503, saying that storage did not answer, within their
// storage's time limit, rather than held until the database answers again;
// once it does they are served again.
func TestPostgresHungDatabaseAdminAnswersInTime(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)
	g := startProcesses(t, 1, echoConfig, 0, u.String())[0]
	dash, _ := dashLogin(t, g)
	client := &http.Client{Jar: dash.Jar, Timeout: 25 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+AdminToken)
		}
		res, err := client.Do(req)
		if err != nil {
			return -1, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const said = "storage did not answer within 10 seconds"

	db.Freeze()
	var wg sync.WaitGroup
	for _, path := range []string{"/api/v1/contacts", "/admin/contacts"} {
		wg.Go(func() {
			start := time.Now()
			code, body := get(path)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, said) {
				t.Errorf("GET %s with the database hung answered %d after %v, want 503 saying %q:\n%s",
					path, code, time.Since(start).Round(time.Millisecond), said, body)
			}
		})
	}
	wg.Wait()
	db.Thaw()
	for _, path := range []string{"/api/v1/contacts", "/admin/contacts"} {
		Eventually(t, patience, "GET "+path+" served once the database answers", func() bool {
			code, _ := get(path)
			return code == http.StatusOK
		})
	}
}

// SIGTERM while the database hangs and an admin request waits on it: the
// stop cuts the request short once its drain time is over, and the
// process ends, rather than waiting for the database to answer again.
// (Its drain times and the time the driver gives a connection to be made
// add up to 30 s or more; without the cut the stop lasts as long as the
// database hangs.)
func TestPostgresHungDatabaseDoesNotHoldTheStop(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)
	g := startProcesses(t, 1, echoConfig, 0, u.String())[0]
	db.Freeze()
	written := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(written) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, g.URL+"/api/v1/contacts", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-written
	// Unready once its probe of the hung database times out: by then the
	// request sent before waits on the database too.
	Eventually(t, patience, "readyz 503 with the database hung", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	start := time.Now()
	g.Signal(syscall.SIGTERM)
	select {
	case <-g.exit:
		g.cmd = nil
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(2 * time.Minute):
		t.Errorf("keyway did not stop within 2 minutes of SIGTERM with the database hung")
	}
	db.Thaw()
}

// proxiedDatabase makes a database of the test's own and returns its DSN
// through a proxy the test may cut, hold or freeze, and the proxy.
func proxiedDatabase(t *testing.T) (*fakes.Proxy, *url.URL) {
	t.Helper()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db := fakes.NewProxy(t, u.Host)
	u.Host = db.Addr()
	return db, u
}

// The database goes away while the contacts CSV streams (the status is
// sent by then): the file ends with a plain sentence that says it stopped,
// never the storage error, which names the database's host and user; the
// log has the error.
func TestPostgresContactsExportThatStopsSaysSoPlainly(t *testing.T) {
	t.Parallel()
	db, u := proxiedDatabase(t)
	g := startProcesses(t, 1, echoConfig, 0, u.String())[0]
	db.Cut()
	code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts.csv", "", map[string]string{"Authorization": "Bearer " + AdminToken})
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/contacts.csv with the database down: %d, want 200 (the file says it stopped)\n%s", code, body)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	const want = "# the export stopped here, after 0 contacts: the contacts could not be read from storage (the server's log says why); download the file again"
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "phone,") || strings.Trim(lines[1], `"`) != want {
		t.Errorf("export with the database down = %q, want the header, then %q", lines, want)
	}
	host, _, _ := net.SplitHostPort(db.Addr())
	if strings.Contains(body, db.Addr()) || strings.Contains(body, host) || strings.Contains(body, u.User.Username()) {
		t.Errorf("the export names the database (%s, user %s): %q", db.Addr(), u.User.Username(), body)
	}
	Eventually(t, patience, "the log says why the export stopped", func() bool {
		return strings.Contains(g.Logs(), "contacts CSV export stopped")
	})
}
