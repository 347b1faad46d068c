package acme

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

const (
	directoryTTL    = time.Hour
	maxPooledNonces = 64
	// nonceMaxAge: CAs forget nonces after a while (Boulder keeps a bounded window);
	// an older pooled nonce would only cost a badNonce round trip.
	nonceMaxAge    = 5 * time.Minute
	maxProblemBody = 64 << 10
)

// sharedTransport is shared by every api.Core of one Client: it caches the directory,
// pools nonces, and paces requests per endpoint class (pacing.go). It never holds a
// context; each call's callTransport brings its own. Safe for concurrent use.
type sharedTransport struct {
	base     http.RoundTripper
	limiters [numBuckets]*rate.Limiter
	overall  *rate.Limiter // Config.RequestsPerSecond; nil: none
	nonceCap int           // the most nonces in use at once: the newNonce burst
	dirURL   string
	log      *zap.Logger
	// onRequest is Config.OnRequest; nil: none.
	onRequest func(endpoint string, status int, took time.Duration)
	now       func() time.Time

	mu             sync.Mutex
	dirBody        []byte
	dirHeader      http.Header
	dirAt          time.Time
	dir            directoryURLs
	nonces         []pooledNonce // oldest first
	handedOut      []time.Time   // nonces given to lego and not yet seen on a request, oldest first
	signedInFlight int           // signed requests sent and not yet answered
	nonceChanged   chan struct{} // closed when a nonce may have become available
	dirFetch       chan struct{} // held while the directory is fetched

	// badNonceToLego counts the badNonce answers left to lego's own retry (with its
	// sleeps); noResign leaves them all to it (tests: what lego alone would do).
	badNonceToLego atomic.Int64
	badNonces      atomic.Int64 // badNonce answers in all
	noResign       bool
	key            crypto.PrivateKey // the account key, for badNonce retries; nil until known
}

// setAccountKey lets the transport sign a request again after badNonce.
func (s *sharedTransport) setAccountKey(k crypto.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = k
}

func (s *sharedTransport) accountKey() crypto.PrivateKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

type pooledNonce struct {
	value string
	at    time.Time
}

func newSharedTransport(base http.RoundTripper, limits RateLimits, rps float64, dirURL string, log *zap.Logger, now func() time.Time) *sharedTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	s := &sharedTransport{base: base, dirURL: dirURL, log: log, now: now, limiters: newLimiters(limits),
		nonceCap: limits.list()[epNewNonce].Burst, nonceChanged: make(chan struct{}), dirFetch: make(chan struct{}, 1)}
	if rps > 0 {
		s.overall = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
	return s
}

func (s *sharedTransport) cachedDirectory(req *http.Request) *http.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirBody == nil || s.now().Sub(s.dirAt) > directoryTTL {
		return nil
	}
	return synthetic(req, http.StatusOK, s.dirHeader.Clone(), s.dirBody)
}

func (s *sharedTransport) storeDirectory(h http.Header, body []byte) {
	var dir directoryURLs
	if json.Unmarshal(body, &dir) != nil || dir.NewNonce == "" {
		return // lego reports the bad directory
	}
	h = h.Clone()
	h.Del("Replay-Nonce")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirBody, s.dirHeader, s.dirAt, s.dir = body, h, s.now(), dir
}

func (s *sharedTransport) popNonceLocked() (string, bool) {
	if len(s.nonces) == 0 {
		return "", false
	}
	n := s.nonces[len(s.nonces)-1] // the freshest
	if s.now().Sub(n.at) > nonceMaxAge {
		s.nonces = nil // all older still: a daemon idle between passes asks afresh
		return "", false
	}
	s.nonces = s.nonces[:len(s.nonces)-1]
	return n.value, true
}

func (s *sharedTransport) pushNonce(n string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.nonces) >= maxPooledNonces {
		s.nonces = s.nonces[1:] // drop the oldest
	}
	s.nonces = append(s.nonces, pooledNonce{value: n, at: s.now()})
	s.changedLocked()
}

