package secretsmanager_test

import (
	"testing"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// FuzzParseRevocation: the tag parser never panics; what it accepts renders back to a
// valid tag value that parses to the same revocation.
func FuzzParseRevocation(f *testing.F) {
	f.Add("0a1b keyCompromise 2026-12-01T08:00:00Z")
	f.Add("ff superseded 2026-12-01T08:00:00+02:00")
	f.Add("")
	f.Add("x y z")
	f.Fuzz(func(t *testing.T, v string) {
		r, ok := smsink.ParseRevocation(v)
		if !ok {
			return
		}
		tv := r.TagValue()
		r2, ok := smsink.ParseRevocation(tv)
		if !ok || !r2.At.Equal(r.At) || r2.Serial != r.Serial || r2.Reason != r.Reason {
			t.Fatalf("%q -> %q -> %+v %v", v, tv, r2, ok)
		}
		if _, ok := smsink.Revoked(map[string]string{smsink.TagRevoked: tv}, r.Serial); !ok && r.Serial != "" && smsink.SanitizeTagValue(tv) == tv {
			t.Fatalf("Revoked does not find serial %q in %q", r.Serial, tv)
		}
	})
}
