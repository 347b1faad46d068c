package route53_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/sandbox/dnssim"
	"github.com/certferry/certferry/sandbox/r53sim"
)

// TestDNSChecker: with propagation_check, Present returns once the sandbox's
// authoritative DNS (queried as a resolver, over UDP) serves every value; a resolver
// that never serves them fails the name after the checker's timeout.
func TestDNSChecker(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 20 * time.Millisecond}, 3)
	e.zone(t, "example.com", false)
	srv, err := dnssim.Start(t.Context(), "127.0.0.1:0", e.svc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	chk := route53.DNSChecker{Resolvers: []string{srv.Addr()}, Interval: 10 * time.Millisecond, Timeout: 5 * time.Second}
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

	// Values the name does not serve: the check gives up and names the name.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	short := route53.DNSChecker{Resolvers: []string{srv.Addr()}, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second}
	err = short.Check(ctx, "_acme-challenge.example.com.", []string{"apex-value", "never-written"})
	if err == nil || !strings.Contains(err.Error(), "propagation check _acme-challenge.example.com.") || !strings.Contains(err.Error(), "1 of 2 value(s)") {
		t.Fatalf("Check = %v", err)
	}
	for i, err := range p.CleanUp(t.Context(), recs) {
		if err != nil {
			t.Fatalf("cleanup %d: %v", i, err)
		}
	}
}
