package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/challenge/dns01"
)

// TestTXTValueMatchesLego pins the TXT value to lego's own computation.
func TestTXTValueMatchesLego(t *testing.T) {
	// Not parallel: Setenv. CNAME following would make lego query DNS.
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	for _, keyAuth := range []string{"token.thumbprint", "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"} {
		info := dns01.GetChallengeInfo("example.com", keyAuth)
		if got := txtValue(keyAuth); got != info.Value {
			t.Errorf("txtValue(%q) = %q, lego says %q", keyAuth, got, info.Value)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pd := func(typ string, status int, subs ...legoacme.SubProblem) *legoacme.ProblemDetails {
		return &legoacme.ProblemDetails{Type: typ, Detail: "detail", HTTPStatus: status, URL: "https://ca/new-order", SubProblems: subs}
	}
	headers := func(url string) string {
		if url == "https://ca/new-order" {
			return "42"
		}
		return ""
	}
	plain := errors.New("connection refused")
	for _, tc := range []struct {
		name       string
		err        error
		wantMsg    string
		sentinel   error
		permanent  bool
		retryAfter time.Duration // for rate limits; -1: not a RateLimitedError
	}{
		{"not a problem", fmt.Errorf("post: %w", plain), "post: connection refused", plain, false, -1},
		{"caa", pd(ProblemCAA, 403), "acme problem caa (HTTP 403): detail", ErrCAA, true, -1},
		{"rejectedIdentifier", pd(ProblemRejectedIdentifier, 400), "acme problem rejectedIdentifier (HTTP 400): detail", ErrRejectedIdentifier, true, -1},
		{"unauthorized", pd(ProblemUnauthorized, 403), "acme problem unauthorized (HTTP 403): detail", ErrUnauthorized, false, -1},
		{"alreadyReplaced", &legoacme.AlreadyReplacedError{ProblemDetails: pd(ProblemAlreadyReplaced, 409)}, "acme problem alreadyReplaced (HTTP 409): detail", ErrAlreadyReplaced, false, -1},
		{"compound with caa", pd(ProblemCompound, 403, legoacme.SubProblem{Type: ProblemCAA, Detail: "CAA forbids", Identifier: legoacme.Identifier{Type: "dns", Value: "x.example.com"}}),
			"acme problem compound (HTTP 403): detail; caa for x.example.com: CAA forbids", ErrCAA, true, -1},
		{"server error", pd(ProblemServerInternal, 500), "acme problem serverInternal (HTTP 500): detail", nil, false, -1},
		{"rate limited, lego kept Retry-After", &legoacme.RateLimitedError{ProblemDetails: pd(ProblemRateLimited, 429), RetryAfter: "Fri, 01 May 2026 12:05:00 GMT"},
			"rate limited, retry after 5m0s: detail", nil, false, 5 * time.Minute},
		{"rate limited, header from the transport", pd(ProblemRateLimited, 503), "rate limited, retry after 42s: detail", nil, false, 42 * time.Second},
	} {
		err := classify(tc.err, headers, now)
		if err.Error() != tc.wantMsg {
			t.Errorf("%s: message %q, want %q", tc.name, err.Error(), tc.wantMsg)
		}
		if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: errors.Is(%v) false", tc.name, tc.sentinel)
		}
		if got := IsPermanent(err); got != tc.permanent {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.name, got, tc.permanent)
		}
		rl, isRL := errors.AsType[*RateLimitedError](err)
		switch {
		case tc.retryAfter < 0 && isRL:
			t.Errorf("%s: unexpected RateLimitedError", tc.name)
		case tc.retryAfter >= 0 && (!isRL || rl.RetryAfter != tc.retryAfter):
			t.Errorf("%s: RateLimitedError %+v, want RetryAfter %s", tc.name, rl, tc.retryAfter)
		case isRL:
			if pe, ok := errors.AsType[*ProblemError](err); !ok || pe.Type != ProblemRateLimited {
				t.Errorf("%s: a RateLimitedError should unwrap to its ProblemError", tc.name)
			}
		}
	}
}

