package route53_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/certferry/certferry/internal/sandbox/dnssim"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/providers/route53"
)

// TestDNSChecker: with propagation_check, Present returns once the sandbox's
// authoritative DNS (queried as a resolver, over UDP) serves every value; a resolver
// that never serves them fails the name after the checker's timeout.
func TestDNSChecker(t *testing.T) {
	t.Parallel()
	const insync = 20 * time.Millisecond
	e := newSim(t, r53sim.Options{InsyncAfter: insync}, 3)
	e.zone(t, "example.com", false)
	srv, err := dnssim.Start(t.Context(), "127.0.0.1:0", e.svc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// The DNS server serves the records once INSYNC; a loaded machine may be slow, never
	// hundreds of times slower.
	chk := route53.DNSChecker{Resolvers: []string{srv.Addr()}, Interval: 10 * time.Millisecond, Timeout: 250 * insync}
	p := e.provider(t, route53.Options{Checker: chk})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.example.com", Value: "apex-value"},
		{FQDN: "_acme-challenge.example.com", Value: "wildcard-value"},
	}
	for i, err := range p.Present(t.Context(), recs) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}

	// Values the name does not serve: the check gives up after its own timeout (the
	// quantity under test, not a wait) and names the name.
	short := route53.DNSChecker{Resolvers: []string{srv.Addr()}, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}
	err = short.Check(t.Context(), "_acme-challenge.example.com.", []string{"apex-value", "never-written"})
	if err == nil || !strings.Contains(err.Error(), "propagation check _acme-challenge.example.com.") || !strings.Contains(err.Error(), "1 of 2 value(s)") {
		t.Fatalf("Check = %v", err)
	}
	for i, err := range p.CleanUp(t.Context(), recs) {
		if err != nil {
			t.Fatalf("cleanup %d: %v", i, err)
		}
	}
}

// TestDNSCheckerKeepsTheLastAnswer: when the deadline cuts a round short (here, a
// resolver that answers once and then never again), the error still says what the last
// answer lacked, not only the round's "i/o timeout".
func TestDNSCheckerKeepsTheLastAnswer(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var answered atomic.Int32
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if answered.Add(1) > 1 {
			return // silent from now on: the client waits until its deadline
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{"apex-value"},
		})
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()

	// The check's deadline must leave the first round time to finish on a loaded machine
	// (200 ms did not: one query, then the deadline); a step of work is that bound, and the
	// test lasts that long, since the second round waits for the deadline.
	chk := route53.DNSChecker{Resolvers: []string{pc.LocalAddr().String()}, Interval: time.Millisecond, Timeout: testwait.Step}
	err = chk.Check(t.Context(), "_acme-challenge.example.com.", []string{"apex-value", "never-written"})
	if err == nil || !strings.Contains(err.Error(), "does not serve 1 of 2 value(s)") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check = %v; want the deadline and the last answer (1 of 2 values)", err)
	}
	if answered.Load() < 2 {
		t.Fatalf("%d queries: the check never went past its first round", answered.Load())
	}
}
