package acme

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/certferry/certferry/certs"
	"io"
	stdlog "log"
	"net/http"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certcrypto"
	legolog "github.com/go-acme/lego/v4/log"
	"go.uber.org/zap"
)

func init() {
	// The one global this package touches (see the package doc): lego's protocol layer
	// logs only its badNonce retries, which callTransport logs on the Client's logger.
	legolog.Logger = stdlog.New(io.Discard, "", 0)
}

// EAB is an External Account Binding (RFC 8555 §7.3.4), for CAs that require one.
type EAB struct {
	KID     string
	HMACKey string // base64url, as the CA hands it out
}

// String keeps the HMAC key out of logs.
func (e EAB) String() string { return "EAB{KID:" + e.KID + ", HMACKey:" + certs.Redacted + "}" }

// validate checks e before anything is stored or sent; a nil e is valid. The key is
// never quoted.
func (e *EAB) validate() error {
	switch {
	case e == nil:
		return nil
	case e.KID == "":
		return errors.New("acme: new client: external account binding (EAB): KID is empty")
	case e.HMACKey == "":
		return fmt.Errorf("acme: new client: external account binding (EAB) kid %q: HMACKey is empty", e.KID)
	}
	// lego accepts base64url with or without padding.
	if _, err := base64.RawURLEncoding.DecodeString(e.HMACKey); err == nil {
		return nil
	}
	if _, err := base64.URLEncoding.DecodeString(e.HMACKey); err == nil {
		return nil
	}
	return fmt.Errorf("acme: new client: external account binding (EAB) kid %q: HMACKey is not base64url", e.KID)
}

// Config configures New.
type Config struct {
	DirectoryURL string // the ACME directory, https
	Email        string // account contact; may be empty
	// HTTPClient is the caller's client (trusting any extra roots: a ca_bundle, the
	// sandbox's TLS root). Its Transport and Timeout are used; the client itself is never
	// modified. Nil means http.DefaultTransport and no timeout beyond the contexts.
	HTTPClient *http.Client
	UserAgent  string // prepended to lego's User-Agent
	EAB        *EAB
	// RateLimits paces requests per endpoint class; zero values take
	// DefaultRateLimits. Answers served from the directory cache or the nonce pool do
	// not count.
	RateLimits RateLimits
	// RequestsPerSecond, when more than 0, also caps every request together (bursts of
	// up to max(1, RequestsPerSecond)). 0: only RateLimits.
	RequestsPerSecond float64
	// MaxRetryAfter caps how long a poll of an authorization or order waits when the CA's
	// Retry-After asks for longer. Default 1 minute.
	MaxRetryAfter time.Duration
	Store         AccountStore
	// LoadOnly opens only an account the store holds, registered and not deactivated:
	// with none, New returns an error wrapping ErrNoAccount before any request, and
	// never creates or registers one. For a client that only reads back what an account
	// placed earlier (the challenge journal's sweep of another CA's orders).
	LoadOnly bool
	// OnRequest, when set, is told of every request sent to the CA (not of the answers
	// served from the directory cache or the nonce pool): its endpoint class
	// ("directory", "new-nonce", "new-account", "new-order", "revoke", "renewal-info",
	// "key-change", "authorization", "challenge", "finalize", "order", "certificate",
	// "account" or "other"), the answer's status code (0: no answer came) and how long
	// the answer's headers took. It is called concurrently and must not block.
	OnRequest func(endpoint string, status int, took time.Duration)
	Logger    *zap.Logger // nil: no logging
}

// Client holds one registered account and orders certificates with it. Its methods are
// safe for concurrent use; each call is bounded by its own context.
type Client struct {
	dirURL    string
	userAgent string
	timeout   time.Duration
	log       *zap.Logger
	transport *sharedTransport
	now       func() time.Time
	// maxRetryAfter caps a poll's wait (Config.MaxRetryAfter).
	maxRetryAfter time.Duration
	// sleep waits between polls; tests replace it with a fake clock's.
	sleep func(ctx context.Context, d time.Duration) error

	store    AccountStore
	eab      *EAB
	httpBase http.RoundTripper // the caller's transport, for requests signed with another key

	mu      sync.Mutex // guards account and key (a rollover replaces them)
	account Account
	key     crypto.PrivateKey
	// replaceMu serialises replacing an account the CA forgot (replace.go).
	replaceMu sync.Mutex
}

