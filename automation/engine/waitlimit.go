package engine

import (
	"context"
	"time"
)

// waitLimitKey is the context key of WithWaitLimit.
type waitLimitKey struct{}

// WithWaitLimit returns ctx telling the store how long one transaction
// (Store.Update or View, each of its runs together) may wait on a
// database under it: a store whose database is reached over the network
// gives up the transaction once d has passed, with an error that wraps
// context.DeadlineExceeded, rather than wait for a database that stopped
// answering (a frozen process, a network partition) as long as ctx lasts.
// Work made of many transactions, however long, is bounded in each of
// them only. A store on local files or in memory has nobody to wait for
// and ignores it.
func WithWaitLimit(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, waitLimitKey{}, d)
}

// WaitLimit returns the limit WithWaitLimit put in ctx; ok is false when
// there is none.
func WaitLimit(ctx context.Context) (d time.Duration, ok bool) {
	d, ok = ctx.Value(waitLimitKey{}).(time.Duration)
	return d, ok && d > 0
}
