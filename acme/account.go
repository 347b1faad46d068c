package acme

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrNoAccount is returned by AccountStore.Load when nothing is stored for the pair.
var ErrNoAccount = errors.New("acme: no account stored")

// ErrAccountExists is returned by AccountStore.Create when an account is already stored
// for the pair.
var ErrAccountExists = errors.New("acme: account already stored")

// redacted is what every printed form of a private key shows.
const redacted = "[REDACTED]"

// PrivateKeyPEM is a PEM-encoded private key. Every printed form of it (String, %v, %s,
// %x, %q, %#v, MarshalJSON, MarshalText) is "[REDACTED]": code that needs the bytes
// must convert explicitly, []byte(k).
type PrivateKeyPEM []byte

// String implements fmt.Stringer.
func (PrivateKeyPEM) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (PrivateKeyPEM) GoString() string { return redacted }

// Format implements fmt.Formatter, for every verb.
func (PrivateKeyPEM) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON implements json.Marshaler.
func (PrivateKeyPEM) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (PrivateKeyPEM) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Account is an ACME account: the key that signs every request and, once the CA has
// registered it, its URL (the JWS "kid").
type Account struct {
	Directory string // the ACME directory URL
	Email     string // contact address; may be empty
	URL       string // account URL; empty until registered
	Key       PrivateKeyPEM
}

// AccountStore keeps one account per (directory, email) where every runner can read it
// (contract 2).
//
// Load returns ErrNoAccount when nothing is stored. Create stores only if nothing is
// stored yet, and returns ErrAccountExists otherwise: it is create-only so that two
// runners racing to create an account agree on one key. Update overwrites. A store
// that finds an account for another (directory, email) where this pair's account
// belongs returns an error saying so, never the other account.
//
// Implementations must be safe for concurrent use.
type AccountStore interface {
	Load(ctx context.Context, directory, email string) (*Account, error)
	Create(ctx context.Context, a *Account) error
	Update(ctx context.Context, a *Account) error
}

// storedAccount is the JSON form of an Account in every store.
type storedAccount struct {
	Directory string `json:"directory"`
	Email     string `json:"email"`
	URL       string `json:"url,omitempty"`
	KeyPEM    string `json:"key_pem"`
}

func toStored(a *Account) storedAccount {
	return storedAccount{Directory: a.Directory, Email: a.Email, URL: a.URL, KeyPEM: string(a.Key)}
}

// fromStored converts s and checks that it is the account of (directory, email).
// where names the store and object, for the error.
func fromStored(s storedAccount, directory, email, where string) (*Account, error) {
	if s.Directory != directory || s.Email != email {
		return nil, fmt.Errorf("acme: %s holds the account of directory %q email %q, not directory %q email %q",
			where, s.Directory, s.Email, directory, email)
	}
	if s.KeyPEM == "" {
		return nil, fmt.Errorf("acme: %s: no key_pem", where)
	}
	return &Account{Directory: s.Directory, Email: s.Email, URL: s.URL, Key: PrivateKeyPEM(s.KeyPEM)}, nil
}

func checkAccount(a *Account) error {
	switch {
	case a == nil:
		return errors.New("acme: nil account")
	case a.Directory == "":
		return errors.New("acme: account has no directory")
	case len(a.Key) == 0:
		return errors.New("acme: account has no key")
	}
	return nil
}