// newClient is a client for cfg (validated) without its account.
func newClient(cfg Config) *Client {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("acme")
	c := &Client{dirURL: cfg.DirectoryURL, userAgent: cfg.UserAgent, log: log, now: time.Now, store: cfg.Store, eab: cfg.EAB, maxRetryAfter: cfg.MaxRetryAfter}
	c.sleep = sleepCtx
	if c.maxRetryAfter == 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	var base http.RoundTripper
	if cfg.HTTPClient != nil {
		base, c.timeout = cfg.HTTPClient.Transport, cfg.HTTPClient.Timeout
	}
	c.httpBase = base
	c.transport = newSharedTransport(base, cfg.RateLimits, cfg.RequestsPerSecond, cfg.DirectoryURL, log, c.now)
	c.transport.onRequest = cfg.OnRequest
	return c
}

// NewKeyRevoker returns a client for RevokeWithCertKey alone: requests signed with a
// certificate's own key need no account, so it opens none (cfg.Store and cfg.EAB are
// not used). Reporting a compromised key then never waits on an account, nor registers
// one: none may be stored, the stored one may be deactivated, or the CA may refuse new
// registrations (a used-up EAB key). Its other methods fail.
func NewKeyRevoker(cfg Config) (*Client, error) {
	switch {
	case cfg.DirectoryURL == "":
		return nil, errors.New("acme: new key revoker: DirectoryURL is empty")
	case cfg.RequestsPerSecond < 0:
		return nil, fmt.Errorf("acme: new key revoker: RequestsPerSecond must not be negative, got %g", cfg.RequestsPerSecond)
	}
	if err := cfg.RateLimits.validate(); err != nil {
		return nil, fmt.Errorf("acme: new key revoker: %w", err)
	}
	cfg.Store, cfg.EAB = nil, nil
	return newClient(cfg), nil
}

// New loads the account of (DirectoryURL, EAB key id) from cfg.Store, or creates and
// registers it, and returns a client for it.
//
// When nothing is stored, New generates a P-256 key and stores it with Create; if
// another runner's Create won (ErrAccountExists), New loads and uses that runner's key.
// An account stored without a URL is then registered with the CA (newAccount, with the
// EAB when configured) and stored again with its URL. Registering a key the CA already
// knows returns the existing account, so two runners racing through New end with one
// account. New never registers when the stored account has a URL.
//
// A stored account that was deactivated is replaced by a new key and registration. One
// stored with a NextKey (a rollover interrupted between storing the new key and the CA's
// answer) is checked with the CA: whichever key the CA knows is used, and the new key,
// when it is the one, is promoted in the store.
func New(ctx context.Context, cfg Config) (*Client, error) {
	switch {
	case cfg.DirectoryURL == "":
		return nil, errors.New("acme: new client: DirectoryURL is empty")
	case cfg.Store == nil:
		return nil, errors.New("acme: new client: Store is nil")
	case cfg.RequestsPerSecond < 0:
		return nil, fmt.Errorf("acme: new client: RequestsPerSecond must not be negative, got %g", cfg.RequestsPerSecond)
	case cfg.MaxRetryAfter < 0:
		return nil, fmt.Errorf("acme: new client: MaxRetryAfter must not be negative, got %s", cfg.MaxRetryAfter)
	}
	if err := cfg.RateLimits.validate(); err != nil {
		return nil, fmt.Errorf("acme: new client: %w", err)
	}
	if err := cfg.EAB.validate(); err != nil {
		return nil, &accountRefusedError{err}
	}
	c := newClient(cfg)
	log := c.log

	kid := ""
	if cfg.EAB != nil {
		kid = cfg.EAB.KID
	}
	load := loadOrCreate
	if cfg.LoadOnly {
		load = loadExisting
	}
	acct, err := load(ctx, cfg.Store, cfg.DirectoryURL, kid, cfg.Email, log)
	if err != nil {
		return nil, err
	}
	key, err := certcrypto.ParsePEMPrivateKey(acct.Key.Bytes())
	if err != nil {
		return nil, fmt.Errorf("acme: new client: parse the stored account key: %w", err)
	}
	c.account, c.key = *acct, key
	c.transport.setAccountKey(key)
	if c.account.URL != "" && !c.account.NextKey.IsZero() {
		if err := c.finishRollover(ctx); err != nil {
			return nil, fmt.Errorf("acme: new client: %w", err)
		}
	}
	if cfg.Email != c.account.Email && c.account.URL != "" {
		log.Warn("the configured email differs from the account's contact; `certferry account update --email` changes it at the CA",
			zap.String("configured", cfg.Email), zap.String("account", c.account.Email))
	}

	if c.account.URL == "" {
		stored, err := c.register(ctx, cfg.EAB, cfg.Store)
		if err != nil {
			return nil, err
		}
		if stored {
			return c, nil
		}
		if err := cfg.Store.Update(ctx, &c.account); err != nil {
			return nil, fmt.Errorf("acme: new client: store the account URL: %w", err)
		}
	}
	return c, nil
}

