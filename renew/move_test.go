package renew

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestMoveSources: which secrets of the inventory may hold a certificate whose secret was
// renamed, and which is used first.
func TestMoveSources(t *testing.T) {
	t.Parallel()
	const dir = "https://ca.example/dir"
	names := []string{"www.example.com", "example.com"}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src := func(secret string, edit func(*smsink.Stored)) smsink.Stored {
		s := smsink.Stored{Name: "web", Secret: secret, ARN: "arn:aws:secretsmanager:us-east-1:1:secret:" + secret + "-AbCdEf",
			DomainsHash: certs.HashDomains([]string{"example.com", "www.example.com"}), Directory: dir,
			NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour), CurrentVersionID: "v1", VersionID: "v1", TagsCurrent: true,
			Tags: map[string]string{smsink.TagName: "web"}}
		if edit != nil {
			edit(&s)
		}
		return s
	}
	want := moveWant{Secret: "new", Domains: names, Directory: dir, Taken: []string{"new", "other", "account"}}
	for _, tc := range []struct {
		name string
		inv  []smsink.Stored
		want []string // the sources, the one to use first
	}{
		{"none", nil, nil},
		{"the old secret", []smsink.Stored{src("old", nil)}, []string{"old"}},
		{"another name, same names and CA", []smsink.Stored{src("old", func(s *smsink.Stored) { s.Name, s.Tags[smsink.TagName] = "site", "site" })}, []string{"old"}},
		{"the configured secret itself", []smsink.Stored{src("new", nil)}, nil},
		{"used by another configured certificate", []smsink.Stored{src("other", nil)}, nil},
		{"used by another configured certificate, by ARN", []smsink.Stored{src("byarn", nil)}, nil},
		{"the account's secret", []smsink.Stored{src("account", func(s *smsink.Stored) { s.Tags[smsink.TagKind] = smsink.KindAccount })}, nil},
		{"a secret of the account kind", []smsink.Stored{src("old", func(s *smsink.Stored) { s.Tags[smsink.TagKind] = smsink.KindAccount })}, nil},
		{"not certferry's", []smsink.Stored{src("old", func(s *smsink.Stored) { delete(s.Tags, smsink.TagName) })}, nil},
		{"retired", []smsink.Stored{src("old", func(s *smsink.Stored) { s.Tags[smsink.TagRetired] = "2026-12-02T00:00:00Z" })}, nil},
		{"tags that do not describe the value", []smsink.Stored{src("old", func(s *smsink.Stored) { s.TagsCurrent = false })}, nil},
		{"no value", []smsink.Stored{src("old", func(s *smsink.Stored) { s.CurrentVersionID = "" })}, nil},
		{"other names", []smsink.Stored{src("old", func(s *smsink.Stored) { s.DomainsHash = certs.HashDomains([]string{"example.com"}) })}, nil},
		{"another CA", []smsink.Stored{src("old", func(s *smsink.Stored) { s.Directory = "https://other.example/dir" })}, nil},
		{"CA not recorded", []smsink.Stored{src("old", func(s *smsink.Stored) { s.Directory = "" })}, nil},
		{"two: the newest first", []smsink.Stored{
			src("a-old", nil),
			src("b-newer", func(s *smsink.Stored) { s.NotAfter = s.NotAfter.Add(time.Hour) }),
		}, []string{"b-newer", "a-old"}},
		{"two expiring together: by name", []smsink.Stored{src("b", nil), src("a", nil)}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv := map[string]smsink.Stored{}
			for _, s := range tc.inv {
				s.Tags = maps.Clone(s.Tags)
				inv[s.Secret] = s
			}
			w := want
			if tc.name == "used by another configured certificate, by ARN" {
				w.Taken = append(slices.Clone(w.Taken), "arn:aws:secretsmanager:us-east-1:1:secret:byarn-AbCdEf")
			}
			var got []string
			for _, s := range moveSources(inv, w) {
				got = append(got, s.Secret)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("sources %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPassMoveChecksTheOldValue: a certificate whose secret was renamed is copied from
// the old secret only when its value passes every check of a stored certificate; a value
// that cannot be read, does not chain to the CA's roots, or was revoked is never copied,
// and the certificate is ordered instead. The old secret is never written.
func TestPassMoveChecksTheOldValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, sec *fakeSecret)
		moved bool
	}{
		{"valid", func(*testing.T, *fakeSecret) {}, true},
		{"unreadable", func(_ *testing.T, sec *fakeSecret) { sec.foreign = true }, false},
		{"another CA", func(t *testing.T, sec *fakeSecret) {
			sec.bundle = certstest.NewCA(t).Bundle(t, "web", certstest.Leaf{Domains: []string{"www.example.com", "example.com"}})
		}, false},
		{"revoked", func(_ *testing.T, sec *fakeSecret) {
			sec.tags[smsink.TagRevoked] = smsink.Revocation{Serial: sec.bundle.Serial, Reason: "superseded", At: time.Now()}.TagValue()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			old := webCert()
			old.Secret = &smsink.Target{Secret: "certferry/old"}
			if res := only(t, w.pass(w.runner(old), Options{})); res.Action != ActionIssue {
				t.Fatalf("first pass: %+v", res)
			}
			sec := w.secrets.secret("certferry/old")
			tc.spoil(t, sec)
			oldBundle, oldTags := sec.bundle, maps.Clone(sec.tags)
			w.now = w.now.Add(time.Hour)
			res := only(t, w.pass(w.runner(webCert()), Options{}))
			got := w.secrets.secret("certferry/web").bundle
			if tc.moved {
				if res.Action != ActionMove || res.Reason != "moved" || w.ca.begins != 1 || got == nil || got.Serial != oldBundle.Serial {
					t.Fatalf("move: %s %s %q, %d orders", res.Action, res.Reason, res.Message, w.ca.begins)
				}
			} else if res.Action == ActionMove || w.ca.begins != 2 || got == nil || got.Serial == oldBundle.Serial || res.Condition != ConditionReady {
				t.Fatalf("%s %s %q, %d orders: want a new certificate ordered", res.Action, res.Reason, res.Message, w.ca.begins)
			}
			if sec.bundle != oldBundle || !maps.Equal(sec.tags, oldTags) {
				t.Errorf("the old secret was written")
			}
		})
	}
}

// TestLimitsCountAMovedCertificateOnce: a certificate moved from the secret it was
// renamed from is in both secrets, and was issued once: the CA's limits count it once, so
// the move does not hold back another certificate's order.
func TestLimitsCountAMovedCertificateOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	l := config.Limits{NewOrders: config.Limit{N: 2, Window: 3 * time.Hour}}
	old := namedCert("a", "a.example.com")
	old.Secret = &smsink.Target{Secret: "certferry/a-old"}
	if res := only(t, w.pass(w.limitsRunner(l, old), Options{})); res.Action != ActionIssue {
		t.Fatalf("first pass: %+v", res)
	}
	w.now = w.now.Add(time.Minute)
	if res := only(t, w.pass(w.limitsRunner(l, namedCert("a", "a.example.com")), Options{})); res.Action != ActionMove || w.ca.begins != 1 {
		t.Fatalf("rename: %s %s %q, %d orders", res.Action, res.Reason, res.Message, w.ca.begins)
	}
	w.now = w.now.Add(time.Minute)
	sum := w.pass(w.limitsRunner(l, namedCert("a", "a.example.com"), namedCert("b", "b.example.com")), Options{})
	if b := sum.Results[1]; b.Action != ActionIssue || w.ca.begins != 2 {
		t.Fatalf("b: %s %s %q, %d orders: one issuance counted twice", b.Action, b.Reason, b.Message, w.ca.begins)
	}
}