// synthetic is a response made here, without a request to the CA.
func synthetic(req *http.Request, status int, h http.Header, body []byte) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// callTransport is the RoundTripper of one call's api.Core: it attaches the call's
// context to every request and remembers, per URL, what lego does not pass on (the
// Retry-After header, the problem types of error answers).
type callTransport struct {
	s   *sharedTransport
	ctx context.Context
	log *zap.Logger

	mu         sync.Mutex
	retryAfter map[string]string   // URL -> Retry-After of its latest response
	problems   map[string][]string // URL -> problem types answered, in order
	failure    error               // the first error this transport made itself (context, limiter)
	// keepBodies, set before the call's first request, keeps every successful answer's
	// body by URL (bodies; persist.go): what lego's wire types drop.
	keepBodies bool
	bodies     map[string][]byte
	// accountCreated: the call's last newAccount answer was 201 Created (a new account),
	// not 200 (the CA already knew the key: RFC 8555 section 7.3.1).
	accountCreated bool
	// stopReplaced, set before the call's first request, is the newOrder URL: once the
	// CA answered it alreadyReplaced, a new order there (lego's retry without replaces)
	// is refused with ErrAlreadyReplaced (OrderRequest.StopIfReplaced).
	stopReplaced string
}

// fail records err as the call's failure (the first one wins) and returns it. lego and
// go-jose do not always keep the error chain (go-jose formats nonce errors with %v), so
// classify puts it back.
func (c *callTransport) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure == nil {
		c.failure = err
	}
	return err
}

func (c *callTransport) transportFailure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure
}

func (s *sharedTransport) call(ctx context.Context, log *zap.Logger) *callTransport {
	return &callTransport{s: s, ctx: ctx, log: log, retryAfter: map[string]string{}, problems: map[string][]string{}, bodies: map[string][]byte{}}
}

// RoundTrip implements http.RoundTripper.
func (c *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := c.ctx.Err(); err != nil {
		closeBody(req)
		return nil, c.fail(err)
	}
	if c.stopReplaced != "" && req.Method == http.MethodPost && req.URL.String() == c.stopReplaced && c.answered(c.stopReplaced, ProblemAlreadyReplaced) {
		closeBody(req)
		return nil, c.fail(ErrAlreadyReplaced)
	}
	isDir := req.Method == http.MethodGet && req.URL.String() == c.s.dirURL
	if isDir {
		resp, release, err := c.directory(req)
		if resp != nil || err != nil {
			return resp, err
		}
		defer release()
	}
	class := c.s.classify(req)
	if class == epNewNonce && req.Method == http.MethodHead {
		return c.newNonce(req)
	}
	signed := req.Method == http.MethodPost && req.Body != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/jose+json")
	if !signed {
		return c.unsigned(req, class, isDir)
	}
	// It carries a nonce handed out by newNonce; its answer brings one back.
	c.s.beginSigned()
	defer c.s.endSigned()
	key := c.s.accountKey()
	if key == nil {
		return c.unsigned(req, class, isDir)
	}
	return c.signed(req, class, key)
}

// unsigned sends a request the transport cannot sign again: a badNonce answer's nonce
// goes to the pool, for lego's own retry.
func (c *callTransport) unsigned(req *http.Request, class endpoint, isDir bool) (*http.Response, error) {
	resp, err := c.roundTrip(req, class, isDir, false)
	if err != nil {
		return nil, err
	}
	if nonce := resp.Header.Get(badNonceHeader); nonce != "" {
		resp.Header.Del(badNonceHeader)
		c.s.pushNonce(nonce)
		c.s.badNonceToLego.Add(1)
	}
	return resp, nil
}

// closeBody closes req's body: a RoundTripper must, also on error; the base transport
// does it once it has the request, and this on every path before that.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// directory answers a GET of the directory from the cache when it can (resp not nil).
// Otherwise it holds the one fetch at a time until release is called: the Cores of
// concurrent calls that find no directory wait for the first fetch and take its cached
// copy (50 orders begun at once made 50 fetches, and the directory's bucket held the
// last of them back).
func (c *callTransport) directory(req *http.Request) (resp *http.Response, release func(), err error) {
	if resp := c.s.cachedDirectory(req); resp != nil {
		closeBody(req)
		return resp, nil, nil
	}
	select {
	case c.s.dirFetch <- struct{}{}:
	case <-c.ctx.Done():
		closeBody(req)
		return nil, nil, c.fail(c.ctx.Err())
	}
	release = func() { <-c.s.dirFetch }
	if resp := c.s.cachedDirectory(req); resp != nil {
		release()
		closeBody(req)
		return resp, nil, nil
	}
	return nil, release, nil
}