// loadExisting returns the stored, registered, live account of (dir, kid), or an error
// wrapping ErrNoAccount (Config.LoadOnly).
func loadExisting(ctx context.Context, store AccountStore, dir, kid, _ string, _ *zap.Logger) (*Account, error) {
	acct, err := store.Load(ctx, dir, kid)
	switch {
	case err != nil:
		return nil, fmt.Errorf("acme: open the account of %s: %w", dir, err)
	case acct.Deactivated:
		return nil, fmt.Errorf("acme: open the account of %s: it is deactivated: %w", dir, ErrNoAccount)
	case acct.URL == "":
		return nil, fmt.Errorf("acme: open the account of %s: its key was never registered: %w", dir, ErrNoAccount)
	}
	return acct, nil
}

func loadOrCreate(ctx context.Context, store AccountStore, dir, kid, email string, log *zap.Logger) (*Account, error) {
	acct, err := store.Load(ctx, dir, kid)
	if err == nil && !acct.Deactivated {
		return acct, nil
	}
	switch {
	case err == nil && acct.DeactivatedReason != "":
		// Superseded: the CA no longer knows it (replace.go logs why).
		log.Info("the stored ACME account is superseded; registering a new one", zap.String("directory", dir), zap.String("account", acct.URL))
	case err == nil:
		log.Warn("the stored ACME account was deactivated; registering a new one", zap.String("directory", dir), zap.String("account", acct.URL))
	case !errors.Is(err, ErrNoAccount):
		return nil, fmt.Errorf("acme: new client: load account: %w", err)
	}
	key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		return nil, fmt.Errorf("acme: new client: generate account key: %w", err)
	}
	acct = &Account{Directory: dir, KID: kid, Email: email, Key: certs.NewPrivateKeyPEM(certcrypto.PEMEncode(key))}
	err = store.Create(ctx, acct)
	switch {
	case err == nil:
		log.Info("created a new ACME account key", zap.String("directory", dir), zap.String("email", email))
		return acct, nil
	case errors.Is(err, ErrAccountExists):
		log.Info("another runner stored an ACME account first; using its key", zap.String("directory", dir), zap.String("email", email))
		acct, err = store.Load(ctx, dir, kid)
		if err != nil {
			return nil, fmt.Errorf("acme: new client: load the account another runner created: %w", err)
		}
		if acct.Deactivated {
			return nil, fmt.Errorf("acme: new client: the stored account of directory %q is deactivated and another runner is replacing it; try again", dir)
		}
		return acct, nil
	default:
		return nil, fmt.Errorf("acme: new client: store the new account: %w", err)
	}
}

// register registers c's key with the CA and sets c.account.URL. stored reports that
// the URL came from the store (another runner registered the key meanwhile).
// accountRefused reports whether a newAccount answered with pe is a refusal that no
// retry fixes without a change of configuration. With an external account binding, any
// 4xx but a bad nonce, a rate limit or an internal error is (the CA judges the binding,
// and its answer to a bad one need not say so); without one, only a refused contact or
// a binding required.
func accountRefused(pe *ProblemError, withEAB bool) bool {
	if pe.Status < 400 || pe.Status >= 500 || pe.Status == http.StatusTooManyRequests {
		return false
	}
	switch pe.Type {
	case ProblemBadNonce, ProblemRateLimited, ProblemServerInternal:
		return false
	case ProblemInvalidContact, ProblemUnsupportedContact, ProblemExternalAccountNeeded:
		return true
	}
	return withEAB
}

