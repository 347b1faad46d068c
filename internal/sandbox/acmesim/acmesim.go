// Package acmesim runs Pebble (github.com/letsencrypt/pebble/v2), Let's Encrypt's test
// CA, inside the process, over HTTPS on a loopback port chosen by the OS, for tests and
// for `certferry-sandbox`.
//
// The HTTPS identity (a root and a leaf for 127.0.0.1 and localhost) is generated at
// Start and lives in memory; only the public roots are written to Options.Dir. Pebble's
// own issuance roots change on every Start too.
//
// Pebble reads its knobs from environment variables inside va.New and wfe.New. Start
// therefore sets them under a process-wide mutex, constructs Pebble, and restores the
// previous values before releasing it: concurrent Starts with different knobs are
// serialised and each gets its own knobs, but any other code that reads PEBBLE_*
// variables while a Start runs may see the sandbox's values.
//
// Pebble's validation authority starts one goroutine ((va.VAImpl).processTasks) that
// never exits, so every Start leaks exactly one goroutine; tests using goleak must ignore
// that function (see GoleakIgnore).
//
// acmesim never enforces rate limits or CAA: that is Pebble's behaviour.
package acmesim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	pebbleca "github.com/letsencrypt/pebble/v2/ca"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
	pebbleva "github.com/letsencrypt/pebble/v2/va"
	pebblewfe "github.com/letsencrypt/pebble/v2/wfe"
)

// VAGoroutine is the function of the goroutine that Pebble's validation authority starts
// and never stops. Use it with goleak.IgnoreTopFunction, and ignore nothing else.
const VAGoroutine = "github.com/letsencrypt/pebble/v2/va.VAImpl.processTasks"

// Profile names that Start configures unless Options.Profiles replaces them.
const (
	ProfileDefault    = "default"    // Options.CertValidity (90 days), common name promoted, like LE "classic"
	ProfileShortLived = "shortlived" // 160 hours (6 days and 16 hours), like LE "shortlived"
	ProfileTLSServer  = "tlsserver"  // 90 days, no common name, like LE "tlsserver"
)

// DefaultCertValidity is the validity of the "default" profile when Options.CertValidity
// is zero.
const DefaultCertValidity = 90 * 24 * time.Hour

// ShortLivedValidity is the validity of the "shortlived" profile.
const ShortLivedValidity = 160 * time.Hour

// Profile is one certificate profile the CA offers (draft-ietf-acme-profiles).
type Profile struct {
	Description       string
	Validity          time.Duration // rounded down to whole seconds; must be at least one second
	PromoteCommonName bool          // put the first name in the subject common name
}

// Options configures Start. The zero value is a quiet, fast CA that validates DNS-01
// with the system resolver.
type Options struct {
	// DNSResolver is the "host:port" of the DNS server that Pebble's VA asks, over TCP,
	// when it validates DNS-01 challenges. Empty means the system resolver.
	DNSResolver string
	// Dir is where tls-roots.pem and issuer-roots.pem are written; it is created if
	// missing and left in place by Close. Empty means a new temporary directory,
	// removed by Close.
	Dir string
	// NonceRejectPercent is the share of good nonces Pebble rejects as bad (0-99).
	// Zero here means zero (Pebble's own default is 5).
	NonceRejectPercent int
	// ValidationSleep turns on Pebble's random sleep before each validation, up to
	// ValidationSleepMax seconds (Pebble's default of 5 when zero).
	ValidationSleep    bool
	ValidationSleepMax int
	// AuthzReusePercent is how often Pebble reuses a valid authorization (0-100).
	// Zero here means zero (Pebble's own default is 50).
	AuthzReusePercent int
	// AlwaysValid makes every challenge valid without any DNS query, for tests of an
	// ACME client alone.
	AlwaysValid bool
	// CertValidity is the validity of the "default" profile; zero means 90 days.
	CertValidity time.Duration
	// Profiles, when not empty, replaces the three built-in profiles.
	Profiles map[string]Profile
	// DefaultProfile is the profile of orders that name none. Empty means ProfileDefault
	// with the built-in profiles, and the only profile when Profiles holds one.
	DefaultProfile string
	// RandomProfile gives orders that name no profile a random one instead, as Pebble
	// itself does (to test a client that must cope with whatever the CA picks).
	RandomProfile bool
	// EABKeys are the External Account Binding keys (RFC 8555 §7.3.4) the CA knows: key
	// ID -> HMAC key, base64url without padding, as a CA hands them out. A newAccount
	// request carrying a binding must name one of them and be MACed with its key.
	EABKeys map[string]string
	// RequireEAB makes the CA refuse newAccount requests without an external account
	// binding (Pebble's externalAccountRequired problem) and announce
	// meta.externalAccountRequired in its directory.
	RequireEAB bool
	// PersistIssuer is the issuer domain name of the CA's dns-persist-01 challenges
	// and of its directory's meta.caaIdentities (DefaultPersistIssuer when empty).
	PersistIssuer string
	// NoDNSPersist hides the dns-persist-01 challenges from every authorization, as a
	// CA that does not offer the method answers.
	NoDNSPersist bool
	// Middleware, when set, wraps the ACME handler (for fault-injecting tests).
	Middleware func(http.Handler) http.Handler
	// Logger receives Pebble's log; nil discards it.
	Logger *log.Logger
}

