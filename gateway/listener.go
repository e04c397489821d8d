package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// quietListener tracks the connections it accepts, so that a shutdown can
// end those that never sent a byte. Browsers open such connections ahead
// of need (preconnect); fasthttp counts them as serving a request until its
// ReadTimeout, which would hold a graceful shutdown past its limit while a
// dashboard tab is open.
//
// It ends them by expiring their read deadline, never by closing them: a
// connection may have sent its request the instant before it is looked at,
// and fasthttp panics ("BUG: error in SetWriteDeadline") when it answers on
// a connection closed under it. An expired deadline only fails the read
// fasthttp waits in; fasthttp then closes the connection itself.
type quietListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*quietConn]struct{}
}

func newQuietListener(ln net.Listener) *quietListener {
	return &quietListener{Listener: ln, conns: map[*quietConn]struct{}{}}
}

// Accept implements net.Listener.
func (l *quietListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	qc := &quietConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[qc] = struct{}{}
	l.mu.Unlock()
	return qc, nil
}

// closeSilent ends every connection that has not sent a byte yet, by
// expiring its read deadline.
func (l *quietListener) closeSilent() {
	l.mu.Lock()
	var silent []*quietConn
	for c := range l.conns {
		if !c.spoke.Load() {
			silent = append(silent, c)
		}
	}
	l.mu.Unlock()
	now := time.Now()
	for _, c := range silent {
		_ = c.Conn.SetReadDeadline(now)
	}
}

// closeSilentUntil calls closeSilent every 100ms until done is closed: a
// connection accepted just before the listener closed is caught too.
func (l *quietListener) closeSilentUntil(done <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		l.closeSilent()
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

type quietConn struct {
	net.Conn
	l     *quietListener
	spoke atomic.Bool
	once  sync.Once
}

// Read implements net.Conn, noting that the peer spoke.
func (c *quietConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.spoke.Store(true)
	}
	return n, err
}

// Close implements net.Conn.
func (c *quietConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
