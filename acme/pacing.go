package acme

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: PerSecond requests a second on average, Burst at once.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateLimits paces requests per endpoint class, the way CAs publish their limits (Let's
// Encrypt counts requests per IP address and endpoint). A zero RateLimit takes its
// DefaultRateLimits value.
type RateLimits struct {
	Directory   RateLimit // GET of the directory (cached for an hour besides)
	NewNonce    RateLimit // HEAD newNonce; its Burst also bounds the nonces in use at once
	NewAccount  RateLimit
	NewOrder    RateLimit
	RevokeCert  RateLimit
	RenewalInfo RateLimit // ARI (RFC 9773)
	Other       RateLimit // every other ACME request: authorizations, challenges, orders, certificates
}

// DefaultRateLimits are Let's Encrypt's published per-IP limits ("Overall Requests",
// letsencrypt.org/docs/rate-limits) less a 20 % margin, rates and bursts alike: the
// margin leaves room for clocks that disagree on a bucket's refill and for another
// client on the same address. See docs/pacing.md.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Directory:   RateLimit{PerSecond: 32, Burst: 32},   // 40/s, burst 40
		NewNonce:    RateLimit{PerSecond: 16, Burst: 8},    // 20/s, burst 10
		NewAccount:  RateLimit{PerSecond: 4, Burst: 12},    // 5/s, burst 15
		NewOrder:    RateLimit{PerSecond: 240, Burst: 160}, // 300/s, burst 200
		RevokeCert:  RateLimit{PerSecond: 8, Burst: 80},    // 10/s, burst 100
		RenewalInfo: RateLimit{PerSecond: 800, Burst: 80},  // 1000/s, burst 100
		Other:       RateLimit{PerSecond: 200, Burst: 100}, // /acme/*: 250/s, burst 125
	}
}

// endpoint is the class of a request to the CA, defined here once: pacing gives each
// class up to epOther a token bucket of its own (RateLimits), the later classes share
// epOther's, and Config.OnRequest reports every class by its name (the daemon's
// endpoint label of its ACME request metrics).
type endpoint int

const (
	epDirectory endpoint = iota
	epNewNonce
	epNewAccount
	epNewOrder
	epRevokeCert
	epRenewalInfo
	epOther // none of the classes below
	epKeyChange
	epAuthorization
	epChallenge
	epFinalize
	epOrder
	epCertificate
	epAccount
	numEndpoints
)

// numBuckets counts the token buckets: one per class up to epOther.
const numBuckets = epOther + 1

var endpointNames = [numEndpoints]string{"directory", "new-nonce", "new-account", "new-order", "revoke", "renewal-info", "other",
	"key-change", "authorization", "challenge", "finalize", "order", "certificate", "account"}

// bucketNames name the buckets as RateLimits' fields and the configuration's
// acme.rate_limits keys do.
var bucketNames = [numBuckets]string{"directory", "new_nonce", "new_account", "new_order", "revoke_cert", "renewal_info", "other"}

func (e endpoint) String() string { return endpointNames[e] }

// bucket is the token bucket of class e.
func (e endpoint) bucket() endpoint { return min(e, epOther) }

// list returns the limits indexed by bucket, defaults filled in.
func (l RateLimits) list() [numBuckets]RateLimit {
	d := DefaultRateLimits()
	out := [numBuckets]RateLimit{l.Directory, l.NewNonce, l.NewAccount, l.NewOrder, l.RevokeCert, l.RenewalInfo, l.Other}
	def := [numBuckets]RateLimit{d.Directory, d.NewNonce, d.NewAccount, d.NewOrder, d.RevokeCert, d.RenewalInfo, d.Other}
	for i := range out {
		if out[i] == (RateLimit{}) {
			out[i] = def[i]
		}
	}
	return out
}

// validate names the first bad limit.
func (l RateLimits) validate() error {
	for i, r := range l.list() {
		if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) {
			return fmt.Errorf("rate limit %s: PerSecond must be more than 0, got %g", bucketNames[i], r.PerSecond)
		}
		if r.Burst < 1 {
			return fmt.Errorf("rate limit %s: Burst must be at least 1, got %d", bucketNames[i], r.Burst)
		}
	}
	return nil
}

// directoryURLs are the endpoints the directory names, for classifying requests.
type directoryURLs struct {
	NewNonce    string `json:"newNonce"`
	NewAccount  string `json:"newAccount"`
	NewOrder    string `json:"newOrder"`
	RevokeCert  string `json:"revokeCert"`
	KeyChange   string `json:"keyChange"`
	RenewalInfo string `json:"renewalInfo"`
}

