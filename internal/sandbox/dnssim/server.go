// Package dnssim is an authoritative DNS server for the sandbox's public hosted zones.
// It answers over UDP and TCP on one loopback port (Pebble's VA queries over TCP) from
// a Source, normally r53sim's DNS view, which only shows changes that are INSYNC.
//
// It never resolves recursively and never answers for names outside the source's public
// zones (REFUSED). Close stops every goroutine it started.
package dnssim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/miekg/dns"

	"github.com/certferry/certferry/internal/sandbox/r53sim"
)

// Source is what the server answers from: r53sim.Service satisfies it.
type Source interface {
	Lookup(qname string) r53sim.LookupResult
}

var _ Source = (*r53sim.Service)(nil)

// Server serves one Source over UDP and TCP.
type Server struct {
	addr    string
	udp     *dns.Server
	tcp     *dns.Server
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// listenTries bounds the attempts to find a port free for both UDP and TCP.
const listenTries = 10

// Start listens on addr (for example "127.0.0.1:0") with UDP and TCP on the same port
// and serves until Close. ctx bounds the start only.
func Start(ctx context.Context, addr string, src Source) (*Server, error) {
	if src == nil {
		return nil, errors.New("dnssim: start: nil source")
	}
	pc, ln, err := listenBoth(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("dnssim: start %s: %w", addr, err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { serve(w, r, src) })
	s := &Server{addr: pc.LocalAddr().String()}
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}

	// Wait until both loops run: Shutdown before that would fail with "server not started".
	started := make(chan struct{}, 2)
	errs := make(chan error, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				errs <- err
			}
		}()
	}
	for range 2 {
		select {
		case <-started:
		case err := <-errs:
			_ = s.Close()
			return nil, fmt.Errorf("dnssim: start %s: %w", addr, err)
		case <-ctx.Done():
			_ = s.Close()
			return nil, fmt.Errorf("dnssim: start %s: %w", addr, ctx.Err())
		}
	}
	return s, nil
}

// listenBoth opens UDP on addr, then TCP on the port UDP got. When addr asks for any
// port, that port may be taken for TCP: try again with a new UDP port.
func listenBoth(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	var lastErr error
	for range listenTries {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		udpPort := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, udpPort))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		lastErr = err
		if port != "0" {
			break // a fixed port: nothing to retry with
		}
	}
	return nil, nil, lastErr
}

// Addr returns "host:port", the same for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners and waits for their goroutines (and those serving
// in-flight queries) to finish. Calling it again is a no-op.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dnssim: close: %w", err)
	}
	return nil
}
