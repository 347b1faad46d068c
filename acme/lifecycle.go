package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/certferry/certferry/certs"
	"io"
	"net/http"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certcrypto"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// RevocationReason is a CRL reason code (RFC 5280 §5.3.1) sent with a revocation.
type RevocationReason uint

// The reasons an ACME client may give (Let's Encrypt accepts these and unspecified).
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
)

var reasonNames = map[RevocationReason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
}

// String is the reason's RFC 5280 name (keyCompromise, superseded, ...).
func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", uint(r))
}

// ParseRevocationReason parses an RFC 5280 reason name, case-insensitively.
func ParseRevocationReason(s string) (RevocationReason, error) {
	for r, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("revocation reason %q: want one of unspecified, keyCompromise, superseded, cessationOfOperation, affiliationChanged", s)
}

// AccountInfo describes the account as the store and the CA know it.
type AccountInfo struct {
	Directory string   `json:"directory"`
	KID       string   `json:"eab_kid,omitempty"`
	URL       string   `json:"url"`
	Email     string   `json:"email,omitempty"` // the stored contact
	Status    string   `json:"status"`          // the CA's: valid, deactivated, revoked
	Contact   []string `json:"contact"`         // the CA's
	KeyType   string   `json:"key_type"`
	// KeyThumbprint is the RFC 7638 thumbprint of the account key (base64url), to tell
	// keys apart without showing them.
	KeyThumbprint string `json:"key_thumbprint"`
}

func (c *Client) snapshot() (Account, crypto.PrivateKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.account, c.key
}

// Holds reports whether a is the account c uses, with the same key and not
// deactivated: false means the store changed under c (a rollover or deactivation by
// another process) and c should be opened again.
func (c *Client) Holds(a *Account) bool {
	acct, _ := c.snapshot()
	return a != nil && !a.Deactivated && a.URL == acct.URL && a.Key.Equal(acct.Key) && a.Directory == acct.Directory
}

// Info asks the CA for the account (a POST-as-GET of its URL).
func (c *Client) Info(ctx context.Context) (AccountInfo, error) {
	acct, key := c.snapshot()
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return AccountInfo{}, fmt.Errorf("acme: account %s: %w", acct.URL, err)
	}
	got, err := core.Accounts.Get(acct.URL)
	if err != nil {
		return AccountInfo{}, fmt.Errorf("acme: account %s: %w", acct.URL, ct.classify(err))
	}
	tp, _ := (&jose.JSONWebKey{Key: publicKey(key)}).Thumbprint(crypto.SHA256)
	return AccountInfo{
		Directory: acct.Directory, KID: acct.KID, URL: acct.URL, Email: acct.Email,
		Status: got.Status, Contact: got.Contact, KeyType: keyTypeName(key),
		KeyThumbprint: base64.RawURLEncoding.EncodeToString(tp),
	}, nil
}

// UpdateEmail replaces the account's contact at the CA (RFC 8555 §7.3.2) with
// mailto:email (no contact when email is empty), then in the store.
func (c *Client) UpdateEmail(ctx context.Context, email string) error {
	acct, _ := c.snapshot()
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return fmt.Errorf("acme: update account %s: %w", acct.URL, err)
	}
	contact := []string{}
	if email != "" {
		contact = []string{"mailto:" + email}
	}
	if _, err := core.Accounts.Update(acct.URL, legoacme.Account{Contact: contact}); err != nil {
		return fmt.Errorf("acme: update account %s: %w", acct.URL, ct.classify(err))
	}
	want := acct
	acct.Email = email
	if err := c.store.UpdateIf(ctx, &acct, unchanged(want)); err != nil {
		return fmt.Errorf("acme: update account %s: the CA has the new contact, the store does not: %w", acct.URL, err)
	}
	c.mu.Lock()
	c.account.Email = email
	c.mu.Unlock()
	c.log.Info("updated the ACME account's contact", zap.String("account", acct.URL), zap.String("email", email))
	return nil
}

// unchanged is an UpdateIf check: the stored account still has want's keys, so a write
// derived from want loses nothing (a rollover's next key stored meanwhile, say).
func unchanged(want Account) func(*Account) error {
	return func(cur *Account) error {
		if cur == nil || !cur.Key.Equal(want.Key) || !cur.NextKey.Equal(want.NextKey) {
			return errors.New("the stored account changed since it was loaded (a key rollover?); run again")
		}
		return nil
	}
}