// CA is a running in-process Pebble. Its methods are safe for concurrent use.
type CA struct {
	dir       string
	removeDir bool

	tls       *tlsIdentity
	issuerPEM []byte

	acmeSrv       *http.Server
	mgmtSrv       *http.Server
	persistIssuer string

	acmeURL string // https://127.0.0.1:PORT
	mgmtURL string // https://127.0.0.1:PORT (management interface)

	transport *http.Transport

	closeOnce sync.Once
	closeErr  error
}

// envMu serialises the construction of Pebble's VA and WFE, which read the process
// environment. It is the package's only shared state.
var envMu sync.Mutex

// Start constructs Pebble and starts serving. ctx bounds the start only; the CA runs
// until Close.
func Start(ctx context.Context, opts Options) (*CA, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acmesim: start: %w", err)
	}
	if err := validate(&opts); err != nil {
		return nil, err
	}
	defaultProfile, err := resolveDefaultProfile(opts)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}

	c := &CA{dir: opts.Dir, persistIssuer: persistIssuer(opts)}
	if err := c.makeDir(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = c.Close()
		}
	}()

	id, err := newTLSIdentity(time.Now())
	if err != nil {
		return nil, err
	}
	c.tls = id

	db := pebbledb.NewMemoryStore()
	for kid, key := range opts.EABKeys {
		// validate checked kid and key, so this fails only on a duplicate, which a map
		// cannot hold; Pebble's error would quote the key, so it is not passed on.
		if db.AddExternalAccountKeyByID(kid, key) != nil {
			return nil, fmt.Errorf("acmesim: EAB key %q: Pebble refused it", kid)
		}
	}
	pca := pebbleca.New(logger, db, "", "ecdsa", 0, 1, pebbleProfiles(opts))
	wfe := newPebble(logger, db, pca, opts)

	if err := c.writeRoots(pca); err != nil {
		return nil, err
	}

	var acmeHandler http.Handler = wfe.Handler()
	if defaultProfile != "" {
		acmeHandler = withDefaultProfile(db, defaultProfile, acmeHandler)
	}
	if opts.NoDNSPersist {
		acmeHandler = withoutPersist(acmeHandler)
	}
	// Inside Middleware, so that a request it holds (a fault's Hang) holds no lock;
	// outside withDefaultProfile, which reads the store.
	acmeHandler = withLockOrder(db, acmeHandler)
	if opts.Middleware != nil {
		acmeHandler = opts.Middleware(acmeHandler)
	}
	if c.acmeSrv, c.acmeURL, err = c.serve(ctx, acmeHandler); err != nil {
		return nil, fmt.Errorf("acmesim: serve ACME: %w", err)
	}
	if c.mgmtSrv, c.mgmtURL, err = c.serve(ctx, wfe.ManagementHandler()); err != nil {
		return nil, fmt.Errorf("acmesim: serve management: %w", err)
	}
	c.transport = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: id.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	ok = true
	return c, nil
}

// makeDir creates the CA's directory, a temporary one (removed by Close) when none is
// given.
func (c *CA) makeDir() error {
	if c.dir != "" {
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return fmt.Errorf("acmesim: create dir: %w", err)
		}
		return nil
	}
	d, err := os.MkdirTemp("", "acmesim-")
	if err != nil {
		return fmt.Errorf("acmesim: create temp dir: %w", err)
	}
	c.dir, c.removeDir = d, true
	return nil
}

