package acme

import (
	"context"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
)

// TestBadNonceStormResigned is why the transport signs a request again itself after
// badNonce instead of leaving it to lego's own retry: with a CA that rejects 90 % of
// nonces, lego's retry (a fresh nonce after an exponential backoff from 200 ms, at most
// 20 s a request) spends seconds on every request and gives a request up about a third
// of the time, so a certificate practically never completes. Here nearly every
// rejection is answered at once with the nonce it carried (RFC 8555 §6.5), and lego's
// retry sees a small fraction of them; with the transport's retry switched off
// (noResign: lego alone) it sees every one and this test fails.
func TestBadNonceStormResigned(t *testing.T) {
	// Not parallel: a Pebble knob.
	ca, err := acmesim.Start(t.Context(), acmesim.Options{AlwaysValid: true, NonceRejectPercent: 90})
	if err != nil {
		t.Fatalf("acmesim.Start: %v", err)
	}
	t.Cleanup(func() { _ = ca.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c, err := New(ctx, Config{DirectoryURL: ca.DirectoryURL(), Email: "ops@example.com", HTTPClient: ca.HTTPClient(), Store: newMemStore()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	o, err := c.Begin(ctx, OrderRequest{Name: "storm", Domains: []string{"a.example.com", "b.example.com"}, Profile: acmesim.ProfileDefault})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := c.Complete(ctx, o); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	seen, toLego := c.transport.badNonces.Load(), c.transport.badNonceToLego.Load()
	t.Logf("%d badNonce answers, %d left to lego's retry", seen, toLego)
	if seen < 20 {
		t.Fatalf("only %d badNonce answers: the CA's 90 %% rejection did not take", seen)
	}
	if toLego*4 > seen {
		t.Errorf("%d of %d badNonce answers left to lego's retry (with its sleeps), want at most a quarter", toLego, seen)
	}
}