// classify returns the endpoint class of req: by the URLs the directory names, then,
// for the URLs the CA hands out in its answers, by their path (classifyPath). Before
// the directory is known only the directory itself can be asked for.
func (s *sharedTransport) classify(req *http.Request) endpoint {
	u := req.URL.String()
	if u == s.dirURL {
		return epDirectory
	}
	s.mu.Lock()
	d := s.dir
	s.mu.Unlock()
	switch {
	case u == d.NewNonce:
		return epNewNonce
	case u == d.NewAccount:
		return epNewAccount
	case u == d.NewOrder:
		return epNewOrder
	case u == d.RevokeCert:
		return epRevokeCert
	case u == d.KeyChange:
		return epKeyChange
	case d.RenewalInfo != "" && strings.HasPrefix(u, strings.TrimSuffix(d.RenewalInfo, "/")+"/"):
		return epRenewalInfo
	}
	return classifyPath(req.URL.Path)
}

// pathClasses name a URL the directory does not list by a fragment of its path, most
// specific first; they cover Let's Encrypt's (Boulder) and Pebble's paths. All of these
// classes share the epOther bucket: the names are for reports only.
var pathClasses = []struct {
	frag  string
	class endpoint
}{
	{"finalize", epFinalize}, {"authz", epAuthorization}, {"chal", epChallenge},
	{"cert", epCertificate}, {"order", epOrder}, {"acct", epAccount}, {"account", epAccount},
}

func classifyPath(path string) endpoint {
	p := strings.ToLower(path)
	for _, c := range pathClasses {
		if strings.Contains(p, c.frag) {
			return c.class
		}
	}
	return epOther
}

// wait takes a token of class e, and of the overall limiter when one is configured.
func (s *sharedTransport) wait(ctx context.Context, e endpoint) error {
	if err := s.limiters[e.bucket()].Wait(ctx); err != nil {
		return err
	}
	if s.overall != nil {
		return s.overall.Wait(ctx)
	}
	return nil
}

func newLimiters(l RateLimits) [numBuckets]*rate.Limiter {
	var out [numBuckets]*rate.Limiter
	for i, r := range l.list() {
		out[i] = rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
	}
	return out
}

// Nonces in use. Every signed request spends one nonce and its answer brings a new one
// (RFC 8555 §6.5), so the nonces in use stay as many as were fetched from newNonce.
// The transport fetches one only while fewer than the newNonce burst are in use (pooled,
// handed to lego, or riding on a request); otherwise it waits for an answer to bring one
// back. So a pass asks newNonce about burst times, however many orders run at once,
// and signed requests run at most burst at a time, which the CA's other limits allow
// anyway.

// handedOutMaxAge: a nonce handed to lego whose request never reaches the transport
// (lego failed before sending) stops counting as in use after this long.
const handedOutMaxAge = 30 * time.Second

// inUseLocked counts the nonces in use; s.mu is held.
func (s *sharedTransport) inUseLocked() int {
	cut := s.now().Add(-handedOutMaxAge)
	i := 0
	for i < len(s.handedOut) && s.handedOut[i].Before(cut) {
		i++
	}
	s.handedOut = s.handedOut[i:]
	return len(s.nonces) + len(s.handedOut) + s.signedInFlight
}

// changedLocked wakes every goroutine waiting for a nonce; s.mu is held.
func (s *sharedTransport) changedLocked() {
	close(s.nonceChanged)
	s.nonceChanged = make(chan struct{})
}

// takeNonce returns a pooled nonce, or fetch true when the caller should ask newNonce
// (counted as handed out already: release it if the fetch fails), or waits until one
// of those is possible.
func (s *sharedTransport) takeNonce(ctx context.Context) (nonce string, fetch bool, err error) {
	for {
		s.mu.Lock()
		if n, ok := s.popNonceLocked(); ok {
			s.handedOut = append(s.handedOut, s.now())
			s.mu.Unlock()
			return n, false, nil
		}
		if s.inUseLocked() < s.nonceCap {
			s.handedOut = append(s.handedOut, s.now())
			s.mu.Unlock()
			return "", true, nil
		}
		ch := s.nonceChanged
		s.mu.Unlock()
		t := time.NewTimer(handedOutMaxAge)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", false, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// releaseHandedOut forgets one nonce handed out (a fetch that failed, or a signed
// request that now carries it).
func (s *sharedTransport) releaseHandedOut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.handedOut) > 0 {
		s.handedOut = s.handedOut[1:]
	}
	s.changedLocked()
}

// beginSigned marks a signed request as carrying a nonce handed out earlier.
func (s *sharedTransport) beginSigned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.handedOut) > 0 {
		s.handedOut = s.handedOut[1:]
	}
	s.signedInFlight++
}

// endSigned marks a signed request as answered (its nonce, if any, is pooled already).
func (s *sharedTransport) endSigned() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signedInFlight--
	s.changedLocked()
}
