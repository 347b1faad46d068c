package acme

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/certferry/certferry/certs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certcrypto"
	"go.uber.org/zap"

	"github.com/certferry/certferry/internal/logfield"
	"github.com/certferry/certferry/internal/retryafter"
	"github.com/certferry/certferry/internal/waitlog"
)

// Polling of authorizations and orders: the first check at once (right after the
// challenge answer or the finalize), then from pollStart, doubling up to pollMax, or
// longer when the CA's Retry-After asks for it (up to Config.MaxRetryAfter), always
// bounded by the call's context.
const (
	pollStart = 250 * time.Millisecond
	pollMax   = 5 * time.Second
)

// AbandonTimeout bounds the deactivation of an abandoned order's authorizations, which
// runs detached from the caller's cancellation: a runner stopped mid-order spends up to
// this long at the CA before its DNS-01 records' clean-up starts, so a runner's stop
// budget (a systemd unit's TimeoutStopSec, a Lambda's safety margin) must hold both.
const AbandonTimeout = 30 * time.Second

// DefaultMaxRetryAfter is Config.MaxRetryAfter's default.
const DefaultMaxRetryAfter = time.Minute

// Key types of OrderRequest.KeyType.
const (
	KeyEC256   = "ec256"
	KeyEC384   = "ec384"
	KeyRSA2048 = "rsa2048"
	KeyRSA3072 = "rsa3072"
	KeyRSA4096 = "rsa4096"
)

var keyTypes = map[string]certcrypto.KeyType{
	KeyEC256:   certcrypto.EC256,
	KeyEC384:   certcrypto.EC384,
	KeyRSA2048: certcrypto.RSA2048,
	KeyRSA3072: certcrypto.RSA3072,
	KeyRSA4096: certcrypto.RSA4096,
}

// OrderRequest is one certificate to order.
type OrderRequest struct {
	Name     string   // the certificate's name in the configuration (logs and errors)
	Domains  []string // DNS names, "*.example.com" for a wildcard; the first is the CN when at most 64 characters
	KeyType  string   // ec256 (the default when empty) | ec384 | rsa2048 | rsa3072 | rsa4096
	Profile  string   // ACME profile (draft-ietf-acme-profiles); empty: the CA's choice
	Replaces string   // ARI certificate ID of the certificate being renewed (RFC 9773 §5); may be empty
	// Challenge is ChallengeDNS01 (the default when empty) or ChallengeDNSPersist01:
	// then every authorization that offers dns-persist-01 is answered with it (its
	// record must be in place, naming PersistIssuer and the account), and those that
	// offer none fall back to dns-01 (Order.Fallback).
	Challenge     string
	PersistIssuer string // the issuer domain name the dns-persist-01 records name (Client.PersistIssuer)
	// StopIfReplaced: when the CA answers alreadyReplaced to Replaces, Begin fails with
	// an error matching ErrAlreadyReplaced instead of ordering again without Replaces
	// (lego's own retry): another runner probably renewed the certificate, and the
	// caller checks before a second order (docs/coordination.md).
	StopIfReplaced bool
	// Gate, when set, admits the new-order request (and only it: the authorizations are
	// read after it leaves). A pass uses it to send new orders one at a time and to
	// send none after the CA answered rateLimited (docs/pacing.md).
	Gate NewOrderGate
}

// NewOrderGate admits new-order requests. Enter blocks until the request may go, or
// returns the error to fail the order with instead (the CA refused an earlier one);
// Leave is called once after every successful Enter with the request's outcome (nil, or
// the classified error: a *RateLimitedError for rateLimited).
type NewOrderGate interface {
	Enter(ctx context.Context) error
	Leave(err error)
}

// Challenge is one TXT record to present for a dns-01 challenge.
type Challenge struct {
	Domain string // the identifier, "*.example.com" for a wildcard
	FQDN   string // "_acme-challenge.example.com." (the same for a name and its wildcard)
	Value  string // the TXT value
}

