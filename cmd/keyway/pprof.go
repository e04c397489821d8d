package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rs/zerolog"
)

// serveProfiler serves Go's profiler (net/http/pprof: CPU, heap,
// allocations, goroutines) on addr, on a listener and mux of its own, so
// that nothing of it is reachable on server.listen or admin_listen. It is
// for measuring keyway under load (docs/performance.md) and only runs when
// `serve --pprof ADDR` asks for it. The profiler hands out the process's
// memory and command line to anyone who reaches it, so an address on every
// interface or a public one is refused: it listens on loopback or a private
// network only. The returned function stops it.
func serveProfiler(addr string, log zerolog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("keyway: --pprof %s: %w", addr, err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsUnspecified() || !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()) {
		_ = ln.Close()
		where := "a public address"
		if ip.IsUnspecified() {
			where = "every interface"
		}
		return nil, fmt.Errorf("keyway: --pprof %s: the profiler would listen on %s; give a loopback or private address, such as 127.0.0.1:6060", addr, where)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("profiler stopped")
		}
	}()
	log.Warn().Str("pprof", ln.Addr().String()).Msg("profiler on: /debug/pprof/ (serve --pprof)")
	return func() { _ = srv.Close() }, nil
}
