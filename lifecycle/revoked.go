package lifecycle

import (
	"strings"
	"time"
)

// TagRevoked is the tag that records a revocation with the secret:
// "<hex serial> <reason> <RFC 3339 time>". It is bound to the certificate by its serial:
// once a new certificate is stored, a tag naming the old serial says nothing about it.
const TagRevoked = "certferry:revoked"

// Revocation is one recorded revocation.
type Revocation struct {
	Serial string    // lowercase hex
	Reason string    // RFC 5280 name: keyCompromise, superseded, ...
	At     time.Time // when certferry revoked it
}

// TagValue renders r for TagRevoked (tag values allow letters, digits, spaces and
// ":" "-" "+", all that the form needs).
func (r Revocation) TagValue() string {
	return r.Serial + " " + r.Reason + " " + r.At.UTC().Format(time.RFC3339)
}

// ParseRevocation reads a TagRevoked value; ok is false for anything else.
func ParseRevocation(v string) (r Revocation, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 || f[0] == "" {
		return Revocation{}, false
	}
	if strings.Trim(strings.ToLower(f[0]), "0123456789abcdef") != "" {
		return Revocation{}, false // a serial is hex
	}
	at, err := time.Parse(time.RFC3339, f[2])
	if err != nil || at.UTC().Year() < 1970 || at.UTC().Year() > 9999 {
		return Revocation{}, false
	}
	return Revocation{Serial: strings.ToLower(f[0]), Reason: f[1], At: at}, true
}

// Revoked reports whether tags record the revocation of the certificate with serial
// (hex, any case).
func Revoked(tags map[string]string, serial string) (Revocation, bool) {
	r, ok := ParseRevocation(tags[TagRevoked])
	if !ok || serial == "" || !strings.EqualFold(strings.TrimLeft(r.Serial, "0"), strings.TrimLeft(serial, "0")) {
		return Revocation{}, false
	}
	return r, true
}