// Order is an order begun by Begin, to be finished by Complete or Abandon. Challenges
// lists only the authorizations that are not already valid: it is empty when the CA
// reused valid authorizations for every name.
type Order struct {
	Request    OrderRequest
	URL        string
	Challenges []Challenge
	// ReplacesRefused is true when the CA answered alreadyReplaced (or unauthorized: the
	// certificate was issued to another account) to Request.Replaces and the order was
	// placed again without it.
	ReplacesRefused bool
	// Fallback lists the names whose authorization offered no dns-persist-01 although
	// Request.Challenge asked for it: they are answered with dns-01, their records are
	// in Challenges.
	Fallback []string

	finalizeURL string
	authzs      []orderAuthz
	abandoned   atomic.Bool
}

type orderAuthz struct {
	url          string
	domain       string // as in Challenge.Domain
	status       string // as fetched by Begin
	challengeURL string // dns-01 or dns-persist-01; empty when valid
	challengeSt  string
	persist      bool // answered with dns-persist-01: no record to present
	challenge    Challenge
}

// Certificate is an issued certificate and its new private key.
type Certificate struct {
	Domains      []string
	FullchainPEM []byte              // leaf, then the intermediates
	Key          certs.PrivateKeyPEM // the certificate's key; never written anywhere by this package
	URL          string              // the certificate's URL at the CA
	ARIID        string              // its ARI certificate ID, for the next renewal's Replaces
	NotBefore    time.Time
	NotAfter     time.Time
}

// newOrder sends the new-order request through req.Gate. refusedReplaces: the CA
// refused replaces for this account and the order was placed without it. The error is
// classified.
func (c *Client) newOrder(ctx context.Context, core *api.Core, ct *callTransport, req OrderRequest, log *zap.Logger) (ext legoacme.ExtendedOrder, refusedReplaces bool, err error) {
	if req.Gate != nil {
		if err := req.Gate.Enter(ctx); err != nil {
			return ext, false, err
		}
		defer func() { req.Gate.Leave(err) }()
	}
	ext, err = core.Orders.NewWithOptions(req.Domains, &api.OrderOptions{Profile: req.Profile, ReplacesCertID: req.Replaces})
	if err != nil && req.Replaces != "" && errors.Is(ct.classify(err), ErrUnauthorized) {
		// The certificate named in replaces was issued to another account (the account
		// was deactivated and replaced, or the directory URL changed): order without it.
		log.Warn("the CA refused replaces for this account; ordering again without it", zap.String("replaces", req.Replaces), zap.Error(ct.classify(err)))
		ext, err = core.Orders.NewWithOptions(req.Domains, &api.OrderOptions{Profile: req.Profile})
		refusedReplaces = err == nil
	}
	if err != nil {
		return ext, false, ct.classify(err)
	}
	return ext, refusedReplaces, nil
}

// Begin places a new order and returns the dns-01 records to present. When the CA
// answers alreadyReplaced to Request.Replaces, the order is placed once more without
// Replaces (lego's api does that retry) and Order.ReplacesRefused says so. When Begin
// fails after the order exists, it deactivates the order's pending authorizations.
//
// When the CA answers that it no longer knows the account (accountDoesNotExist, or the
// account deactivated by someone else), the account is replaced once and the order
// placed again (replace.go).
func (c *Client) Begin(ctx context.Context, req OrderRequest) (*Order, error) {
	used := c.AccountURL()
	o, err := c.begin(ctx, req)
	if err == nil || !accountGone(err) {
		return o, err
	}
	if rerr := c.replaceAccount(ctx, used, err); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return c.begin(ctx, req)
}