// writeRoots writes the roots of the CA's HTTPS and those of the chains it issues to
// their files.
func (c *CA) writeRoots(pca *pebbleca.CAImpl) error {
	for i := 0; i < pca.GetNumberOfRootCerts(); i++ {
		if root := pca.GetRootCert(i); root != nil {
			c.issuerPEM = append(c.issuerPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.DER})...)
		}
	}
	if err := os.WriteFile(c.TLSRootsFile(), c.tls.rootPEM, 0o644); err != nil {
		return fmt.Errorf("acmesim: write TLS roots: %w", err)
	}
	if err := os.WriteFile(c.IssuerRootsFile(), c.issuerPEM, 0o644); err != nil {
		return fmt.Errorf("acmesim: write issuer roots: %w", err)
	}
	return nil
}

func validate(opts *Options) error {
	switch {
	case opts.NonceRejectPercent < 0 || opts.NonceRejectPercent > 99:
		return fmt.Errorf("acmesim: NonceRejectPercent must be 0-99, got %d", opts.NonceRejectPercent)
	case opts.AuthzReusePercent < 0 || opts.AuthzReusePercent > 100:
		return fmt.Errorf("acmesim: AuthzReusePercent must be 0-100, got %d", opts.AuthzReusePercent)
	case opts.ValidationSleepMax < 0:
		return fmt.Errorf("acmesim: ValidationSleepMax must not be negative, got %d", opts.ValidationSleepMax)
	case opts.CertValidity < 0:
		return fmt.Errorf("acmesim: CertValidity must not be negative, got %s", opts.CertValidity)
	case opts.PersistIssuer != "" && !ValidIssuerName(opts.PersistIssuer):
		return fmt.Errorf("acmesim: PersistIssuer %q is not a lowercase domain name", opts.PersistIssuer)
	}
	for kid, key := range opts.EABKeys {
		// Never quote the key: it is a secret.
		switch {
		case kid == "":
			return errors.New("acmesim: EABKeys: empty key ID")
		case key == "":
			return fmt.Errorf("acmesim: EABKeys[%q]: empty HMAC key", kid)
		}
		if _, err := base64.RawURLEncoding.DecodeString(key); err != nil {
			return fmt.Errorf("acmesim: EABKeys[%q]: HMAC key is not unpadded base64url", kid)
		}
	}
	for name, p := range opts.Profiles {
		if p.Validity < time.Second {
			return fmt.Errorf("acmesim: profile %q: Validity must be at least 1s, got %s", name, p.Validity)
		}
	}
	return nil
}

func pebbleProfiles(opts Options) map[string]pebbleca.Profile {
	profiles := opts.Profiles
	if len(profiles) == 0 {
		v := opts.CertValidity
		if v == 0 {
			v = DefaultCertValidity
		}
		profiles = map[string]Profile{
			ProfileDefault:    {Description: "certferry sandbox default (like LE classic)", Validity: v, PromoteCommonName: true},
			ProfileShortLived: {Description: "certferry sandbox shortlived (160h)", Validity: ShortLivedValidity},
			ProfileTLSServer:  {Description: "certferry sandbox tlsserver (90 days, no CN)", Validity: DefaultCertValidity},
		}
	}
	out := make(map[string]pebbleca.Profile, len(profiles))
	for name, p := range profiles {
		out[name] = pebbleca.Profile{
			Description:       p.Description,
			PromoteCommonName: p.PromoteCommonName,
			ValidityPeriod:    uint64(p.Validity / time.Second),
		}
	}
	return out
}