// newNonce answers lego's HEAD newNonce from the pool, or fetches a fresh nonce while
// fewer than the newNonce burst are in use (see takeNonce).
func (c *callTransport) newNonce(req *http.Request) (*http.Response, error) {
	n, fetch, err := c.s.takeNonce(c.ctx)
	if err != nil {
		closeBody(req)
		return nil, c.fail(err)
	}
	if !fetch {
		closeBody(req)
		return synthetic(req, http.StatusOK, http.Header{"Replay-Nonce": {n}, "Cache-Control": {"no-store"}}, nil), nil
	}
	resp, err := c.roundTrip(req, epNewNonce, false, true)
	if err != nil || resp.Header.Get("Replay-Nonce") == "" {
		c.s.releaseHandedOut()
	}
	return resp, err
}

// signed sends a signed POST, keeping its JWS so that it can be signed again with a
// fresh nonce when the CA answers badNonce (see maxBadNonceRetries).
func (c *callTransport) signed(req *http.Request, class endpoint, key crypto.PrivateKey) (*http.Response, error) {
	jws, err := io.ReadAll(req.Body)
	closeBody(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		send := req.Clone(req.Context())
		send.Body = io.NopCloser(bytes.NewReader(jws))
		send.ContentLength = int64(len(jws))
		body := jws
		send.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		resp, err := c.roundTrip(send, class, false, false)
		if err != nil {
			return nil, err
		}
		nonce := resp.Header.Get(badNonceHeader)
		if nonce == "" {
			return resp, nil
		}
		resp.Header.Del(badNonceHeader)
		if attempt >= maxBadNonceRetries || c.s.noResign {
			c.s.pushNonce(nonce)
			c.s.badNonceToLego.Add(1)
			return resp, nil
		}
		again, serr := resignJWS(jws, key, nonce)
		if serr != nil {
			c.log.Debug("cannot sign the request again after badNonce; lego retries", zap.Error(serr))
			c.s.pushNonce(nonce) // lego's own retry path takes it from the pool
			c.s.badNonceToLego.Add(1)
			return resp, nil
		}
		_ = resp.Body.Close()
		jws = again
		c.log.Debug("the CA rejected a nonce; signed again with the nonce it sent", zap.String("url", req.URL.String()), zap.Int("attempt", attempt+1))
	}
}

// badNonceHeader carries, between roundTrip and RoundTrip, the nonce of a badNonce
// answer that RoundTrip may use to sign the request again. It never leaves the package.
const badNonceHeader = "X-Certferry-Bad-Nonce-Replay"

// roundTrip sends one request to the CA: pacing of its endpoint class, the call's
// context, nonce pooling, Retry-After and problem bookkeeping.
func (c *callTransport) roundTrip(req *http.Request, class endpoint, isDir, isNonce bool) (*http.Response, error) {
	resp, cancel, err := c.send(req, class)
	if err != nil {
		return nil, err
	}
	url := req.URL.String()
	nonce := resp.Header.Get("Replay-Nonce")
	resp.Header.Del("Replay-Nonce")
	c.mu.Lock()
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		c.retryAfter[url] = ra
	} else {
		delete(c.retryAfter, url)
	}
	c.mu.Unlock()
	badNonce, err := c.readAnswer(url, resp, isDir, cancel)
	if err != nil {
		return nil, err
	}
	switch {
	case nonce == "":
	case isNonce:
		resp.Header.Set("Replay-Nonce", nonce) // lego's HEAD newNonce wants it
	case badNonce:
		// Kept for RoundTrip to sign the request again with it.
		resp.Header.Set(badNonceHeader, nonce)
	default:
		// Pooled for every Core of this Client; lego's own manager never sees it, so no
		// nonce is ever used twice.
		c.s.pushNonce(nonce)
	}
	return resp, nil
}