// begin is Begin with the account it has.
func (c *Client) begin(ctx context.Context, req OrderRequest) (*Order, error) {
	if _, err := keyTypeOf(req.KeyType); err != nil {
		return nil, fmt.Errorf("acme: begin order %s: %w", req.Name, err)
	}
	if len(req.Domains) == 0 {
		return nil, fmt.Errorf("acme: begin order %s: no domains", req.Name)
	}
	persist, err := persistRequested(req)
	if err != nil {
		return nil, fmt.Errorf("acme: begin order %s: %w", req.Name, err)
	}
	log := c.log.With(zap.String("cert", req.Name), zap.Strings("domains", req.Domains))

	core, ct, err := c.newCore(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: begin order %s: %w", req.Name, err)
	}
	ct.keepBodies = persist
	if req.StopIfReplaced && req.Replaces != "" {
		ct.stopReplaced = core.GetDirectory().NewOrderURL
	}
	if req.Replaces != "" && core.GetDirectory().RenewalInfo == "" {
		log.Debug("the CA offers no ARI; ordering without replaces")
	}
	ext, refusedReplaces, err := c.newOrder(ctx, core, ct, req, log)
	if err != nil {
		return nil, fmt.Errorf("acme: begin order %s: new order: %w", req.Name, err)
	}
	o := &Order{Request: req, URL: ext.Location, finalizeURL: ext.Finalize, ReplacesRefused: refusedReplaces}
	o.Request.Domains = slices.Clone(req.Domains)
	if req.Replaces != "" && ct.answered(core.GetDirectory().NewOrderURL, ProblemAlreadyReplaced) {
		o.ReplacesRefused = true
		log.Warn("the CA answered alreadyReplaced; ordered again without replaces", zap.String("replaces", req.Replaces))
	}
	if o.URL == "" || o.finalizeURL == "" {
		return nil, fmt.Errorf("acme: begin order %s: the CA's order has no URL or no finalize URL", req.Name)
	}

	o.authzs = make([]orderAuthz, len(ext.Authorizations))
	errs := make([]error, len(ext.Authorizations))
	var wg sync.WaitGroup
	for i, u := range ext.Authorizations {
		wg.Go(func() {
			o.authzs[i].url = u
			errs[i] = c.readAuthz(core, ct, req, &o.authzs[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if aerr := c.Abandon(ctx, o); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return nil, fmt.Errorf("acme: begin order %s: %w", req.Name, err)
	}
	// In the order of Request.Domains (CAs list authorizations in any order).
	slices.SortStableFunc(o.authzs, func(a, b orderAuthz) int {
		return domainIndex(req.Domains, a.domain) - domainIndex(req.Domains, b.domain)
	})
	for _, a := range o.authzs {
		if a.status == legoacme.StatusPending && !a.persist {
			o.Challenges = append(o.Challenges, a.challenge)
			if persist {
				o.Fallback = append(o.Fallback, a.domain)
			}
		}
	}
	log.Debug("order placed", zap.String("order", o.URL), zap.Int("challenges", len(o.Challenges)))
	return o, nil
}

// readAuthz fetches a's authorization and fills in its status and the challenge to
// answer: dns-persist-01 when req asks for it and the CA offers it, dns-01 otherwise.
func (c *Client) readAuthz(core *api.Core, ct *callTransport, req OrderRequest, a *orderAuthz) error {
	authz, err := core.Authorizations.Get(a.url)
	if err != nil {
		return fmt.Errorf("get authorization %s: %w", a.url, ct.classify(err))
	}
	a.domain = authz.Identifier.Value
	if authz.Wildcard {
		a.domain = "*." + a.domain
	}
	a.status = authz.Status
	switch authz.Status {
	case legoacme.StatusValid:
		return nil
	case legoacme.StatusPending:
	default:
		return fmt.Errorf("authorization for %s is %s", a.domain, authz.Status)
	}
	if req.Challenge == ChallengeDNSPersist01 {
		if ok, err := choosePersist(ct.keptBody(a.url), a, req.PersistIssuer, c.AccountURL()); ok || err != nil {
			return err
		}
	}
	for _, ch := range authz.Challenges {
		if ch.Type == "dns-01" {
			a.challengeURL, a.challengeSt = ch.URL, ch.Status
			keyAuth, err := core.GetKeyAuthorization(ch.Token)
			if err != nil {
				return fmt.Errorf("key authorization for %s: %w", a.domain, err)
			}
			a.challenge = Challenge{
				Domain: a.domain,
				FQDN:   "_acme-challenge." + strings.TrimSuffix(authz.Identifier.Value, ".") + ".",
				Value:  txtValue(keyAuth),
			}
			return nil
		}
	}
	return fmt.Errorf("the CA offers no dns-01 challenge for %s", a.domain)
}

func domainIndex(domains []string, d string) int {
	if i := slices.Index(domains, d); i >= 0 {
		return i
	}
	return len(domains)
}

// txtValue is the dns-01 TXT value of a key authorization (RFC 8555 §8.4).
func txtValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func keyTypeOf(s string) (certcrypto.KeyType, error) {
	if s == "" {
		return certcrypto.EC256, nil
	}
	kt, ok := keyTypes[s]
	if !ok {
		return "", fmt.Errorf("unknown key type %q (want ec256, ec384, rsa2048, rsa3072 or rsa4096)", s)
	}
	return kt, nil
}

// Complete answers every pending challenge of o at once, waits for the authorizations,
// then generates the certificate's key (in memory only), finalizes with a CSR, waits for
// the order and downloads the full chain. The records of o.Challenges must be visible
// to the CA before Complete is called. When an authorization fails or ctx ends first,
// the authorizations still pending are deactivated (under a fresh 30-second timeout, so
// this happens even when ctx is cancelled).
func (c *Client) Complete(ctx context.Context, o *Order) (*Certificate, error) {
	name := o.Request.Name
	kt, err := keyTypeOf(o.Request.KeyType)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: %w", name, err)
	}
	if o.abandoned.Load() {
		return nil, fmt.Errorf("acme: complete order %s: the order was abandoned", name)
	}
	log := c.log.With(zap.String("cert", name), zap.String("order", o.URL))

	if err := c.validate(ctx, o, log); err != nil {
		return nil, fmt.Errorf("acme: complete order %s: %w", name, err)
	}

	core, ct, err := c.newCore(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: %w", name, err)
	}
	key, err := certcrypto.GeneratePrivateKey(kt)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: generate key: %w", name, err)
	}
	cn := ""
	if d := o.Request.Domains[0]; len(d) <= 64 {
		cn = d
	}
	csr, err := certcrypto.CreateCSR(key, certcrypto.CSROptions{Domain: cn, SAN: o.Request.Domains})
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: create CSR: %w", name, err)
	}

	if _, err := core.Orders.UpdateForCSR(o.finalizeURL, csr); err != nil {
		err = ct.classify(err)
		if pe, ok := errors.AsType[*ProblemError](err); !ok || pe.Type != ProblemOrderNotReady {
			return nil, fmt.Errorf("acme: complete order %s: finalize: %w", name, err)
		}
		// The CA has not yet noticed that the last authorization is valid.
		if err := c.pollOrder(ctx, core, ct, o.URL, legoacme.StatusReady, log); err != nil {
			return nil, fmt.Errorf("acme: complete order %s: wait until ready: %w", name, err)
		}
		if _, err := core.Orders.UpdateForCSR(o.finalizeURL, csr); err != nil {
			return nil, fmt.Errorf("acme: complete order %s: finalize: %w", name, ct.classify(err))
		}
	}
	certURL, err := c.waitIssued(ctx, core, ct, o.URL, log)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: %w", name, err)
	}
	chain, _, err := core.Certificates.Get(certURL, true)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: download certificate: %w", name, ct.classify(err))
	}
	cert, err := newCertificate(o.Request.Domains, chain, key, certURL)
	if err != nil {
		return nil, fmt.Errorf("acme: complete order %s: %w", name, err)
	}
	if cert.ARIID == "" {
		log.Debug("the issued certificate has no ARI certificate ID (no authority key identifier): its renewal will not use ARI",
			zap.Strings("domains", cert.Domains))
	}
	log.Info("certificate issued", zap.Strings("domains", cert.Domains),
		zap.Time("not_after", cert.NotAfter), logfield.Duration("lifetime", cert.NotAfter.Sub(cert.NotBefore)), zap.String("ari_id", cert.ARIID))
	return cert, nil
}

