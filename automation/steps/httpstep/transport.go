package httpstep

import (
	"context"
	"net/http"
)

type transportKey struct{}

// WithTransport returns a context under which http steps send through rt
// instead of the guarded client that reaches the network. It is for
// `keyway test` and other simulations, which answer http steps from a test
// file: the engine passes the context of FireDue on to each step's Perform.
func WithTransport(ctx context.Context, rt http.RoundTripper) context.Context {
	return context.WithValue(ctx, transportKey{}, rt)
}

// clientFor returns the client a call under ctx goes through.
func (st *HTTPStep) clientFor(ctx context.Context) *http.Client {
	rt, _ := ctx.Value(transportKey{}).(http.RoundTripper)
	if rt == nil {
		return st.guard.client
	}
	return &http.Client{Transport: rt, CheckRedirect: st.guard.client.CheckRedirect}
}
