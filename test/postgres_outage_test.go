package test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
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
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db := fakes.NewProxy(t, u.Host)
	u.Host = db.Addr()

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
