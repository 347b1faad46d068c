// Package certstest makes throwaway certificate authorities and certificates for tests:
// a root, an intermediate, and leaves issued at test time. Nothing it makes is ever
// written to the repository.
package certstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/certferry/certferry/certs"
)

// CA is a root and an intermediate that issues leaves.
type CA struct {
	Root     *x509.Certificate
	RootPEM  []byte
	Roots    *x509.CertPool
	Inter    *x509.Certificate
	InterPEM []byte
	interKey crypto.Signer
}

// NewCA returns a fresh two-level CA valid from an hour ago for ten years.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	now := time.Now()
	rootKey := mustEC(tb, elliptic.P256())
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "certstest root", Organization: []string{"certferry tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          []byte{1, 2, 3, 4},
	}
	root := mustCreate(tb, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	interKey := mustEC(tb, elliptic.P256())
	interTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "certstest intermediate", Organization: []string{"certferry tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          []byte{5, 6, 7, 8},
	}
	inter := mustCreate(tb, interTmpl, root, interKey.Public(), rootKey)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &CA{
		Root: root, RootPEM: pemCert(root.Raw), Roots: pool,
		Inter: inter, InterPEM: pemCert(inter.Raw), interKey: interKey,
	}
}

// Leaf says what to issue. Zero values: one name "www.example.com", valid from an hour
// ago for 90 days, ec256, a random serial, the key as PKCS#8.
type Leaf struct {
	Domains   []string
	NotBefore time.Time
	NotAfter  time.Time
	KeyType   string // ec256 | ec384 | rsa2048 | rsa3072 | rsa4096
	KeyFormat string // pkcs8 (default) | sec1 (EC PRIVATE KEY) | pkcs1 (RSA PRIVATE KEY)
	Serial    *big.Int
}

// Issue returns the fullchain PEM (leaf then intermediate) and the key PEM of a new leaf.
func (ca *CA) Issue(tb testing.TB, l Leaf) (fullchain, keyPEM []byte) {
	tb.Helper()
	if len(l.Domains) == 0 {
		l.Domains = []string{"www.example.com"}
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = l.NotBefore.Add(90 * 24 * time.Hour)
	}
	if l.Serial == nil {
		var err error
		l.Serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			tb.Fatalf("certstest: serial: %v", err)
		}
		l.Serial.Add(l.Serial, big.NewInt(1))
	}
	key := NewKey(tb, l.KeyType)
	tmpl := &x509.Certificate{
		SerialNumber: l.Serial,
		Subject:      pkix.Name{CommonName: l.Domains[0]},
		DNSNames:     l.Domains,
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leaf := mustCreate(tb, tmpl, ca.Inter, key.Public(), ca.interKey)
	fullchain = append(pemCert(leaf.Raw), ca.InterPEM...)
	return fullchain, KeyPEM(tb, key, l.KeyFormat)
}

// Bundle issues a leaf and wraps it with certs.NewBundle.
func (ca *CA) Bundle(tb testing.TB, name string, l Leaf) *certs.Bundle {
	tb.Helper()
	full, key := ca.Issue(tb, l)
	b, err := certs.NewBundle(name, l.Domains, full, certs.NewPrivateKeyPEM(key), "")
	if err != nil {
		tb.Fatalf("certstest: bundle: %v", err)
	}
	return b
}

// NewKey makes a key of the given type (default ec256).
func NewKey(tb testing.TB, keyType string) crypto.Signer {
	tb.Helper()
	switch keyType {
	case "", "ec256":
		return mustEC(tb, elliptic.P256())
	case "ec384":
		return mustEC(tb, elliptic.P384())
	case "rsa2048", "rsa3072", "rsa4096":
		bits := map[string]int{"rsa2048": 2048, "rsa3072": 3072, "rsa4096": 4096}[keyType]
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			tb.Fatalf("certstest: rsa key: %v", err)
		}
		return k
	default:
		tb.Fatalf("certstest: unknown key type %q", keyType)
		return nil
	}
}

// KeyPEM encodes key as pkcs8 (default), sec1 or pkcs1.
func KeyPEM(tb testing.TB, key crypto.Signer, format string) []byte {
	tb.Helper()
	var blk *pem.Block
	switch format {
	case "", "pkcs8":
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			tb.Fatalf("certstest: pkcs8: %v", err)
		}
		blk = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case "sec1":
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			tb.Fatalf("certstest: sec1: %v", err)
		}
		blk = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case "pkcs1":
		blk = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	default:
		tb.Fatalf("certstest: unknown key format %q", format)
	}
	return pem.EncodeToMemory(blk)
}

func mustEC(tb testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatalf("certstest: ec key: %v", err)
	}
	return k
}

func mustCreate(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatalf("certstest: create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("certstest: parse certificate: %v", err)
	}
	return c
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
