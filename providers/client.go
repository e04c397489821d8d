package providers

import (
	"net/http"
	"time"
)

// APIIdleConns is how many idle connections to its API a provider's
// client keeps: one per send the outbox may have under way at once (its
// default workers), so that a burst of sends reuses its connections
// instead of opening one each (Go's default keeps 2 per host).
const APIIdleConns = 64

// NewAPIClient returns the HTTP client a provider sends with: requests
// time out after timeout, a redirect is answered as it is (never
// followed, so a credential never goes to another host), and up to
// APIIdleConns connections stay open between sends.
func NewAPIClient(timeout time.Duration) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = APIIdleConns
	transport.MaxIdleConnsPerHost = APIIdleConns
	return &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
