package secretsmanager_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestEncodeText: an error text reads back byte for byte, as a valid tag value, and a
// value written before the encoding (with "_" for what AWS refuses) reads as written.
func TestEncodeText(t *testing.T) {
	t.Parallel()
	zone := `route53: find zone for _acme-challenge.www.example.org: no hosted zone contains the name (a zone in another AWS account: add it to dns.zones with the assume_role_arn of a role there)`
	for _, tc := range []struct{ in, enc string }{
		{"", ""},
		{"plain text: a/b.c_d+e-f@g", "plain text: a/b.c_d+e-f@g"},
		{`say "no" (now), 50%; a=b`, `say =22no=22 =28now=29=2C 50=25=3B a=3Db`},
		{"two\nlines\ttab", "two=0Alines=09tab"},
		{"é", "=C3=A9"},
		{"bad \xff byte", "bad =FF byte"},
	} {
		if got := smsink.EncodeText(tc.in); got != tc.enc {
			t.Errorf("EncodeText(%q) = %q, want %q", tc.in, got, tc.enc)
		}
		if got := smsink.DecodeText(tc.enc); got != tc.in {
			t.Errorf("DecodeText(%q) = %q, want %q", tc.enc, got, tc.in)
		}
	}
	// The message of a real failure: it fits, and comes back whole.
	enc := smsink.EncodeText(zone)
	if len(enc) > 256 || smsink.SanitizeTagValue(enc) != enc || smsink.DecodeText(enc) != zone {
		t.Errorf("%q: encoded %q (%d), decoded %q", zone, enc, len(enc), smsink.DecodeText(enc))
	}
	// Too long: cut at a character, marked.
	long := strings.Repeat("(é)", 100)
	enc = smsink.EncodeText(long)
	dec := smsink.DecodeText(enc)
	if len(enc) > 256 || smsink.SanitizeTagValue(enc) != enc || !strings.HasSuffix(dec, "…") || !strings.HasPrefix(long, strings.TrimSuffix(dec, "…")) || !utf8.ValidString(dec) {
		t.Errorf("a long text: encoded %q (%d), decoded %q", enc, len(enc), dec)
	}
	// Written before: "_" stayed "_", and nothing else changes.
	if old := "no hosted zone contains the name _a zone in another AWS account_"; smsink.DecodeText(old) != old {
		t.Errorf("DecodeText(%q) = %q", old, smsink.DecodeText(old))
	}
	// DecodeState decodes both error tags.
	st := smsink.DecodeState(map[string]string{smsink.TagLastError: smsink.EncodeText(zone), smsink.TagHookError: smsink.EncodeText(`hook "x": exit 1`)}, time.Now())
	if st.LastError != zone || st.HookError != `hook "x": exit 1` {
		t.Errorf("DecodeState: %q, %q", st.LastError, st.HookError)
	}
}

// FuzzText: whatever the text, its encoding is a valid tag value of at most 256
// characters that decodes to the text itself, or (cut) to a start of it and "…".
func FuzzText(f *testing.F) {
	f.Add(`no hosted zone contains the name (a zone in another AWS account: "x")`)
	f.Add("=41=4")
	f.Add(strings.Repeat("é", 200))
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		enc := smsink.EncodeText(s)
		if len(enc) > 256 || smsink.SanitizeTagValue(enc) != enc {
			t.Fatalf("EncodeText(%q) = %q: not a valid tag value", s, enc)
		}
		dec := smsink.DecodeText(enc)
		if dec != s && !(strings.HasSuffix(dec, "…") && strings.HasPrefix(s, strings.TrimSuffix(dec, "…"))) {
			t.Fatalf("EncodeText(%q) = %q decodes to %q", s, enc, dec)
		}
		_ = smsink.DecodeText(s) // any value, even one certferry did not write
	})
}

// FuzzIssued: any TagIssued value decodes without panicking, and what decodes encodes to
// a valid tag value that decodes to the same entries.
func FuzzIssued(f *testing.F) {
	f.Add("0123456789abcdef.1765000000 fedcba9876543210.1765003600")
	f.Add("x.1 0123456789abcdef.-5")
	f.Fuzz(func(t *testing.T, v string) {
		list := smsink.DecodeIssued(v)
		now := time.Unix(1<<40, 0)
		for _, is := range list {
			now = is.At // the newest written last, so every entry is kept below
		}
		var keep []smsink.Issuance // the recent ones, then the newest MaxIssuances of them
		for _, is := range list {
			if now.Sub(is.At) <= smsink.IssuanceMemory && !is.At.After(now.Add(smsink.IssuanceAhead)) {
				keep = append(keep, is)
			}
		}
		if len(keep) > smsink.MaxIssuances {
			keep = keep[len(keep)-smsink.MaxIssuances:]
		}
		enc := smsink.EncodeIssued(list, now)
		if len(enc) > 256 || smsink.SanitizeTagValue(enc) != enc {
			t.Fatalf("EncodeIssued: %q is not a valid tag value", enc)
		}
		if got := smsink.DecodeIssued(enc); len(got) != len(keep) {
			t.Fatalf("%q -> %q -> %d entries, want %d", v, enc, len(got), len(keep))
		}
	})
}

// TestIssuedFromTheFuture: an issuance later than IssuanceAhead from now (a hand-edited
// certferry:issued) is neither counted nor written back, so it cannot hold a certificate
// in the issuance guard until that date; a CA's clock a little ahead still counts.
func TestIssuedFromTheFuture(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	key := "0123456789abcdef"
	at := func(d time.Duration) string { return key + "." + strconv.FormatInt(now.Add(d).Unix(), 10) }
	v := strings.Join([]string{at(-time.Hour), at(30 * time.Minute), at(2 * time.Hour), key + ".1900000000", key + ".1099511627775"}, " ")
	want := []smsink.Issuance{{Key: key, At: now.Add(-time.Hour)}, {Key: key, At: now.Add(30 * time.Minute)}}
	st := smsink.DecodeState(map[string]string{smsink.TagIssued: v}, now)
	if !slices.Equal(st.Issued, want) {
		t.Errorf("DecodeState Issued = %v, want %v", st.Issued, want)
	}
	if got, w := smsink.EncodeIssued(smsink.DecodeIssued(v), now), at(-time.Hour)+" "+at(30*time.Minute); got != w {
		t.Errorf("EncodeIssued = %q, want %q", got, w)
	}
}
