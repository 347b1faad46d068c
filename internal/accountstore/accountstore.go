// Package accountstore is what the two ACME account stores (sinks/secretsmanager and
// sinks/file) share: the JSON form of an account (docs/accounts.md), the checks every
// write makes, and which stored account belongs to a (directory, EAB key id) pair.
// It does no I/O; the stores do.
package accountstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/textcut"
)

// MaxSize bounds what a store reads (a secret value is at most 64 KiB anyway).
const MaxSize = 1 << 20

// Stored is the JSON form of an acme.Account in every store.
//
// KID is a pointer so that the form older certferry versions wrote (one account, no
// "kid" field: it was keyed by directory and email) is told apart from an account
// stored without a binding (kid ""): such a legacy account belongs to its directory
// whatever binding is configured, and takes the configured key id at its next write.
type Stored struct {
	Directory   string  `json:"directory"`
	KID         *string `json:"kid,omitempty"`
	Email       string  `json:"email"`
	URL         string  `json:"url,omitempty"`
	KeyPEM      string  `json:"key_pem"`
	NextKeyPEM  string  `json:"next_key_pem,omitempty"`
	NextKeyAt   string  `json:"next_key_at,omitempty"`
	Deactivated bool    `json:"deactivated,omitempty"`
	// DeactivatedReason: why the account was superseded (acme.Account.DeactivatedReason).
	DeactivatedReason string `json:"deactivated_reason,omitempty"`
}

// ToStored is the stored form of a.
func ToStored(a *acme.Account) Stored {
	kid := a.KID
	st := Stored{Directory: a.Directory, KID: &kid, Email: a.Email, URL: a.URL, KeyPEM: string(a.Key.Bytes()),
		NextKeyPEM: string(a.NextKey.Bytes()), Deactivated: a.Deactivated, DeactivatedReason: a.DeactivatedReason}
	if !a.NextKey.IsZero() && !a.NextKeyAt.IsZero() {
		st.NextKeyAt = a.NextKeyAt.UTC().Format(time.RFC3339)
	}
	return st
}

// Legacy reports that s was written before accounts were keyed by EAB key id.
func (s Stored) Legacy() bool { return s.KID == nil }

// Matches reports whether s is the account of (directory, kid); exact says it is not
// only a legacy account of that directory.
func (s Stored) Matches(directory, kid string) (ok, exact bool) {
	if s.Directory != directory {
		return false, false
	}
	if s.Legacy() {
		return true, false
	}
	return *s.KID == kid, *s.KID == kid
}

// Find returns the index of the account of (directory, kid) in list, preferring an
// exact match to a legacy one; -1 when none.
//
// A pair may also hold superseded accounts (deactivated, with a reason, kept for the
// record beside their replacement): a live account is preferred to them.
func Find(list []Stored, directory, kid string) int {
	legacy, superseded := -1, -1
	for i, s := range list {
		ok, exact := s.Matches(directory, kid)
		switch {
		case exact && s.Deactivated && s.DeactivatedReason != "":
			superseded = i
		case exact:
			return i
		case ok && legacy < 0:
			legacy = i
		}
	}
	if legacy < 0 {
		return superseded
	}
	return legacy
}

// Account converts s, the account found for kid; where names the store and object, for
// the error.
func (s Stored) Account(kid, where string) (*acme.Account, error) {
	if s.KeyPEM == "" {
		return nil, fmt.Errorf("%s: account of directory %q has no key_pem", where, textcut.Cut(s.Directory))
	}
	if !s.Legacy() {
		kid = *s.KID
	}
	a := &acme.Account{Directory: s.Directory, KID: kid, Email: s.Email, URL: s.URL, Key: certs.NewPrivateKeyPEM([]byte(s.KeyPEM)),
		NextKey: certs.NewPrivateKeyPEM([]byte(s.NextKeyPEM)), Deactivated: s.Deactivated, DeactivatedReason: s.DeactivatedReason}
	a.NextKeyAt, _ = time.Parse(time.RFC3339, s.NextKeyAt)
	return a, nil
}

// Check refuses an account no store may write.
func Check(a *acme.Account) error {
	switch {
	case a == nil:
		return errors.New("nil account")
	case a.Directory == "":
		return errors.New("account has no directory")
	case a.Key.IsZero():
		return errors.New("account has no key")
	}
	return nil
}
