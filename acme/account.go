package acme

import (
	"context"
	"errors"
	"github.com/certferry/certferry/certs"
	"time"
)

// ErrNoAccount is returned by AccountStore.Load when nothing is stored for the pair.
var ErrNoAccount = errors.New("acme: no account stored")

// ErrAccountExists is returned by AccountStore.Create when an account is already stored
// for the pair.
var ErrAccountExists = errors.New("acme: account already stored")

// Account is an ACME account: the key that signs every request and, once the CA has
// registered it, its URL (the JWS "kid").
//
// An account belongs to one CA: its directory URL and, where the CA wants an external
// account binding, the binding's key id (KID). That pair is the account's identity in
// every store; the contact email is a property of the account, changed with
// Client.UpdateEmail, not a reason for another account.
type Account struct {
	Directory string // the ACME directory URL
	KID       string // the external account binding's key id; "" without one
	Email     string // contact address; may be empty
	URL       string // account URL; empty until registered
	Key       certs.PrivateKeyPEM
	// NextKey is set only while a key rollover is under way (Client.Rollover): the new
	// key is stored before the CA is asked to switch, so that a crash between the two
	// leaves both keys in the store and New finds whichever the CA knows.
	NextKey certs.PrivateKeyPEM
	// NextKeyAt is when NextKey was stored: a rollover that began long ago and left the
	// CA with the old key was interrupted, not under way.
	NextKeyAt time.Time
	// Deactivated: the CA was asked to deactivate the account (Client.Deactivate), or it
	// answered that it no longer knows it (DeactivatedReason says so). New never uses a
	// deactivated account; it registers a new key in its place.
	Deactivated bool
	// DeactivatedReason, when set, says why the account was superseded without being
	// deactivated by certferry: the CA's answer, and when (docs/accounts.md).
	DeactivatedReason string
}

// AccountStore keeps one account per (directory, EAB key id) where every runner can read
// it (see docs/accounts.md).
//
// Load returns ErrNoAccount when nothing is stored for the pair. Create stores only if
// nothing is stored for the pair yet (or only a deactivated account), and returns
// ErrAccountExists otherwise: it is create-only so that two runners racing to create
// an account agree on one key. Update overwrites the pair's account. Every write
// leaves the other pairs' accounts as they were, also when two runners write accounts
// of different pairs at once. List returns every stored account.
//
// UpdateIf is Update made conditional, atomically: check is given the stored account of
// the pair (nil when none) and the write happens only when it returns nil; its error is
// returned otherwise. Key rollover relies on it so that two rollovers never overwrite
// each other's keys.
//
// Implementations must be safe for concurrent use.
type AccountStore interface {
	Load(ctx context.Context, directory, kid string) (*Account, error)
	Create(ctx context.Context, a *Account) error
	Update(ctx context.Context, a *Account) error
	UpdateIf(ctx context.Context, a *Account, check func(stored *Account) error) error
	List(ctx context.Context) ([]*Account, error)
}