// newPebble builds the VA and WFE with the environment set from opts, under envMu, and
// restores the environment before returning.
func newPebble(logger *log.Logger, db *pebbledb.MemoryStore, pca *pebbleca.CAImpl, opts Options) *pebblewfe.WebFrontEndImpl {
	env := map[string]string{
		"PEBBLE_VA_NOSLEEP":          boolEnv(!opts.ValidationSleep),
		"PEBBLE_VA_SLEEPTIME":        "",
		"PEBBLE_VA_ALWAYS_VALID":     boolEnv(opts.AlwaysValid),
		"PEBBLE_WFE_NONCEREJECT":     strconv.Itoa(opts.NonceRejectPercent),
		"PEBBLE_AUTHZREUSE":          strconv.Itoa(opts.AuthzReusePercent),
		"PEBBLE_WFE_ORDERS_PER_PAGE": "",
	}
	if opts.ValidationSleep && opts.ValidationSleepMax > 0 {
		env["PEBBLE_VA_SLEEPTIME"] = strconv.Itoa(opts.ValidationSleepMax)
	}

	envMu.Lock()
	defer envMu.Unlock()
	restore := setEnv(env)
	defer restore()

	va := pebbleva.New(logger, 5002, 5001, false, opts.DNSResolver, db)
	// Retry-After of 1 s on processing authorizations and orders: clients poll quickly
	// (lego waits 5 s without one) and still exercise Retry-After parsing.
	// The CAA identities are also the issuer domain names of dns-persist-01 challenges.
	wfe := pebblewfe.New(logger, db, va, pca, []string{persistIssuer(opts)}, false, opts.RequireEAB, 1, 1)
	return &wfe
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// setEnv sets (or, for "", unsets) each variable and returns a func restoring the
// previous values.
func setEnv(env map[string]string) (restore func()) {
	type prev struct {
		val string
		set bool
	}
	saved := make(map[string]prev, len(env))
	for k, v := range env {
		old, set := os.LookupEnv(k)
		saved[k] = prev{old, set}
		if v == "" {
			_ = os.Unsetenv(k)
		} else {
			_ = os.Setenv(k, v)
		}
	}
	return func() {
		for k, p := range saved {
			if p.set {
				_ = os.Setenv(k, p.val)
			} else {
				_ = os.Unsetenv(k)
			}
		}
	}
}

// serve starts an HTTPS server for h on 127.0.0.1:0.
func (c *CA) serve(ctx context.Context, h http.Handler) (*http.Server, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // TLS handshake noise from probes
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{c.tls.cert},
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return srv, "https://" + ln.Addr().String(), nil
}

// PersistIssuer is the issuer domain name the CA's dns-persist-01 challenges name.
func (c *CA) PersistIssuer() string { return c.persistIssuer }

// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
func (c *CA) DirectoryURL() string { return c.acmeURL + pebblewfe.DirectoryPath }

// ManagementURL is the base URL of Pebble's management interface (roots, intermediates,
// /set-renewal-info/), served on its own listener with the same TLS identity.
func (c *CA) ManagementURL() string { return c.mgmtURL }

// TLSRootsFile is the PEM file of the root that the CA's HTTPS certificates chain to.
func (c *CA) TLSRootsFile() string { return filepath.Join(c.dir, "tls-roots.pem") }

// IssuerRootsFile is the PEM file of the roots that issued certificates chain to.
func (c *CA) IssuerRootsFile() string { return filepath.Join(c.dir, "issuer-roots.pem") }

// TLSRoots returns a pool holding the root of the CA's HTTPS certificates.
func (c *CA) TLSRoots() *x509.CertPool { return c.tls.pool.Clone() }

// IssuerRoots returns a pool holding the roots that issued certificates chain to.
func (c *CA) IssuerRoots() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.issuerPEM) {
		return nil, errors.New("acmesim: issuer roots: no certificate in PEM")
	}
	return pool, nil
}

// HTTPClient returns a client that trusts the CA's HTTPS root. Clients share one
// transport, whose idle connections Close drops.
func (c *CA) HTTPClient() *http.Client {
	// No Client.Timeout: it costs a goroutine per request until the body is closed, and
	// some callers (lego) leave bodies open; bound requests with contexts instead.
	return &http.Client{Transport: c.transport}
}

// Close stops both listeners, drops open connections and, if Start made the directory,
// removes it. Pebble's VA goroutine stays (see the package comment). Close is idempotent.
func (c *CA) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, srv := range []*http.Server{c.acmeSrv, c.mgmtSrv} {
			if srv != nil {
				if err := srv.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if c.transport != nil {
			c.transport.CloseIdleConnections()
		}
		if c.removeDir {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			c.closeErr = fmt.Errorf("acmesim: close: %w", err)
		}
	})
	return c.closeErr
}
