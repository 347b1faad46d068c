package acme_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/sinks/file"
)

// answerOnce answers the first POST to path with a problem document, then lets
// requests through.
func answerOnce(path string, status int, typ string, header http.Header) func(http.Handler) http.Handler {
	var done atomic.Bool
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == path && done.CompareAndSwap(false, true) {
				for k, vs := range header {
					w.Header()[k] = vs
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Replay-Nonce", "injected-"+typ) // unusable: lego must recover
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"type":%q,"detail":"injected by the test","status":%d}`, typ, status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestBeginRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header string
		min    time.Duration
		max    time.Duration
	}{
		{"seconds", "3600", time.Hour, time.Hour},
		{"http date", time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat), 2*time.Hour - time.Minute, 2 * time.Hour},
		{"absent", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			ca := startCA(t, acmesim.Options{AlwaysValid: true, Middleware: answerOnce("/order-plz", http.StatusTooManyRequests, acme.ProblemRateLimited, h)})
			c, _ := newClient(t, ca, clientOpts{})
			_, err := c.Begin(t.Context(), acme.OrderRequest{Name: "rl", Domains: []string{"rl.example.com"}})
			rl, ok := errors.AsType[*acme.RateLimitedError](err)
			if !ok {
				t.Fatalf("Begin: got %v, want a RateLimitedError", err)
			}
			if rl.RetryAfter < tc.min || rl.RetryAfter > tc.max || rl.Detail != "injected by the test" {
				t.Errorf("RateLimitedError %+v, want RetryAfter in [%s, %s]", rl, tc.min, tc.max)
			}
			if acme.IsPermanent(err) {
				t.Error("a rate limit is not permanent")
			}
			if !strings.HasPrefix(err.Error(), "acme: begin order rl: new order: rate limited") {
				t.Errorf("message %q", err)
			}
			// The client is still usable: the next order goes through.
			issue(t, c, acme.OrderRequest{Name: "rl", Domains: []string{"rl.example.com"}, Profile: acmesim.ProfileDefault})
		})
	}
}

func TestBeginCAA(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true, Middleware: answerOnce("/order-plz", http.StatusForbidden, acme.ProblemCAA, nil)})
	c, _ := newClient(t, ca, clientOpts{})
	_, err := c.Begin(t.Context(), acme.OrderRequest{Name: "caa", Domains: []string{"caa.example.com"}})
	if !errors.Is(err, acme.ErrCAA) || !acme.IsPermanent(err) {
		t.Fatalf("Begin: got %v, want ErrCAA, permanent", err)
	}
	want := "acme: begin order caa: new order: acme problem caa (HTTP 403): injected by the test"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// TestCompleteInvalidAuthorization: no TXT record anywhere (Pebble asks a DNS server
// that does not exist), so every authorization turns invalid.
func TestCompleteInvalidAuthorization(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{DNSResolver: "127.0.0.1:1"})
	c, _ := newClient(t, ca, clientOpts{})
	ctx, cancel := context.WithTimeout(t.Context(), orderBound)
	defer cancel()
	o, err := c.Begin(ctx, acme.OrderRequest{Name: "bad", Domains: []string{"bad.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(ctx, o)
	pe, ok := errors.AsType[*acme.ProblemError](err)
	if !ok {
		t.Fatalf("Complete: got %v, want a ProblemError", err)
	}
	if !strings.HasPrefix(err.Error(), "acme: complete order bad: validate bad.example.com: acme problem ") {
		t.Errorf("message %q", err)
	}
	t.Logf("problem: %s", pe)
}

func TestRequestsPerSecond(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	newClient(t, ca, clientOpts{store: store}) // registers the account
	// A second runner with a tiny budget: New needs no request (the URL is stored), the
	// first request of Begin spends the only token, the next one waits.
	slow, cnt := newClient(t, ca, clientOpts{store: store, rps: 0.001})
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	_, err := slow.Begin(ctx, acme.OrderRequest{Name: "slow", Domains: []string{"slow.example.com"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin: got %v, want the deadline while waiting for the limiter", err)
	}
	// The limiter's next token is 1000 s away: returning within a generous multiple of
	// the deadline shows Begin gave up at the deadline instead of waiting for it.
	if d := time.Since(start); d > 100*deadline {
		t.Errorf("Begin returned after %s", d)
	}
	if n := cnt.count("GET /dir") + cnt.count("HEAD /nonce-plz") + cnt.count("POST /order-plz"); n != 1 {
		t.Errorf("requests that reached the CA: %d, want 1", n)
	}
}