// renamedTo is webCert on another secret and key type.
func renamedTo(secret, keyType string) Cert {
	c := webCert()
	c.Secret, c.KeyType = &smsink.Target{Secret: secret}, keyType
	return c
}

// TestPassRenameBackCountsTheOtherSecret: the issuance guard counts the issuances
// recorded on a secret the certificate was renamed from even when its configured secret
// holds a certificate: renamed A to B with a change of key type (allowed once), then
// back to A with another, the guard held nothing (A's tags knew of A's issuance alone),
// and a third certificate for the same names was issued inside the guard.
func TestPassRenameBackCountsTheOtherSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if res := only(t, w.pass(w.runner(renamedTo("certferry/a", "ec256")), Options{})); res.Action != ActionIssue {
		t.Fatalf("first pass: %+v", res)
	}
	w.now = w.now.Add(time.Hour)
	if res := only(t, w.pass(w.runner(renamedTo("certferry/b", "ec384")), Options{})); res.Action != ActionRenew || w.ca.begins != 2 {
		t.Fatalf("A to B: %s %s %q, %d orders", res.Action, res.Reason, res.Message, w.ca.begins)
	}
	w.now = w.now.Add(time.Hour)
	res := only(t, w.pass(w.runner(renamedTo("certferry/a", "rsa2048")), Options{}))
	if res.Reason != scheduler.ReasonIssuanceGuard || w.ca.begins != 2 {
		t.Fatalf("B back to A: %s %s %q, %d orders: want held by the issuance guard", res.Action, res.Reason, res.Message, w.ca.begins)
	}
}