// Deactivate deactivates the account at the CA (RFC 8555 §7.3.6: permanent, the CA
// refuses it from then on) and marks it deactivated in the store, so that the next
// runner registers a new account instead of using it.
func (c *Client) Deactivate(ctx context.Context) error {
	acct, _ := c.snapshot()
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return fmt.Errorf("acme: deactivate account %s: %w", acct.URL, err)
	}
	if err := core.Accounts.Deactivate(acct.URL); err != nil {
		return fmt.Errorf("acme: deactivate account %s: %w", acct.URL, ct.classify(err))
	}
	want := acct
	acct.Deactivated = true
	if err := c.store.UpdateIf(ctx, &acct, unchanged(want)); err != nil {
		return fmt.Errorf("acme: deactivate account %s: deactivated at the CA, not marked in the store: %w", acct.URL, err)
	}
	c.mu.Lock()
	c.account.Deactivated = true
	c.mu.Unlock()
	c.log.Warn("deactivated the ACME account", zap.String("account", acct.URL))
	return nil
}

// Rollover replaces the account key (RFC 8555 §7.3.5, keyChange) with a new P-256 key.
//
// The new key is first stored as the account's NextKey, then the CA is asked to switch,
// then the new key is promoted in the store. A crash or a failure between two steps
// leaves an account that New can use: it tries the stored key, and when the CA refuses
// it, the next key, which it then promotes. Only when the CA refused the change itself
// is the next key dropped.
//
// Every store write is conditional (AccountStore.UpdateIf) on what this rollover
// expects, so two rollovers started at once (on two hosts) never overwrite each other's
// keys: the second finds the first's NextKey and stops, unless that one is older than
// rolloverStale and the CA still has the stored key (an interrupted rollover).
func (c *Client) Rollover(ctx context.Context) error {
	acct, oldKey := c.snapshot()
	if acct.URL == "" {
		return errors.New("acme: rollover: the account is not registered")
	}
	stored, err := c.store.Load(ctx, acct.Directory, acct.KID)
	if err != nil {
		return fmt.Errorf("acme: rollover: %w", err)
	}
	if !stored.NextKey.IsZero() {
		// An earlier rollover left its next key: settle which key the CA has first.
		c.mu.Lock()
		c.account.NextKey, c.account.NextKeyAt = stored.NextKey, stored.NextKeyAt
		c.mu.Unlock()
		if err := c.finishRollover(ctx); err != nil {
			return fmt.Errorf("acme: rollover: %w", err)
		}
		acct, oldKey = c.snapshot()
		if !acct.NextKey.IsZero() { // the CA still has the stored key
			if since := c.now().Sub(stored.NextKeyAt); since < rolloverStale {
				return fmt.Errorf("acme: rollover: another rollover stored its new key %s ago and may still be under way; try again after %s",
					since.Round(time.Second), stored.NextKeyAt.Add(rolloverStale).UTC().Format(time.RFC3339))
			}
			c.log.Info("dropping the next key of an interrupted rollover (the CA never switched to it)", zap.Time("stored_at", stored.NextKeyAt))
		}
	} else if !stored.Key.Equal(acct.Key) {
		return errors.New("acme: rollover: the stored account changed since it was loaded (a rollover elsewhere?); run again")
	}
	prevNext := acct.NextKey
	newKey, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		return fmt.Errorf("acme: rollover: generate the new key: %w", err)
	}
	newPEM := certs.NewPrivateKeyPEM(certcrypto.PEMEncode(newKey))
	next := acct
	next.NextKey, next.NextKeyAt = newPEM, c.now()
	if err := c.store.UpdateIf(ctx, &next, func(cur *Account) error {
		if cur == nil || !cur.Key.Equal(acct.Key) || !cur.NextKey.Equal(prevNext) {
			return errors.New("the stored account changed meanwhile (another rollover?); run again")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("acme: rollover: store the new key: %w", err)
	}
	if err := c.keyChange(ctx, acct.URL, oldKey, newKey); err != nil {
		if pe, ok := errors.AsType[*ProblemError](err); ok && pe.Status >= 400 && pe.Status < 500 && pe.Type != ProblemBadNonce {
			// Refused: the CA still has the old key; our next key goes, if still ours.
			back := acct
			back.NextKey, back.NextKeyAt = certs.PrivateKeyPEM{}, time.Time{}
			if uerr := c.store.UpdateIf(ctx, &back, func(cur *Account) error {
				if cur == nil || !cur.Key.Equal(acct.Key) || !cur.NextKey.Equal(newPEM) {
					return errors.New("the stored account changed meanwhile")
				}
				return nil
			}); uerr != nil {
				err = errors.Join(err, fmt.Errorf("drop the refused key from the store: %w", uerr))
			}
		}
		return fmt.Errorf("acme: rollover %s: %w", acct.URL, err)
	}
	if err := c.promote(ctx, acct, newKey); err != nil {
		return fmt.Errorf("acme: rollover %s: the CA has the new key; %w (the next start promotes it)", acct.URL, err)
	}
	c.log.Info("rolled the ACME account key over", zap.String("account", acct.URL))
	return nil
}

// rolloverStale is how long a stored next key is taken for a rollover under way, while
// the CA still has the current key; after it, for one that was interrupted.
const rolloverStale = 10 * time.Minute

// promote makes key the account's key in the store and in c. old is the account as it
// was before the rollover; the store is written only if it still holds old's key with
// key as the next key (or already holds key: another process promoted it).
func (c *Client) promote(ctx context.Context, old Account, key crypto.PrivateKey) error {
	keyPEM := certs.NewPrivateKeyPEM(certcrypto.PEMEncode(key))
	acct := old
	acct.Key, acct.NextKey, acct.NextKeyAt = keyPEM, certs.PrivateKeyPEM{}, time.Time{}
	err := c.store.UpdateIf(ctx, &acct, func(cur *Account) error {
		switch {
		case cur != nil && cur.Key.Equal(keyPEM):
			return errAlreadyPromoted
		case cur == nil || !cur.Key.Equal(old.Key):
			return errors.New("the stored account changed meanwhile")
		}
		return nil
	})
	if err != nil && !errors.Is(err, errAlreadyPromoted) {
		return fmt.Errorf("store the new key: %w", err)
	}
	c.mu.Lock()
	c.account, c.key = acct, key
	c.mu.Unlock()
	c.transport.setAccountKey(key)
	return nil
}

var errAlreadyPromoted = errors.New("already promoted")

// finishRollover settles an interrupted rollover: when the CA still accepts the stored
// key, it is kept (the NextKey stays: a rollover may be under way in another process,
// and its key must not be lost); when the CA refuses it but accepts the next key, the
// next key is promoted.
func (c *Client) finishRollover(ctx context.Context) error {
	acct, _ := c.snapshot()
	errOld := c.probeKey(ctx, c.transport, acct.URL)
	if errOld == nil {
		return nil
	}
	if pe, ok := errors.AsType[*ProblemError](errOld); !ok || pe.Status < 400 || pe.Status >= 500 {
		return fmt.Errorf("check the account key: %w", errOld)
	}
	next, err := certcrypto.ParsePEMPrivateKey(acct.NextKey.Bytes())
	if err != nil {
		return fmt.Errorf("parse the stored next account key: %w", err)
	}
	tr := newSharedTransport(c.httpBase, RateLimits{}, 0, c.dirURL, c.log, c.now)
	tr.onRequest = c.transport.onRequest
	tr.setAccountKey(next)
	if err := c.probeKeyWith(ctx, tr, acct.URL, next); err != nil {
		return fmt.Errorf("the CA refuses both stored account keys: %w", errors.Join(errOld, err))
	}
	c.log.Info("finishing an interrupted account key rollover: the CA has the new key", zap.String("account", acct.URL))
	return c.promote(ctx, acct, next)
}

func (c *Client) probeKey(ctx context.Context, tr *sharedTransport, url string) error {
	_, key := c.snapshot()
	return c.probeKeyWith(ctx, tr, url, key)
}

// probeKeyWith fetches the account signed with key, over tr.
func (c *Client) probeKeyWith(ctx context.Context, tr *sharedTransport, url string, key crypto.PrivateKey) error {
	ct := tr.call(ctx, c.log)
	core, err := api.New(&http.Client{Transport: ct, Timeout: c.timeout}, c.userAgent, c.dirURL, url, key)
	if err != nil {
		return ct.classify(err)
	}
	if _, err := core.Accounts.Get(url); err != nil {
		return ct.classify(err)
	}
	return nil
}

// keyChange sends RFC 8555 §7.3.5's nested JWS: the inner one signed by the new key
// (jwk header) over {"account", "oldKey"}, the outer one signed by the account's key.
// lego's api has no keyChange call, so both are built with go-jose, as lego builds its
// own JWS; the request goes through the Client's transport (nonce pool, rate limit,
// badNonce retries signed with the old key, which signs the outer JWS).
func (c *Client) keyChange(ctx context.Context, acctURL string, oldKey, newKey crypto.PrivateKey) error {
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return err
	}
	dir := core.GetDirectory()
	if dir.KeyChangeURL == "" {
		return errors.New("the CA's directory has no keyChange")
	}
	inner, err := json.Marshal(struct {
		Account string          `json:"account"`
		OldKey  jose.JSONWebKey `json:"oldKey"`
	}{acctURL, jose.JSONWebKey{Key: publicKey(oldKey)}})
	if err != nil {
		return err
	}
	innerAlg, err := jwsAlg(newKey)
	if err != nil {
		return err
	}
	innerSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: innerAlg, Key: newKey},
		&jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"url": dir.KeyChangeURL}})
	if err != nil {
		return err
	}
	innerJWS, err := innerSigner.Sign(inner)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: ct, Timeout: c.timeout}
	outerAlg, err := jwsAlg(oldKey)
	if err != nil {
		return err
	}
	outerSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: outerAlg, Key: jose.JSONWebKey{Key: oldKey, KeyID: acctURL}},
		&jose.SignerOptions{NonceSource: &nonceSource{ctx: ctx, hc: hc, url: dir.NewNonceURL},
			ExtraHeaders: map[jose.HeaderKey]any{"url": dir.KeyChangeURL}})
	if err != nil {
		return err
	}
	outerJWS, err := outerSigner.Sign([]byte(innerJWS.FullSerialize()))
	if err != nil {
		return ct.classify(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dir.KeyChangeURL, strings.NewReader(outerJWS.FullSerialize()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/jose+json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return ct.classify(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var pd legoacme.ProblemDetails
	if json.Unmarshal(body, &pd) != nil || pd.Type == "" {
		return fmt.Errorf("keyChange: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	pd.HTTPStatus = resp.StatusCode
	return problemFromLego(&pd, nil)
}

// nonceSource gets a fresh nonce for go-jose from the CA's newNonce (the Client's
// transport answers from its pool when it can).
type nonceSource struct {
	ctx context.Context
	hc  *http.Client
	url string
}

func (n *nonceSource) Nonce() (string, error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodHead, n.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := n.hc.Do(req)
	if err != nil {
		return "", err
	}
	_ = resp.Body.Close()
	nonce := resp.Header.Get("Replay-Nonce")
	if nonce == "" {
		return "", fmt.Errorf("newNonce: HTTP %d without a Replay-Nonce", resp.StatusCode)
	}
	return nonce, nil
}

func jwsAlg(key crypto.PrivateKey) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return jose.RS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
	}
	return "", fmt.Errorf("unsupported account key type %T", key)
}

func publicKey(key crypto.PrivateKey) crypto.PublicKey {
	if s, ok := key.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}

func keyTypeName(key crypto.PrivateKey) string {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return "ec" + fmt.Sprint(k.Curve.Params().BitSize)
	case *rsa.PrivateKey:
		return "rsa" + fmt.Sprint(k.N.BitLen())
	}
	return fmt.Sprintf("%T", key)
}

// Revoke revokes cert (DER) signed with the account's key (RFC 8555 §7.6): the account
// must be the one that ordered it, or hold authorizations for all its names.
func (c *Client) Revoke(ctx context.Context, cert []byte, reason RevocationReason) error {
	core, ct, err := c.newCore(ctx)
	if err != nil {
		return fmt.Errorf("acme: revoke: %w", err)
	}
	if err := c.revoke(core, cert, reason); err != nil {
		return fmt.Errorf("acme: revoke serial %s: %w", serialOf(cert), ct.classify(err))
	}
	c.log.Info("revoked a certificate", zap.String("serial", serialOf(cert)), zap.String("reason", reason.String()), zap.String("signed_with", "account key"))
	return nil
}

// RevokeWithCertKey revokes cert (DER) with a request signed by the certificate's own
// key (RFC 8555 §7.6: a JWS with the key in its jwk header), which proves possession of
// the key without any account: the way to report a compromised key.
func (c *Client) RevokeWithCertKey(ctx context.Context, cert []byte, key crypto.PrivateKey, reason RevocationReason) error {
	if _, err := jwsAlg(key); err != nil {
		return fmt.Errorf("acme: revoke serial %s with its key: %w", serialOf(cert), err)
	}
	// A transport of its own: its badNonce retries must sign with the certificate key.
	tr := newSharedTransport(c.httpBase, RateLimits{}, 0, c.dirURL, c.log, c.now)
	tr.onRequest = c.transport.onRequest
	tr.setAccountKey(key)
	ct := tr.call(ctx, c.log)
	core, err := api.New(&http.Client{Transport: ct, Timeout: c.timeout}, c.userAgent, c.dirURL, "", key)
	if err != nil {
		return fmt.Errorf("acme: revoke serial %s with its key: %w", serialOf(cert), ct.classify(err))
	}
	if err := c.revoke(core, cert, reason); err != nil {
		return fmt.Errorf("acme: revoke serial %s with its key: %w", serialOf(cert), ct.classify(err))
	}
	c.log.Info("revoked a certificate", zap.String("serial", serialOf(cert)), zap.String("reason", reason.String()), zap.String("signed_with", "certificate key"))
	return nil
}

func (c *Client) revoke(core *api.Core, cert []byte, reason RevocationReason) error {
	r := uint(reason)
	return core.Certificates.Revoke(legoacme.RevokeCertMessage{
		Certificate: base64.RawURLEncoding.EncodeToString(cert),
		Reason:      &r,
	})
}

func serialOf(der []byte) string {
	if c, err := x509.ParseCertificate(der); err == nil {
		return c.SerialNumber.Text(16)
	}
	return "(unparsable certificate)"
}