// send waits for req's token of its class, then sends it under the call's context, cut
// short also by the request's own (http.Client.Timeout); cancel ends that context once
// the answer's body is read.
func (c *callTransport) send(req *http.Request, class endpoint) (resp *http.Response, cancel context.CancelFunc, err error) {
	if err := c.s.wait(c.ctx, class); err != nil {
		closeBody(req)
		if ctxErr := c.ctx.Err(); ctxErr != nil {
			return nil, nil, c.fail(ctxErr)
		}
		// The wait would outlast the call's deadline: fail now, as the deadline would.
		return nil, nil, c.fail(fmt.Errorf("acme: request rate limit (%s): the next request is allowed only after the deadline: %w", bucketNames[class.bucket()], context.DeadlineExceeded))
	}
	ctx, cancel := c.ctx, context.CancelFunc(func() {})
	if req.Context().Done() != nil {
		var cancelCtx context.CancelFunc
		ctx, cancelCtx = context.WithCancel(c.ctx)
		stop := context.AfterFunc(req.Context(), cancelCtx)
		cancel = func() { stop(); cancelCtx() }
	}
	start := time.Now()
	resp, err = c.s.base.RoundTrip(req.Clone(ctx))
	c.s.report(class, resp, time.Since(start))
	if err == nil && class == epNewAccount {
		c.mu.Lock()
		c.accountCreated = resp.StatusCode == http.StatusCreated
		c.mu.Unlock()
	}
	if err != nil {
		cancel()
		if ctxErr := c.ctx.Err(); ctxErr != nil {
			c.fail(ctxErr)
		}
		return nil, nil, err
	}
	return resp, cancel, nil
}

// report tells Config.OnRequest of a request sent; resp is nil when no answer came.
func (s *sharedTransport) report(class endpoint, resp *http.Response, took time.Duration) {
	if s.onRequest == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	s.onRequest(class.String(), status, took)
}

// readAnswer reads what the transport needs of the answer's body: the problem type of
// an error (badNonce says the CA rejected the nonce), the directory; and the bodies the
// call keeps. The body stays readable for lego; cancel runs once it is read.
func (c *callTransport) readAnswer(url string, resp *http.Response, isDir bool, cancel context.CancelFunc) (badNonce bool, err error) {
	readAll := func() ([]byte, error) {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
		_ = resp.Body.Close()
		cancel()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return body, err
	}
	switch {
	case resp.StatusCode >= http.StatusBadRequest:
		body, err := readAll()
		if err != nil {
			return false, err
		}
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &p) == nil && p.Type != "" {
			c.mu.Lock()
			c.problems[url] = append(c.problems[url], p.Type)
			c.mu.Unlock()
			badNonce = p.Type == ProblemBadNonce
			if badNonce {
				c.s.badNonces.Add(1)
			}
		}
	case isDir && resp.StatusCode == http.StatusOK:
		body, err := readAll()
		if err != nil {
			return false, err
		}
		c.s.storeDirectory(resp.Header, body)
	case c.keepBodies && resp.StatusCode < http.StatusMultipleChoices:
		err := c.keepBody(url, resp)
		cancel()
		if err != nil {
			return false, err
		}
	default:
		resp.Body = &cancelOnDone{ReadCloser: resp.Body, cancel: cancel}
	}
	return badNonce, nil
}

// lastRetryAfter returns the Retry-After header of url's latest response.
func (c *callTransport) lastRetryAfter(url string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.retryAfter[url]
}

// answered reports whether the CA answered url with a problem of type typ.
func (c *callTransport) answered(url, typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.problems[url] {
		if t == typ {
			return true
		}
	}
	return false
}

// cancelOnDone releases a request's context once its body is read to the end or
// closed (lego does not always close bodies it has read).
type cancelOnDone struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnDone) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.cancel()
	}
	return n, err
}

func (b *cancelOnDone) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