func TestKeyTypeOf(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{"": true, "ec256": true, "ec384": true, "rsa2048": true, "rsa3072": true, "rsa4096": true, "EC256": false, "rsa8192": false, "ed25519": false} {
		if _, err := keyTypeOf(in); (err == nil) != ok {
			t.Errorf("keyTypeOf(%q): err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestNoncePool(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newSharedTransport(nil, RateLimits{}, 0, "https://ca/dir", nil, func() time.Time { return now })
	if _, ok := popNonce(s); ok {
		t.Fatal("empty pool gave a nonce")
	}
	for i := range maxPooledNonces + 2 {
		s.pushNonce(fmt.Sprint("n", i))
	}
	if n, ok := popNonce(s); !ok || n != fmt.Sprint("n", maxPooledNonces+1) {
		t.Errorf("pop: %q %v, want the freshest", n, ok)
	}
	if len(s.nonces) != maxPooledNonces-1 {
		t.Errorf("pool holds %d, want %d (bounded, oldest dropped)", len(s.nonces), maxPooledNonces-1)
	}
	now = now.Add(nonceMaxAge + time.Second)
	if n, ok := popNonce(s); ok {
		t.Errorf("stale nonce %q served", n)
	}
	if len(s.nonces) != 0 {
		t.Errorf("stale nonces kept: %d", len(s.nonces))
	}
}

// TestAccountRefused: which newAccount refusals are permanent. A bad nonce, a rate limit
// or an internal error never is; with a binding, any other 4xx is; without one, only a
// refused contact or a binding required.
func TestAccountRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ     string
		status  int
		withEAB bool
		want    bool
	}{
		{ProblemBadNonce, 400, false, false},
		{ProblemBadNonce, 400, true, false},
		{ProblemRateLimited, 429, true, false},
		{ProblemRateLimited, 400, true, false},
		{ProblemServerInternal, 400, true, false},
		{ProblemServerInternal, 500, true, false},
		{ProblemUnauthorized, 401, true, true},
		{ProblemUnauthorized, 403, false, false},
		{ProblemMalformed, 400, true, true},
		{ProblemMalformed, 400, false, false},
		{ProblemInvalidContact, 400, false, true},
		{ProblemUnsupportedContact, 400, false, true},
		{ProblemExternalAccountNeeded, 403, false, true},
		{ProblemExternalAccountBinding, 400, true, true},
		{ProblemUnauthorized, 500, true, false},
	} {
		pe := &ProblemError{Type: tc.typ, Status: tc.status}
		if got := accountRefused(pe, tc.withEAB); got != tc.want {
			t.Errorf("accountRefused(%s %d, eab %v) = %v, want %v", tc.typ, tc.status, tc.withEAB, got, tc.want)
		}
	}
}

// TestNewCertificateWithoutAKI: a leaf without an authority key identifier is kept,
// with an empty ARI ID (ARI is optional), not discarded.
func TestNewCertificateWithoutAKI(t *testing.T) {
	t.Parallel()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), DNSNames: []string{"www.example.com"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour)}
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "no-ski"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.AuthorityKeyId) != 0 {
		t.Fatal("the test leaf has an authority key identifier")
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	c, err := newCertificate([]string{"www.example.com"}, chain, key, "https://ca.test/cert/1")
	if err != nil {
		t.Fatalf("newCertificate: %v", err)
	}
	if c.ARIID != "" || !c.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("ARIID = %q, NotAfter = %s", c.ARIID, c.NotAfter)
	}
}