// TestPassMoveReadFailure: a read of the old secret that failed for a reason that may
// pass (a server error, throttling) fails the certificate for this pass, naming the
// secret, and orders nothing: ordering "missing" issued a duplicate the issuance guard
// could not see. The next pass moves it. A read the role is denied for good counts as
// no certificate there, and is ordered.
func TestPassMoveReadFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		orders int
	}{
		{"server error", errors.New("secretsmanager: get certferry/old (AWSCURRENT): operation error Secrets Manager: GetSecretValue, exceeded maximum number of attempts, 3, InternalServiceError"), 1},
		{"denied", fmt.Errorf("%w: AccessDeniedException", smsink.ErrAccessDenied), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if res := only(t, w.pass(w.runner(renamedTo("certferry/old", "ec256")), Options{})); res.Action != ActionIssue {
				t.Fatalf("first pass: %+v", res)
			}
			w.secrets.secret("certferry/old").getErr = tc.err
			w.now = w.now.Add(time.Hour)
			res := only(t, w.pass(w.runner(webCert()), Options{}))
			if w.ca.begins != tc.orders {
				t.Fatalf("%s %s %q: %d orders, want %d", res.Action, res.Reason, res.Message, w.ca.begins, tc.orders)
			}
			if tc.orders == 2 {
				return
			}
			if res.Condition != ConditionFailing || res.Reason != ReasonStoredUnreadable || !strings.Contains(res.Message, "certferry/old") {
				t.Errorf("%s %s %s %q: want failing, stored-unreadable, naming certferry/old", res.Action, res.Condition, res.Reason, res.Message)
			}
			w.secrets.secret("certferry/old").getErr = nil
			w.now = w.now.Add(time.Hour)
			if res := only(t, w.pass(w.runner(webCert()), Options{})); res.Action != ActionMove || w.ca.begins != 1 {
				t.Errorf("next pass: %s %s %q, %d orders: want moved", res.Action, res.Reason, res.Message, w.ca.begins)
			}
		})
	}
}

// TestPassMoveRevokedOnAnyCopy: a certificate moved from A to B is in both; revoked
// through B, its revocation is recorded on B alone. Renamed again (to C), the sources A
// and B expire together and A came first: the revoked certificate was moved and ready.
// Renamed back to A, which holds it, it was ready too, and the daemon's health_refresh
// still says so. Either way it is due: revoked.
func TestPassMoveRevokedOnAnyCopy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	issueThenMove(t, w, "certferry/a", "certferry/b")
	b := w.secrets.secret("certferry/b")
	b.tags[smsink.TagRevoked] = smsink.Revocation{Serial: b.bundle.Serial, Reason: "superseded", At: w.now}.TagValue()
	for _, tc := range []struct {
		to   string
		opts Options
	}{{"certferry/c", Options{Plan: true}}, {"certferry/a", Options{Plan: true}}, {"certferry/a", Options{Refresh: true}}} {
		w.now = w.now.Add(time.Hour)
		res := only(t, w.pass(w.runner(renamedTo(tc.to, "ec256")), tc.opts))
		if res.Reason != scheduler.ReasonRevoked {
			t.Errorf("renamed to %s, %+v: %s %s %q, want due, revoked", tc.to, tc.opts, res.Action, res.Reason, res.Message)
		}
	}
}

