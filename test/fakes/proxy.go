package fakes

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of a real server (a database),
// for tests that make it unreachable or slow: Hold keeps the connections it
// accepts waiting until Release, Cut drops every connection and refuses
// new ones until Restore, Freeze passes no byte either way on any
// connection, open or new, until Thaw.
type Proxy struct {
	ln       net.Listener
	target   string
	accepted chan struct{} // one value per connection accepted
	mu       sync.Mutex
	held     bool
	release  chan struct{}
	cut      bool
	conns    map[net.Conn]struct{}
	thaw     chan struct{} // while frozen: closed by Thaw
}

// NewProxy starts a proxy to target (host:port); it stops when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, accepted: make(chan struct{}, 1024), release: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.Thaw()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted receives a value for each connection the proxy accepts.
func (p *Proxy) Accepted() <-chan struct{} { return p.accepted }

// Hold makes the connections accepted from now on wait, without a byte
// passed either way, until Release.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.held, p.release = true, make(chan struct{})
	}
}

// Release lets the held connections through.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held {
		p.held = false
		close(p.release)
	}
}

// Cut closes every connection and refuses new ones until Restore: to the
// client, the server is down.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Freeze stops every byte on every connection, open or new, both ways,
// until Thaw: to the client, the server hangs (as a stopped process or a
// network partition does).
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thaw == nil {
		p.thaw = make(chan struct{})
	}
}

// Thaw lets the bytes held since Freeze through.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thaw != nil {
		close(p.thaw)
		p.thaw = nil
	}
}

// copy copies src to dst, each read held while frozen.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thaw := p.thaw
			p.mu.Unlock()
			if thaw != nil {
				<-thaw
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Restore takes connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		select {
		case p.accepted <- struct{}{}:
		default:
		}
		go p.pipe(c)
	}
}

// track remembers c for Cut; it closes c and says false while cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) pipe(c net.Conn) {
	if !p.track(c) {
		return
	}
	p.mu.Lock()
	held, release := p.held, p.release
	p.mu.Unlock()
	if held {
		<-release
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(s) {
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.copy(s, c); done <- struct{}{} }()
	go func() { p.copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}
