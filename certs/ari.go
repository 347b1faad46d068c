package certs

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
)

// ARICertID returns the certificate's RFC 9773 identifier (section 4.1):
// base64url(authority key identifier) "." base64url(serial number DER content octets).
//
// It gives the same answer as lego's certificate.MakeARICertID (a test holds them
// together), without importing lego into every package that handles a Bundle.
func ARICertID(leaf *x509.Certificate) (string, error) {
	if leaf == nil {
		return "", errors.New("certs: ari id: no certificate")
	}
	if len(leaf.AuthorityKeyId) == 0 {
		return "", errors.New("certs: ari id: certificate has no authority key identifier")
	}
	if leaf.SerialNumber == nil || leaf.SerialNumber.Sign() <= 0 {
		return "", errors.New("certs: ari id: certificate serial number is not positive")
	}
	// DER INTEGER content octets of a positive number: big-endian bytes, with a leading
	// zero when the high bit is set.
	serial := leaf.SerialNumber.Bytes()
	if serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...)
	}
	return base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." +
		base64.RawURLEncoding.EncodeToString(serial), nil
}
