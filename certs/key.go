package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap/zapcore"
)

// Redacted is what a PrivateKeyPEM prints as, by every route.
const Redacted = "[REDACTED]"

// PrivateKeyPEM holds a private key in PEM form. It prints as "[REDACTED]" through fmt
// (every verb), encoding/json, encoding.TextMarshaler, encoding.BinaryMarshaler and zap;
// only Bytes returns the PEM.
//
// The PEM is captured by a closure rather than held in a field, so reflection-based
// printers that cannot call its methods (fmt on an unexported struct field, which prints
// through pointers with some verbs; go-spew; debuggers' pretty printers) find a function
// value and print its address, never the bytes. The zero value holds no key. A
// PrivateKeyPEM is immutable: Bytes returns a copy.
type PrivateKeyPEM struct {
	get func() []byte
}

// NewPrivateKeyPEM returns a PrivateKeyPEM holding a copy of pemBytes.
func NewPrivateKeyPEM(pemBytes []byte) PrivateKeyPEM {
	if len(pemBytes) == 0 {
		return PrivateKeyPEM{}
	}
	b := append([]byte(nil), pemBytes...)
	return PrivateKeyPEM{get: func() []byte { return b }}
}

// Bytes returns a copy of the PEM. It is the only way to read the key.
func (k PrivateKeyPEM) Bytes() []byte {
	if k.get == nil {
		return nil
	}
	return append([]byte(nil), k.get()...)
}

// IsZero reports whether k holds no key.
func (k PrivateKeyPEM) IsZero() bool { return k.get == nil }

// Len returns the length of the PEM in bytes.
func (k PrivateKeyPEM) Len() int {
	if k.get == nil {
		return 0
	}
	return len(k.get())
}

// Equal reports whether k and o hold the same PEM.
func (k PrivateKeyPEM) Equal(o PrivateKeyPEM) bool {
	return bytes.Equal(k.Bytes(), o.Bytes())
}

// Signer parses the key.
func (k PrivateKeyPEM) Signer() (crypto.Signer, error) {
	return parsePrivateKey(k.Bytes())
}

// String returns "[REDACTED]".
func (k PrivateKeyPEM) String() string { return Redacted }

// GoString returns "[REDACTED]".
func (k PrivateKeyPEM) GoString() string { return Redacted }

// Format prints "[REDACTED]" for every verb and flag.
func (k PrivateKeyPEM) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (k PrivateKeyPEM) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText returns "[REDACTED]".
func (k PrivateKeyPEM) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalBinary returns "[REDACTED]", for encoding/gob and friends.
func (k PrivateKeyPEM) MarshalBinary() ([]byte, error) { return []byte(Redacted), nil }

// MarshalLogObject lets zap.Any and zap.Object log the key as redacted.
func (k PrivateKeyPEM) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("key", Redacted)
	return nil
}

var (
	_ fmt.Formatter           = PrivateKeyPEM{}
	_ fmt.GoStringer          = PrivateKeyPEM{}
	_ zapcore.ObjectMarshaler = PrivateKeyPEM{}
)

// errNoKey and friends never mention the key's content.
var (
	errNoKey       = errors.New("no PEM private key block found")
	errBadKey      = errors.New("the private key block does not parse as PKCS#8, SEC 1 (EC) or PKCS#1 (RSA)")
	errKeyNoSigner = errors.New("the private key is of an unsupported kind")
)

// parsePrivateKey parses the first private key block of pemBytes. Its errors carry no
// key material: the underlying parser errors are not wrapped on purpose.
func parsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errNoKey
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // "EC PARAMETERS" and the like, as openssl writes them
		}
		var key any
		var err error
		switch block.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, errBadKey
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, errKeyNoSigner
		}
		return s, nil
	}
}

// KeyTypeOf names a public key the way the configuration does: ec256, ec384, rsa2048,
// rsa3072, rsa4096 (and ec521, rsa<bits>, ed25519 for keys the configuration does not
// offer). It returns "unknown" for anything else.
func KeyTypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "unknown"
		}
		return "ec" + strconv.Itoa(k.Curve.Params().BitSize)
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "unknown"
		}
		return "rsa" + strconv.Itoa(k.N.BitLen())
	case ed25519.PublicKey:
		return "ed25519"
	default:
		return "unknown"
	}
}
