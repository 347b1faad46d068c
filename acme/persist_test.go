package acme_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
)

func TestParsePersistValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw     string
		want    acme.PersistValue
		wantErr string
	}{
		{raw: "ca.example; accounturi=https://ca.example/acct/1",
			want: acme.PersistValue{Issuer: "ca.example", AccountURI: "https://ca.example/acct/1"}},
		{raw: " CA.Example ;AccountURI=https://ca.example/acct/1 ; Policy=WildCard; persistUntil=1800000000; other=x",
			want: acme.PersistValue{Issuer: "ca.example", AccountURI: "https://ca.example/acct/1", Policy: "wildcard", Until: time.Unix(1800000000, 0).UTC()}},
		{raw: "ca.example; accounturi=https://a; policy=subdomains",
			want: acme.PersistValue{Issuer: "ca.example", AccountURI: "https://a"}},
		{raw: "", wantErr: "no issuer domain name"},
		{raw: "; accounturi=https://a", wantErr: "no issuer domain name"},
		{raw: "ca.example", wantErr: "no accounturi"},
		{raw: "ca.example; accounturi=https://a;", wantErr: `malformed parameter ""`},
		{raw: "ca.example; accounturi", wantErr: "malformed parameter"},
		{raw: "ca.example; accounturi=https://a; ACCOUNTURI=https://b", wantErr: `repeated parameter "accounturi"`},
		{raw: "ca.example; accounturi=https://a b", wantErr: `malformed value of "accounturi"`},
		{raw: "ca.example; accounturi=https://a; persistUntil=soon", wantErr: `persistUntil "soon" is not a Unix time`},
	} {
		got, err := acme.ParsePersistValue(tc.raw)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePersistValue(%q) = %v, want an error with %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePersistValue(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func FuzzParsePersistValue(f *testing.F) {
	f.Add("ca.example; accounturi=https://ca.example/acct/1; policy=wildcard; persistUntil=1800000000")
	f.Add(" x ;;=")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := acme.ParsePersistValue(raw)
		if err != nil {
			return
		}
		// What parses is written back the same way: the record it describes parses
		// to the same value.
		r := acme.PersistRecord{Issuer: v.Issuer, AccountURL: v.AccountURI, Wildcard: v.Policy == "wildcard", Until: v.Until}
		again, err := acme.ParsePersistValue(r.Value())
		if err != nil || again != v {
			t.Fatalf("%q: parsed %+v, written %q, parsed again %+v, %v", raw, v, r.Value(), again, err)
		}
	})
}

func TestPersistRecords(t *testing.T) {
	t.Parallel()
	until := time.Unix(1800000000, 0)
	recs := acme.PersistRecords([]string{"example.com", "*.example.com", "www.example.com"}, "ca.example", "https://ca.example/acct/1", until)
	if len(recs) != 2 {
		t.Fatalf("records = %+v, want 2 (a wildcard shares its apex's)", recs)
	}
	if recs[0].FQDN != "_validation-persist.example.com." || !recs[0].Wildcard {
		t.Errorf("first = %+v, want _validation-persist.example.com. with policy=wildcard", recs[0])
	}
	if got, want := recs[0].Value(), "ca.example; accounturi=https://ca.example/acct/1; policy=wildcard; persistUntil=1800000000"; got != want {
		t.Errorf("value = %q, want %q", got, want)
	}
	if recs[1].FQDN != "_validation-persist.www.example.com." || recs[1].Wildcard {
		t.Errorf("second = %+v", recs[1])
	}
	if got, want := acme.CAAValue("ca.example", "https://ca.example/acct/1"), "ca.example; accounturi=https://ca.example/acct/1; validationmethods=dns-persist-01"; got != want {
		t.Errorf("CAA = %q, want %q", got, want)
	}
}