// TestPoll: the first check runs at once (no pause after the challenge answer), then the
// pauses double from pollStart, the CA's Retry-After wins when longer but is capped at
// MaxRetryAfter; a wait that lasts is reported at info level; no real sleep.
func TestPoll(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	core, logs := observer.New(zap.InfoLevel)
	var events []string
	c := &Client{now: func() time.Time { return now }, maxRetryAfter: 10 * time.Second,
		sleep: func(_ context.Context, d time.Duration) error {
			events = append(events, "sleep "+d.String())
			now = now.Add(d)
			return nil
		}}
	s := newSharedTransport(nil, RateLimits{}, 0, "https://ca/dir", nil, c.now)
	ct := s.call(context.Background(), zap.NewNop())
	const url = "https://ca/authz/1"
	retryAfter := []string{"", "", "120", "3", ""} // the CA's header on each answer
	checks := 0
	err := c.poll(context.Background(), ct, url, zap.New(core), "waiting for X", func() (bool, error) {
		events = append(events, "check")
		ct.retryAfter[url] = retryAfter[checks]
		checks++
		return checks == len(retryAfter), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"check", "sleep 250ms", "check", "sleep 500ms", "check", "sleep 10s", "check", "sleep 3s", "check"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q\nwant   %q", events, want)
	}
	if logs.FilterMessage("waiting for X").Len() != 1 {
		t.Errorf("progress logged %d times, want once (the 10 s pause)", logs.Len())
	}
}

func TestPollStopsOnContext(t *testing.T) {
	t.Parallel()
	c := &Client{now: time.Now, maxRetryAfter: time.Minute, sleep: sleepCtx}
	s := newSharedTransport(nil, RateLimits{}, 0, "https://ca/dir", nil, c.now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.poll(ctx, s.call(ctx, zap.NewNop()), "u", zap.NewNop(), "w", func() (bool, error) { return false, nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("poll: %v, want context.Canceled", err)
	}
}

// TestClassifyEndpoint: the URLs the directory names by the directory, the others by their path
// (Boulder's and Pebble's).
func TestClassifyEndpoint(t *testing.T) {
	t.Parallel()
	s := newSharedTransport(nil, RateLimits{}, 0, "https://ca/dir", nil, time.Now)
	s.storeDirectory(http.Header{}, []byte(`{"newNonce": "https://ca/nonce-plz", "newAccount": "https://ca/sign-me-up",
		"newOrder": "https://ca/order-plz", "revokeCert": "https://ca/revoke-cert", "keyChange": "https://ca/rollover-account-key",
		"renewalInfo": "https://ca/draft-ietf-acme-ari-03/renewalInfo/"}`))
	for url, want := range map[string]endpoint{
		"https://ca/dir": epDirectory, "https://ca/nonce-plz": epNewNonce, "https://ca/sign-me-up": epNewAccount,
		"https://ca/order-plz": epNewOrder, "https://ca/revoke-cert": epRevokeCert, "https://ca/rollover-account-key": epKeyChange,
		"https://ca/draft-ietf-acme-ari-03/renewalInfo/abc.def": epRenewalInfo,
		"https://ca/acme/authz/123/456":                         epAuthorization, "https://ca/authZ/abc": epAuthorization,
		"https://ca/acme/chall/1/2/x": epChallenge, "https://ca/chalZ/abc": epChallenge,
		"https://ca/acme/finalize/1/2": epFinalize, "https://ca/finalize-order/abc": epFinalize,
		"https://ca/acme/order/1/2": epOrder, "https://ca/my-order/abc": epOrder,
		"https://ca/acme/cert/abc": epCertificate, "https://ca/certZ/abc": epCertificate,
		"https://ca/acme/acct/123": epAccount, "https://ca/my-account/1": epAccount,
		"https://ca/whatever": epOther, "https://ca/draft-ietf-acme-ari-03/renewalInfo": epOther,
	} {
		req, err := http.NewRequest(http.MethodPost, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.classify(req); got != want {
			t.Errorf("%s: %s, want %s", url, got, want)
		}
		if b, w := s.classify(req).bucket(), min(want, epOther); b != w || int(b) >= len(s.limiters) {
			t.Errorf("%s: bucket %s, want %s", url, b, w)
		}
	}
}

// popNonce takes a pooled nonce, as takeNonce does under the lock.
func popNonce(s *sharedTransport) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.popNonceLocked()
}
