package outbox

// ChecksWaiting is how many workers' checks before sending wait for the
// checker, for the tests of how it batches them.
func (ob *Outbox) ChecksWaiting() int { return len(ob.checks) }