func (c *Client) register(ctx context.Context, eab *EAB, store AccountStore) (stored bool, err error) {
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return false, fmt.Errorf("acme: register account: %w", err)
	}
	req := legoacme.Account{TermsOfServiceAgreed: true}
	if c.account.Email != "" {
		req.Contact = []string{"mailto:" + c.account.Email}
	}
	if eab == nil && core.GetDirectory().Meta.ExternalAccountRequired {
		return false, &accountRefusedError{errors.New("acme: register account: the CA requires an external account binding (EAB) and none is configured")}
	}
	// op names the binding in every error of the newAccount request: a CA's answer to a
	// bad one (Pebble: unauthorized, "the field 'kid' references a key that is not
	// known") need not say so.
	op := "acme: register account"
	if eab != nil {
		op = fmt.Sprintf("acme: register account with external account binding (EAB) kid %q", eab.KID)
	}
	var acct legoacme.ExtendedAccount
	// Runners racing to register the one stored key can make the CA fail all but one
	// (Pebble answers 500 "Error saving account"); the next attempt finds the account.
	wait := pollStart
	for attempt := 1; ; attempt++ {
		if eab != nil {
			acct, err = core.Accounts.NewEAB(req, eab.KID, eab.HMACKey)
		} else {
			acct, err = core.Accounts.New(req)
		}
		if err == nil {
			break
		}
		err = ct.classify(err)
		pe, isProblem := errors.AsType[*ProblemError](err)
		retryable := isProblem && pe.Status >= http.StatusInternalServerError
		if eab == nil && isProblem && pe.Type == ProblemExternalAccountNeeded {
			// The CA did not announce it in its directory (meta.externalAccountRequired).
			return false, &accountRefusedError{fmt.Errorf("%s: the CA requires an external account binding (EAB) and none is configured: %w", op, err)}
		}
		if isProblem && accountRefused(pe, eab != nil) {
			// The CA refused the account itself (a bad EAB binding, a refused contact):
			// no retry fixes that without a change of configuration.
			return false, &accountRefusedError{fmt.Errorf("%s: %w", op, err)}
		}
		if !retryable || attempt == registerAttempts || ctx.Err() != nil {
			return false, fmt.Errorf("%s: %w", op, err)
		}
		c.log.Info("registering the ACME account failed; retrying", zap.Int("attempt", attempt), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
		wait *= 2
		// Check again: the runner that won the race may have stored the URL by now.
		if a, lerr := store.Load(ctx, c.account.Directory, c.account.KID); lerr == nil && a.URL != "" && a.Key.Equal(c.account.Key) {
			c.account.URL = a.URL
			c.log.Info("another runner registered the ACME account", zap.String("account", a.URL))
			return true, nil
		}
	}
	if acct.Location == "" {
		return false, errors.New("acme: register account: the CA sent no account URL (Location)")
	}
	c.account.URL = acct.Location
	ct.mu.Lock()
	created := ct.accountCreated
	ct.mu.Unlock()
	if created {
		c.log.Info("registered the ACME account", zap.String("account", acct.Location), zap.String("email", c.account.Email))
	} else {
		c.log.Info("the CA already knew this account key; using its account", zap.String("account", acct.Location))
	}
	return false, nil
}

// registerAttempts bounds newAccount attempts on server errors.
const registerAttempts = 3

// AccountURL is the account's URL at the CA.
func (c *Client) AccountURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.account.URL
}

// newCore returns an api.Core whose every request carries ctx. With the directory cached
// and a nonce pooled, it makes no request.
func (c *Client) newCore(ctx context.Context) (*api.Core, *callTransport, error) {
	ct := c.transport.call(ctx, c.log)
	// A fresh http.Client per Core: lego's sender wraps (mutates) the client's Transport.
	hc := &http.Client{Transport: ct, Timeout: c.timeout}
	c.mu.Lock()
	url, key := c.account.URL, c.key
	c.mu.Unlock()
	core, err := api.New(hc, c.userAgent, c.dirURL, url, key)
	if err != nil {
		return nil, nil, ct.classify(err)
	}
	return core, ct, nil
}

// classify converts lego's errors (see classify in errors.go), with the Retry-After
// headers this call's responses carried.
// When lego lost the transport's own failure (context ended, rate limit) from the
// chain, it is put back in front.
func (c *callTransport) classify(err error) error {
	if err == nil {
		return nil
	}
	if f := c.transportFailure(); f != nil && !errors.Is(err, f) {
		return fmt.Errorf("%w: %w", f, err)
	}
	return classify(err, c.lastRetryAfter, c.s.now())
}
