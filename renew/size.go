package renew

import (
	"fmt"

	"github.com/certferry/certferry/certs"
)

// EstimateSecretSize is an upper bound, in bytes, of the SecretString (docs/secret-format.md) that a
// certificate for domains with a key of keyType will make. A pass refuses to order a
// certificate whose estimate exceeds certs.MaxSecretSize: Secrets Manager would refuse
// to store it, and the CA's certificate would be issued for nothing.
//
// The estimate, from the pieces of the JSON object:
//
//   - cert: the leaf, PEM in JSON, plus the chain. The leaf's DER is at most
//     leafFixed (serial, issuer and subject names, validity, key usages, AIA, CRL and
//     policy URLs, embedded SCTs, the issuer's signature, all generously), plus the
//     public key (spkiSize), plus every name in the subjectAltName (its length + 4 for
//     the tag and a two-byte length), plus the common name (at most 64 + 16).
//   - chain: the intermediates, chainAllowance (8 KiB, two to four intermediates of
//     today's CAs). The chain appears twice: after the leaf in cert, and in chain.
//   - key: the PKCS #8 DER of the key type (keyDERSize), PEM in JSON.
//   - domains: every name again, quoted, with a comma.
//   - not_before, not_after, serial, issuer, ari_id, field names: otherFields.
//
// PEM in JSON: base64 is 4/3 of the DER, in lines of 64 characters whose newline JSON
// writes as the two characters \n; plus the BEGIN and END lines.
func EstimateSecretSize(domains []string, keyType string) int {
	der := leafFixed + spkiSize(keyType) + 16
	names := 0
	for _, d := range domains {
		der += len(d) + 4
		names += len(d) + 3
	}
	if len(domains) > 0 {
		der += min(len(domains[0]), 64) + 16
	}
	return pemInJSON(der) + 2*chainAllowance + pemInJSON(keyDERSize(keyType)) + names + 2 + otherFields
}

const (
	leafFixed      = 2048
	chainAllowance = 8 << 10
	otherFields    = 1024
)

// pemInJSON is the length of der as PEM, escaped in a JSON string.
func pemInJSON(der int) int {
	b64 := 4 * ((der + 2) / 3)
	lines := (b64 + 63) / 64
	return b64 + 2*lines + 2*40 // each line's \n, the BEGIN and END lines
}

func spkiSize(keyType string) int {
	switch keyType {
	case "ec384":
		return 120
	case "rsa2048":
		return 294
	case "rsa3072":
		return 422
	case "rsa4096":
		return 550
	default: // ec256
		return 91
	}
}

func keyDERSize(keyType string) int {
	switch keyType {
	case "ec384":
		return 185
	case "rsa2048":
		return 1220
	case "rsa3072":
		return 1800
	case "rsa4096":
		return 2400
	default: // ec256
		return 138
	}
}

// checkSecretSize refuses a certificate whose secret would not fit.
func checkSecretSize(c Cert) error {
	if c.Secret == nil {
		return nil
	}
	if n := EstimateSecretSize(c.Domains, c.KeyType); n > certs.MaxSecretSize {
		kt := c.KeyType
		if kt == "" {
			kt = "ec256"
		}
		return fmt.Errorf("renew: certificate %q: its secret would be up to %d bytes (estimated from %d names and key type %s), over the Secrets Manager limit of %d bytes; no order placed: split the names over several certificates or use an EC key",
			c.Name, n, len(c.Domains), kt, certs.MaxSecretSize)
	}
	return nil
}
