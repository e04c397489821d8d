package providers_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers"
)

// Two bursts of sends side by side open their connections once: the
// second reuses the first's (with Go's default client, all but 2 of them
// would be opened again).
func TestAPIClientKeepsItsConnectionsBetweenBursts(t *testing.T) {
	var opened atomic.Int64
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release // every request of a burst is under way at once
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	client := providers.NewAPIClient(10 * time.Second)
	const burst = 32
	for round := range 2 {
		arrived.Add(burst)
		var done sync.WaitGroup
		for range burst {
			done.Go(func() {
				res, err := client.Post(srv.URL, "application/json", nil)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		arrived.Wait()
		for range burst {
			release <- struct{}{}
		}
		done.Wait()
		if n := opened.Load(); n != burst {
			t.Fatalf("after burst %d: %d connections opened, want %d", round+1, n, burst)
		}
	}
}

// A redirect is handed back, not followed: the provider's credentials
// never go to the host it names.
func TestAPIClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	res, err := providers.NewAPIClient(10 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || followed.Load() {
		t.Errorf("status %d, followed %v: want the redirect answered as it is", res.StatusCode, followed.Load())
	}
}