// waitIssued polls the finalized order until it is valid, and returns its certificate
// URL.
func (c *Client) waitIssued(ctx context.Context, core *api.Core, ct *callTransport, orderURL string, log *zap.Logger) (string, error) {
	var certURL string
	err := c.poll(ctx, ct, orderURL, log, "waiting for the CA to issue the certificate", func() (bool, error) {
		ord, err := core.Orders.Get(orderURL)
		if err != nil {
			return false, ct.classify(err)
		}
		switch ord.Status {
		case legoacme.StatusValid:
			certURL = ord.Certificate
			return true, nil
		case legoacme.StatusInvalid:
			return false, orderProblem(ord.Order)
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("wait for issuance: %w", err)
	}
	if certURL == "" {
		return "", errors.New("the valid order has no certificate URL")
	}
	return certURL, nil
}

// validate answers o's pending challenges concurrently and waits until every
// authorization is valid. On failure it deactivates those still pending.
func (c *Client) validate(ctx context.Context, o *Order, log *zap.Logger) error {
	var pending []int
	for i, a := range o.authzs {
		if a.status != legoacme.StatusValid {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	core, ct, err := c.newCore(gctx)
	if err != nil {
		return err
	}
	final := make([]string, len(o.authzs)) // status each authorization ended in
	errs := make([]error, len(o.authzs))
	var wg sync.WaitGroup
	for _, i := range pending {
		wg.Go(func() {
			final[i], errs[i] = c.validateOne(gctx, core, ct, o.authzs[i], log)
			if errs[i] != nil {
				cancel() // no point waiting for the others
			}
		})
	}
	wg.Wait()
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The siblings' errors are only the cancellation: report it once.
		errs = []error{ctxErr}
	} else {
		errs = slices.DeleteFunc(errs, func(err error) bool { return err == nil || errors.Is(err, context.Canceled) })
	}
	if len(errs) == 0 {
		return nil
	}
	var stillPending []string
	for _, i := range pending {
		if final[i] != legoacme.StatusValid && final[i] != legoacme.StatusInvalid {
			stillPending = append(stillPending, o.authzs[i].url)
		}
	}
	if derr := c.deactivate(ctx, stillPending, log); derr != nil {
		errs = append(errs, derr)
	}
	return errors.Join(errs...)
}

// validateOne answers a's challenge and polls a until it is valid or invalid. It
// returns the last status seen.
func (c *Client) validateOne(ctx context.Context, core *api.Core, ct *callTransport, a orderAuthz, log *zap.Logger) (string, error) {
	if a.challengeSt == legoacme.StatusPending {
		if _, err := core.Challenges.New(a.challengeURL); err != nil {
			return a.status, fmt.Errorf("answer challenge for %s: %w", a.domain, ct.classify(err))
		}
	}
	status := a.status
	kind := ChallengeDNS01
	if a.persist {
		kind = ChallengeDNSPersist01
	}
	err := c.poll(ctx, ct, a.url, log.With(zap.String("domain", a.domain)), "waiting for the CA to validate the "+kind+" challenge", func() (bool, error) {
		authz, err := core.Authorizations.Get(a.url)
		if err != nil {
			return false, ct.classify(err)
		}
		status = authz.Status
		switch authz.Status {
		case legoacme.StatusValid:
			return true, nil
		case legoacme.StatusPending:
			return false, nil
		case legoacme.StatusInvalid:
			return false, authzProblem(authz)
		default:
			return false, fmt.Errorf("authorization is %s", authz.Status)
		}
	})
	if err != nil {
		return status, fmt.Errorf("validate %s: %w", a.domain, err)
	}
	return status, nil
}

// Abandon deactivates o's pending authorizations, so that they cannot be validated
// later (use it when presenting the records failed); Complete then refuses o. It runs even when ctx is already
// cancelled: it keeps ctx's values, drops its cancellation, and is bounded by its own
// 30-second timeout.
func (c *Client) Abandon(ctx context.Context, o *Order) error {
	o.abandoned.Store(true)
	var urls []string
	for _, a := range o.authzs {
		if a.status == legoacme.StatusPending {
			urls = append(urls, a.url)
		}
	}
	if err := c.deactivate(ctx, urls, c.log.With(zap.String("cert", o.Request.Name), zap.String("order", o.URL))); err != nil {
		return fmt.Errorf("acme: abandon order %s: %w", o.Request.Name, err)
	}
	return nil
}

// deactivate deactivates the authorizations at urls, concurrently, under a context
// detached from ctx's cancellation with its own timeout.
func (c *Client) deactivate(ctx context.Context, urls []string, log *zap.Logger) error {
	if len(urls) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AbandonTimeout)
	defer cancel()
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return fmt.Errorf("deactivate authorizations: %w", err)
	}
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			if err := core.Authorizations.Deactivate(u); err != nil {
				errs[i] = fmt.Errorf("deactivate authorization %s: %w", u, ct.classify(err))
			}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	if err != nil {
		log.Warn("deactivating authorizations failed", zap.Error(err))
	} else {
		log.Debug("deactivated pending authorizations", zap.Int("count", len(urls)))
	}
	return err
}

// pollOrder polls the order at url until its status is want (or invalid: an error).
func (c *Client) pollOrder(ctx context.Context, core *api.Core, ct *callTransport, url, want string, log *zap.Logger) error {
	return c.poll(ctx, ct, url, log, "waiting for the order to be "+want, func() (bool, error) {
		ord, err := core.Orders.Get(url)
		if err != nil {
			return false, ct.classify(err)
		}
		if ord.Status == legoacme.StatusInvalid {
			return false, orderProblem(ord.Order)
		}
		return ord.Status == want, nil
	})
}

// poll calls check until it reports done or fails: at once, then after pollStart,
// doubling up to pollMax, or after the Retry-After of url's latest response when that
// is longer (at most c.maxRetryAfter). ctx bounds the whole. A wait that lasts is
// reported at info level on log as msg (internal/waitlog).
func (c *Client) poll(ctx context.Context, ct *callTransport, url string, log *zap.Logger, msg string, check func() (bool, error)) error {
	deadline, _ := ctx.Deadline()
	progress := waitlog.New(log, msg, deadline, c.now)
	delay := pollStart
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		wait := c.pollWait(delay, ct.lastRetryAfter(url))
		progress.Before(wait, zap.String("url", url))
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
		delay = min(2*delay, pollMax)
	}
}

