package certs

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/certferry/certferry/internal/textcut"
)

// Bundle is one certificate with its chain and key, as issued and as stored.
//
// Build one with NewBundle or ParseSecret; both check that the key matches the leaf and
// fill the metadata from the leaf. A Bundle is not modified after construction and may
// be shared between goroutines.
type Bundle struct {
	Name    string   // the certificate's name in the configuration
	Domains []string // the names, in the configured order

	CertPEM  []byte // leaf followed by the intermediates (certbot's fullchain.pem)
	ChainPEM []byte // the intermediates alone
	Key      PrivateKeyPEM

	Leaf *x509.Certificate

	NotBefore, NotAfter time.Time // UTC
	Serial              string    // lowercase hex
	Issuer              string    // issuer distinguished name
	ARIID               string    // RFC 9773 certificate identifier
	KeyType             string    // ec256 | ec384 | rsa2048 | rsa3072 | rsa4096 (see KeyTypeOf)
}

// KeyMismatchError says a certificate and a key both parse but the key is not the
// certificate's. Leaf is the parsed certificate, so a caller can still say what is
// stored (a value that cannot be served is replaced, not reported as unreadable).
type KeyMismatchError struct{ Leaf *x509.Certificate }

func (e *KeyMismatchError) Error() string { return "key: does not match the certificate's public key" }

// NewBundle parses fullchainPEM (the leaf first, then the intermediates), checks that key
// is the leaf's private key, and fills the metadata. domains are kept in the given order;
// when empty they are taken from the leaf's DNS names. An empty ariID is computed from the
// leaf.
func NewBundle(name string, domains []string, fullchainPEM []byte, key PrivateKeyPEM, ariID string) (*Bundle, error) {
	b, err := newBundle(name, domains, fullchainPEM, nil, key, ariID)
	if err != nil {
		if name == "" { // read back from files: the caller's error names the directory
			return nil, fmt.Errorf("certs: new bundle: %w", err)
		}
		return nil, fmt.Errorf("certs: new bundle %q: %w", name, err)
	}
	return b, nil
}

// newBundle does NewBundle's work without the error prefix. extraChain, when the
// fullchain holds only the leaf, supplies the intermediates.
func newBundle(name string, domains []string, fullchainPEM, extraChain []byte, key PrivateKeyPEM, ariID string) (*Bundle, error) {
	ders, err := certificateDERs(fullchainPEM)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	if len(ders) == 0 {
		return nil, errors.New("cert: no PEM certificate found")
	}
	if len(ders) == 1 && len(extraChain) > 0 {
		chain, err := certificateDERs(extraChain)
		if err != nil {
			return nil, fmt.Errorf("chain: %w", err)
		}
		ders = append(ders, chain...)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, fmt.Errorf("cert: parse leaf: %w", err)
	}
	for i, der := range ders[1:] {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("cert: parse intermediate %d: %w", i+1, err)
		}
	}
	if key.IsZero() {
		return nil, errors.New("key: missing")
	}
	signer, err := key.Signer()
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, &KeyMismatchError{Leaf: leaf}
	}
	if ariID == "" {
		// A certificate without an authority key identifier has no ARI identifier;
		// that is no reason to refuse it.
		ariID, _ = ARICertID(leaf)
	}
	if len(domains) == 0 {
		domains = leaf.DNSNames
	}
	var full, chain bytes.Buffer
	for i, der := range ders {
		blk := &pem.Block{Type: "CERTIFICATE", Bytes: der}
		_ = pem.Encode(&full, blk)
		if i > 0 {
			_ = pem.Encode(&chain, blk)
		}
	}
	return &Bundle{
		Name:      name,
		Domains:   slices.Clone(domains),
		CertPEM:   full.Bytes(),
		ChainPEM:  chain.Bytes(),
		Key:       key,
		Leaf:      leaf,
		NotBefore: leaf.NotBefore.UTC(),
		NotAfter:  leaf.NotAfter.UTC(),
		Serial:    SerialHex(leaf),
		Issuer:    leaf.Issuer.String(),
		ARIID:     ariID,
		KeyType:   KeyTypeOf(leaf.PublicKey),
	}, nil
}

// certificateDERs returns the DER of every CERTIFICATE block, in order. Any other block
// is an error that does not name the block's type (a key pasted into the certificate
// field must not be echoed, even by type).
func certificateDERs(data []byte) ([][]byte, error) {
	var ders [][]byte
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is not a CERTIFICATE", len(ders)+1)
		}
		ders = append(ders, block.Bytes)
	}
	return ders, nil
}

// SerialHex returns the certificate's serial number in lowercase hex.
func SerialHex(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	return fmt.Sprintf("%x", c.SerialNumber)
}

