package acme

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/go-acme/lego/v4/certcrypto"

	"github.com/certferry/certferry/internal/textcut"
)

// A CA can forget an account: a staging environment reset, a test CA restarted, an
// account deactivated by someone else (another client holding the key, the CA itself).
// Every order then fails with accountDoesNotExist (or unauthorized, naming the account
// deactivated), and no retry helps. Begin replaces such an account once: the stored
// record is marked superseded with the CA's answer, a new key is stored and registered,
// and the order is placed again in the same call (docs/accounts.md).

// accountGone reports whether err is the CA saying it no longer knows the account.
func accountGone(err error) bool {
	pe, ok := errors.AsType[*ProblemError](err)
	if !ok {
		return false
	}
	switch pe.Type {
	case ProblemAccountDoesNotExist:
		return true
	case ProblemUnauthorized:
		return strings.Contains(strings.ToLower(pe.Detail), "deactivated")
	}
	return false
}

// errReplacedElsewhere: the stored account is no longer the one the failing request
// used (another runner replaced it first).
var errReplacedElsewhere = errors.New("the stored account changed")

// replaceAccount replaces the account whose URL is used, which the CA answered cause
// about. Concurrent calls (the orders of one pass) replace it once: a call that finds
// the account already replaced returns at once. Another runner's replacement in the
// store is adopted rather than replaced again.
func (c *Client) replaceAccount(ctx context.Context, used string, cause error) error {
	c.replaceMu.Lock()
	defer c.replaceMu.Unlock()
	c.mu.Lock()
	cur := c.account
	c.mu.Unlock()
	if used == "" || cur.URL != used {
		return nil // replaced by another order of this client meanwhile
	}
	old := cur
	old.Deactivated = true
	old.DeactivatedReason = fmt.Sprintf("superseded at %s: the CA answered %s", c.now().UTC().Format(time.RFC3339), textcut.Cut(cause.Error()))
	err := c.store.UpdateIf(ctx, &old, func(stored *Account) error {
		if stored == nil || stored.URL != used || !stored.Key.Equal(cur.Key) {
			return errReplacedElsewhere
		}
		return nil
	})
	if err != nil && !errors.Is(err, errReplacedElsewhere) {
		return fmt.Errorf("acme: replace account %s: mark it superseded: %w", used, err)
	}
	acct, err := loadOrCreate(ctx, c.store, cur.Directory, cur.KID, cur.Email, c.log)
	if err != nil {
		return fmt.Errorf("acme: replace account %s: %w", used, err)
	}
	key, err := certcrypto.ParsePEMPrivateKey(acct.Key.Bytes())
	if err != nil {
		return fmt.Errorf("acme: replace account %s: parse the new key: %w", used, err)
	}
	if acct.URL == "" {
		if err := c.registerReplacement(ctx, acct, key); err != nil {
			return fmt.Errorf("acme: replace account %s: %w", used, err)
		}
	}
	c.mu.Lock()
	c.account, c.key = *acct, key
	c.mu.Unlock()
	c.transport.setAccountKey(key)
	c.log.Warn("the CA no longer knows the ACME account; a new one replaces it, the old record is kept as superseded",
		zap.String("old_account", used), zap.String("account", acct.URL), zap.String("reason", old.DeactivatedReason))
	return nil
}

// registerReplacement registers acct (a new key, no URL yet) with the CA and stores its
// URL. It registers through a copy of c that holds the new key, so the orders still
// running on c never see a half-registered account.
func (c *Client) registerReplacement(ctx context.Context, acct *Account, key crypto.PrivateKey) error {
	tmp := &Client{dirURL: c.dirURL, userAgent: c.userAgent, timeout: c.timeout, log: c.log, transport: c.transport, now: c.now,
		maxRetryAfter: c.maxRetryAfter, sleep: c.sleep, store: c.store, eab: c.eab, httpBase: c.httpBase, account: *acct, key: key}
	c.transport.setAccountKey(key) // badNonce retries of newAccount are signed again with it
	stored, err := tmp.register(ctx, c.eab, c.store)
	if err != nil {
		return err
	}
	*acct = tmp.account
	if stored {
		return nil
	}
	if err := c.store.Update(ctx, acct); err != nil {
		return fmt.Errorf("store the account URL: %w", err)
	}
	return nil
}