// pollWait is the pause before the next check: delay, or the CA's Retry-After when
// that is longer, capped at c.maxRetryAfter.
func (c *Client) pollWait(delay time.Duration, retryAfter string) time.Duration {
	if ra := retryafter.Parse(retryAfter, c.now()); ra > delay {
		return min(ra, c.maxRetryAfter)
	}
	return delay
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func authzProblem(authz legoacme.Authorization) error {
	for _, ch := range authz.Challenges {
		if ch.Error != nil {
			return problemFromLego(ch.Error, nil)
		}
	}
	return errors.New("authorization is invalid (the CA gave no reason)")
}

func orderProblem(ord legoacme.Order) error {
	if ord.Error != nil {
		return problemFromLego(ord.Error, nil)
	}
	return errors.New("order is invalid (the CA gave no reason)")
}

// newCertificate checks the downloaded chain against the request and the key.
func newCertificate(domains []string, chain []byte, key crypto.PrivateKey, url string) (*Certificate, error) {
	block, _ := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the CA sent no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the issued certificate: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("the generated key is not a signer")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, errors.New("the issued certificate is not for the generated key")
	}
	for _, d := range domains {
		if !slices.Contains(leaf.DNSNames, d) {
			return nil, fmt.Errorf("the issued certificate does not name %s", d)
		}
	}
	// ARI is optional: a leaf without an authority key identifier has no ARI ID, and
	// its renewal is scheduled without ARI (the caller logs it).
	ariID, _ := CertID(leaf)
	if len(chain) > 0 && chain[len(chain)-1] != '\n' {
		chain = append(chain, '\n')
	}
	return &Certificate{
		Domains:      slices.Clone(domains),
		FullchainPEM: chain,
		Key:          certs.NewPrivateKeyPEM(certcrypto.PEMEncode(key)),
		URL:          url,
		ARIID:        ariID,
		NotBefore:    leaf.NotBefore,
		NotAfter:     leaf.NotAfter,
	}, nil
}