func TestPersistRecordCurrent(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	min := now.Add(24 * time.Hour)
	u := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	plain := acme.PersistRecord{Issuer: "ca.example", AccountURL: "https://a/1"}
	wild := acme.PersistRecord{Issuer: "ca.example", AccountURL: "https://a/1", Wildcard: true}
	bounded := acme.PersistRecord{Issuer: "ca.example", AccountURL: "https://a/1", Until: now.Add(90 * 24 * time.Hour)}
	for _, tc := range []struct {
		name          string
		rec           acme.PersistRecord
		raw           string
		owns, current bool
	}{
		{"same", plain, "ca.example; accounturi=https://a/1", true, true},
		{"issuer case", plain, "CA.example; accounturi=https://a/1", true, false},
		{"issuer blanks", plain, " ca.example ; accounturi=https://a/1", true, true},
		{"wildcard covers apex", plain, "ca.example; accounturi=https://a/1; policy=wildcard", true, true},
		{"other account", plain, "ca.example; accounturi=https://a/2", false, false},
		{"other issuer", plain, "other.example; accounturi=https://a/1", false, false},
		{"malformed", plain, "ca.example; accounturi=https://a/1;", false, false},
		{"wildcard needs policy", wild, "ca.example; accounturi=https://a/1", true, false},
		{"wildcard", wild, "ca.example; accounturi=https://a/1; policy=wildcard", true, true},
		{"until far", plain, "ca.example; accounturi=https://a/1; persistUntil=" + u(48*time.Hour), true, true},
		{"until near", plain, "ca.example; accounturi=https://a/1; persistUntil=" + u(time.Hour), true, false},
		{"bounded wants until", bounded, "ca.example; accounturi=https://a/1", true, false},
		{"bounded far", bounded, "ca.example; accounturi=https://a/1; persistUntil=" + u(30*24*time.Hour), true, true},
	} {
		if got := tc.rec.Owns(tc.raw); got != tc.owns {
			t.Errorf("%s: Owns = %v, want %v", tc.name, got, tc.owns)
		}
		if got := tc.rec.Current(tc.raw, min); got != tc.current {
			t.Errorf("%s: Current = %v, want %v", tc.name, got, tc.current)
		}
	}
}

// TestPersistIssueAndFallback orders against the sandbox's Pebble: with the records in
// place, a wildcard and its apex are validated by dns-persist-01 with no record to
// present; a CA that offers no dns-persist-01 gets dns-01 challenges (Fallback).
func TestPersistIssueAndFallback(t *testing.T) {
	t.Parallel()
	for _, offer := range []bool{true, false} {
		t.Run("offered="+strconv.FormatBool(offer), func(t *testing.T) {
			t.Parallel()
			sb, err := sandbox.Start(t.Context(), sandbox.Options{Zones: []string{"example.com"}, NoDNSPersist: !offer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sb.Close() })
			c, _ := newClient(t, sb.CA(), clientOpts{})
			issuer, err := c.PersistIssuer(t.Context())
			if err != nil || issuer != sb.CA().PersistIssuer() {
				t.Fatalf("PersistIssuer = %q, %v; want %q", issuer, err, sb.CA().PersistIssuer())
			}
			domains := []string{"example.com", "*.example.com"}
			for _, r := range acme.PersistRecords(domains, issuer, c.AccountURL(), time.Now().Add(time.Hour)) {
				if err := sb.Route53().PutRecordSet(sb.Info().Zones["example.com."], r53sim.RecordSet{
					Name: r.FQDN, Type: "TXT", TTL: 60, Values: []string{`"` + r.Value() + `"`},
				}); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), orderBound)
			defer cancel()
			o, err := c.Begin(ctx, acme.OrderRequest{Name: "p", Domains: domains, Challenge: acme.ChallengeDNSPersist01, PersistIssuer: issuer})
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if offer {
				if len(o.Challenges) != 0 || len(o.Fallback) != 0 {
					t.Fatalf("challenges %+v, fallback %v; want none", o.Challenges, o.Fallback)
				}
				if _, err := c.Complete(ctx, o); err != nil {
					t.Fatalf("Complete: %v", err)
				}
				return
			}
			if len(o.Challenges) != 2 || len(o.Fallback) != 2 || o.Challenges[0].FQDN != "_acme-challenge.example.com." {
				t.Fatalf("challenges %+v, fallback %v; want two dns-01", o.Challenges, o.Fallback)
			}
			if err := c.Abandon(ctx, o); err != nil {
				t.Fatal(err)
			}
		})
	}
}