// Verify checks that the leaf chains to one of roots through the intermediates of
// ChainPEM at time now, for server authentication, and that it covers every name of
// Domains. A wildcard name ("*.example.com") must appear as such on the certificate.
func (b *Bundle) Verify(roots *x509.CertPool, now time.Time) error {
	if err := b.verify(roots, now); err != nil {
		return fmt.Errorf("certs: verify %q: %w", b.Name, err)
	}
	return nil
}

func (b *Bundle) verify(roots *x509.CertPool, now time.Time) error {
	if b.Leaf == nil {
		return errors.New("no leaf certificate")
	}
	inter := x509.NewCertPool()
	ders, err := certificateDERs(b.ChainPEM)
	if err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("chain: parse intermediate %d: %w", i+1, err)
		}
		inter.AddCert(c)
	}
	if _, err := b.Leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return err
	}
	if len(b.Domains) == 0 {
		return errors.New("no domains")
	}
	for _, d := range b.Domains {
		if err := covers(b.Leaf, d); err != nil {
			return err
		}
	}
	return nil
}

// covers checks that leaf is valid for name.
func covers(leaf *x509.Certificate, name string) error {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	if strings.HasPrefix(n, "*.") {
		for _, san := range leaf.DNSNames {
			if strings.TrimSuffix(strings.ToLower(san), ".") == n {
				return nil
			}
		}
		return fmt.Errorf("certificate does not name %q", textcut.Cut(name))
	}
	if err := leaf.VerifyHostname(n); err != nil {
		// x509's error quotes the name and every DNS name of the certificate, whole.
		return fmt.Errorf("certificate does not cover %q (it names %s)", textcut.Cut(name), textcut.Cut(strings.Join(leaf.DNSNames, ", ")))
	}
	return nil
}

// HashDomains returns a stable hash of a set of names: lowercase hex SHA-256 of the
// lowercased, dot-trimmed, sorted, deduplicated names joined by newlines. Order and case
// do not matter, so it compares a stored certificate with a configured one.
func HashDomains(domains []string) string {
	names := make([]string, 0, len(domains))
	for _, d := range domains {
		names = append(names, strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), "."))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
	return hex.EncodeToString(sum[:])
}

// DomainsHash returns HashDomains(b.Domains), for tags.
func (b *Bundle) DomainsHash() string { return HashDomains(b.Domains) }

// summary is the printable, loggable view of a Bundle: no PEM, no key.
type summary struct {
	Name      string    `json:"name"`
	Domains   []string  `json:"domains"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Serial    string    `json:"serial"`
	Issuer    string    `json:"issuer"`
	ARIID     string    `json:"ari_id"`
	KeyType   string    `json:"key_type"`
	Key       string    `json:"key"`
}

func (b Bundle) summary() summary {
	return summary{
		Name: b.Name, Domains: b.Domains, NotBefore: b.NotBefore, NotAfter: b.NotAfter,
		Serial: b.Serial, Issuer: b.Issuer, ARIID: b.ARIID, KeyType: b.KeyType, Key: Redacted,
	}
}

// String prints the bundle's metadata; never the key nor the PEM.
func (b Bundle) String() string {
	return fmt.Sprintf("certs.Bundle{name=%q domains=%q serial=%s not_after=%s key_type=%s key=%s}",
		b.Name, b.Domains, b.Serial, b.NotAfter.Format(time.RFC3339), b.KeyType, Redacted)
}

// GoString is String, so %#v prints no key either.
func (b Bundle) GoString() string { return b.String() }

// Format prints String for every verb.
func (b Bundle) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(b.String())) }

// MarshalJSON returns the bundle's metadata with "key": "[REDACTED]", for status output
// and logs. It is not the stored secret: that is MarshalSecret.
func (b Bundle) MarshalJSON() ([]byte, error) { return json.Marshal(b.summary()) }

// MarshalLogObject logs the bundle's metadata with zap; never the key nor the PEM.
func (b Bundle) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", b.Name)
	enc.AddString("domains", strings.Join(b.Domains, ","))
	enc.AddString("serial", b.Serial)
	enc.AddString("issuer", b.Issuer)
	enc.AddTime("not_before", b.NotBefore)
	enc.AddTime("not_after", b.NotAfter)
	enc.AddString("key_type", b.KeyType)
	enc.AddString("ari_id", b.ARIID)
	enc.AddString("key", Redacted)
	return nil
}

var (
	_ fmt.Formatter           = Bundle{}
	_ json.Marshaler          = Bundle{}
	_ zapcore.ObjectMarshaler = Bundle{}
)
