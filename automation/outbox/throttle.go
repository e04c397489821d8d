package outbox

import "github.com/keyway-sms/keyway/config"

// slowDown halves the rate of sender number from, not below one send in
// two seconds, after the provider refused a send from it for its rate; the
// send itself is retried with backoff. The rate stays lowered until the
// process restarts: the provider's own limit is evidently below the
// configured mps.
func (ob *Outbox) slowDown(from string) {
	lim := ob.limiters[from]
	if lim == nil {
		return
	}
	was := lim.Limit()
	lim.SetLimit(max(was/2, 0.5))
	ob.o.Logger.Warn().Str("from", config.MaskAddress(from)).Float64("mps", float64(lim.Limit())).Float64("was", float64(was)).
		Msg("outbox: the provider throttled this number; sending from it more slowly")
}