// TestPassMoveSkipsASpoiledNewest: the newest source whose value is not what its tags
// say (hand-edited) does not hide an older one that holds the certificate: it is moved
// from there, with no order. Only the newest was read, and a new certificate ordered.
func TestPassMoveSkipsASpoiledNewest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	issueThenMove(t, w, "certferry/z-good", "certferry/a-spoiled")
	w.secrets.secret("certferry/a-spoiled").foreign = true
	w.now = w.now.Add(time.Hour)
	res := only(t, w.pass(w.runner(webCert()), Options{}))
	if res.Action != ActionMove || !strings.Contains(res.Message, "certferry/z-good") || w.ca.begins != 1 {
		t.Errorf("%s %s %q, %d orders: want moved from certferry/z-good", res.Action, res.Reason, res.Message, w.ca.begins)
	}
}

// TestPassSweepsARenamedSecretsJournal: a run killed mid-order journaled its DNS-01
// records on the certificate's secret; the configuration then renamed the secret. The
// journal of the old secret is swept as the configured one's is (its records removed
// once no runner needs them, its entries cleared): no pass read it, and the records
// stayed in the zone for good. An entry whose order cannot be read, and a secret that is
// another certificate's, are left alone.
func TestPassSweepsARenamedSecretsJournal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if res := only(t, w.pass(w.runner(renamedTo("certferry/old", "ec256")), Options{})); res.Action != ActionIssue {
		t.Fatalf("first pass: %+v", res)
	}
	w.ca.orders["https://ca.test/order/dead"] = []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: "_acme-challenge.www.example.com.", Value: "a"}}}
	w.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.www.example.com.", Value: "a"}})
	w.secrets.setState(t, "certferry/old", "web", map[string]string{
		smsink.JournalTag(0): smsink.FormatTime(w.now.Add(-time.Minute)) + " https://ca.test/order/dead",
		// An order this account cannot read: another configuration's, left to it.
		smsink.JournalTag(1): smsink.FormatTime(w.now.Add(-time.Minute)) + " https://ca.test/order/not-ours",
	})
	w.ca.orders["https://ca.test/order/other"] = []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: "_acme-challenge.api.example.com.", Value: "b"}}}
	w.dns.Present(t.Context(), []Record{{FQDN: "_acme-challenge.api.example.com.", Value: "b"}})
	w.secrets.setState(t, "certferry/api", "api", map[string]string{
		smsink.JournalTag(0): smsink.FormatTime(w.now.Add(-time.Minute)) + " https://ca.test/order/other",
	})
	w.now = w.now.Add(time.Hour)
	if res := only(t, w.pass(w.runner(webCert()), Options{})); res.Action != ActionMove {
		t.Fatalf("rename: %+v", res)
	}
	if vals := w.dns.values["_acme-challenge.www.example.com."]; len(vals) != 0 {
		t.Errorf("values left by the run killed before the rename: %v", vals)
	}
	if tags := w.secrets.tags("certferry/old"); tags[smsink.JournalTag(0)] != "" || tags[smsink.JournalTag(1)] == "" {
		t.Errorf("the old secret's journal after the sweep: %v; want the dead order's entry cleared, the unreadable one kept", tags)
	}
	if vals := w.dns.values["_acme-challenge.api.example.com."]; !vals["b"] {
		t.Errorf("another certificate's records were swept: %v", vals)
	}
}

// issueThenMove issues the certificate into secret from, then an hour later renames its
// secret to to, failing the test unless the first pass issued it and the second moved it.
func issueThenMove(t *testing.T, w *world, from, to string) {
	t.Helper()
	if res := only(t, w.pass(w.runner(renamedTo(from, "ec256")), Options{})); res.Action != ActionIssue {
		t.Fatalf("first pass, into %s: %+v", from, res)
	}
	w.now = w.now.Add(time.Hour)
	if res := only(t, w.pass(w.runner(renamedTo(to, "ec256")), Options{})); res.Action != ActionMove {
		t.Fatalf("%s to %s: %+v", from, to, res)
	}
}
