package renew_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// persistCerts are three certificates validated with dns-persist-01, one a wildcard
// and its apex.
var persistCerts = "challenge: dns-persist-01\n" + certsYAML(
	certYAML("wild", "*.example.net", "example.net"),
	certYAML("www", "www.example.com"),
	certYAML("api", "api.example.com", "api2.example.com"),
)

// TestE2EPersist: the first pass writes the _validation-persist records (one change per
// zone, no _acme-challenge record) and issues; a forced second pass renews all three
// with no Route 53 write and no INSYNC wait; a third one renews them although every
// change is refused (a runner without write permission); a certificate whose record is
// missing under that refusal fails before any order, naming the record and
// `certferry persist apply`.
func TestE2EPersist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, persistCerts)
	names := []string{"wild", "www", "api"}

	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	for _, n := range names {
		wantOK(t, sum, n, renew.ActionIssue, scheduler.ReasonMissing)
	}
	c := e.SB.Calls()
	if got := c.Count("route53", "ChangeResourceRecordSets"); got != 2 {
		t.Errorf("first pass: %d ChangeResourceRecordSets, want 2 (the records of each zone in one change, nothing else)", got)
	}
	acct := persistAccount(t, e)
	issuer := e.Info.PersistIssuer
	for name, want := range map[string]string{
		"_validation-persist.example.net.":      issuer + "; accounturi=" + acct + "; policy=wildcard",
		"_validation-persist.www.example.com.":  issuer + "; accounturi=" + acct,
		"_validation-persist.api.example.com.":  issuer + "; accounturi=" + acct,
		"_validation-persist.api2.example.com.": issuer + "; accounturi=" + acct,
	} {
		if got := persistValues(e, name); len(got) != 1 || got[0] != `"`+want+`"` {
			t.Errorf("%s holds %q, want %q", name, got, want)
		}
	}
	serials := map[string]string{}
	for _, n := range names {
		serials[n] = e.Stored(t, "certferry/"+n, "AWSCURRENT").Serial
	}

	renewAll := func(pass string) {
		t.Helper()
		sum := e.Pass(t, e.App(t, cfg), renew.Options{Force: true})
		for _, n := range names {
			wantOK(t, sum, n, renew.ActionRenew, scheduler.ReasonForced)
			s := e.Stored(t, "certferry/"+n, "AWSCURRENT").Serial
			if s == serials[n] {
				t.Errorf("%s pass: %s still holds serial %s", pass, n, s)
			}
			serials[n] = s
		}
		for _, op := range []string{"ChangeResourceRecordSets", "GetChange"} {
			if got := c.Count("route53", op); got != 0 {
				t.Errorf("%s pass: %d route53.%s, want 0", pass, got, op)
			}
		}
		if got := c.Count("acme", "NewOrder"); got != len(names) {
			t.Errorf("%s pass: %d orders, want %d", pass, got, len(names))
		}
	}
	c.Reset()
	renewAll("second")

	c.Reset()
	c.FailNext("route53", "ChangeResourceRecordSets", 1000, calls.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized to perform: route53:ChangeResourceRecordSets"})
	renewAll("third")

	// A fourth certificate, its record missing, under the same refusal.
	more := e.Config(t, persistCerts+certYAML("new", "new.example.com"))
	c.Reset()
	c.FailNext("route53", "ChangeResourceRecordSets", 1000, calls.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized to perform: route53:ChangeResourceRecordSets"})
	sum = e.Pass(t, e.App(t, more), renew.Options{Only: []string{"new"}})
	r := result(t, sum, "new")
	if r.Err() == nil || !strings.Contains(r.Error, "_validation-persist.new.example.com") || !strings.Contains(r.Error, "certferry persist apply") {
		t.Errorf("missing record: error %q, want one naming _validation-persist.new.example.com and certferry persist apply", r.Error)
	}
	if got := c.Count("acme", "NewOrder"); got != 0 {
		t.Errorf("missing record: %d orders, want 0", got)
	}
}

// TestE2EPersistFallback: a CA that offers no dns-persist-01 (Let's Encrypt production
// today) validates the certificate with dns-01, and the pass says so once.
func TestE2EPersistFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{NoDNSPersist: true})
	logs, logger := e2etest.DebugLog(t)
	cfg := e.Config(t, "challenge: dns-persist-01\n"+certsYAML(certYAML("a", "a.example.com"), certYAML("b", "*.b.example.com")))
	sum := e.Pass(t, e.AppWith(t, cfg, nil, logger), renew.Options{})
	for _, n := range []string{"a", "b"} {
		if r := wantOK(t, sum, n, renew.ActionIssue, scheduler.ReasonMissing); !r.Fallback {
			t.Errorf("%s: Fallback not set", n)
		}
	}
	if got := len(logs.Lines("falling back to dns-01")); got != 1 {
		t.Errorf("%d fallback log lines, want 1", got)
	}
}

// persistAccount is the URL of the ACME account the sandbox's CA knows.
func persistAccount(t *testing.T, e *env) string {
	t.Helper()
	vals := persistValues(e, "_validation-persist.www.example.com.")
	if len(vals) != 1 {
		t.Fatalf("_validation-persist.www.example.com holds %q", vals)
	}
	_, after, ok := strings.Cut(vals[0], "accounturi=")
	if !ok {
		t.Fatalf("no accounturi in %q", vals[0])
	}
	acct := strings.Trim(strings.SplitN(after, ";", 2)[0], `" `)
	if !strings.HasPrefix(acct, strings.TrimSuffix(e.Info.ACMEDirectory, "/dir")) {
		t.Fatalf("accounturi %q is not the sandbox CA's", acct)
	}
	return acct
}

func persistValues(e *env, name string) []string {
	for _, id := range e.Info.Zones {
		for _, rs := range e.SB.Route53().Records(id) {
			if rs.Type == "TXT" && rs.Name == name {
				return rs.Values
			}
		}
	}
	return nil
}

// TestE2EPersistUntilRewrittenAhead: with persist_until the record carries persistUntil;
// a pass while more than a third of it remains writes nothing, one after that rewrites
// the record (one change) with a new persistUntil.
func TestE2EPersistUntilRewrittenAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	clock := e2etest.NewClock(time.Now())
	cfg := e.Config(t, "challenge: dns-persist-01\npersist_until: 3d\n"+certsYAML(certYAML("www", "www.example.com")))
	const name = "_validation-persist.www.example.com."
	until := func() string {
		t.Helper()
		v := persistValues(e, name)
		if len(v) != 1 {
			t.Fatalf("%s holds %q", name, v)
		}
		_, u, _ := strings.Cut(v[0], "persistUntil=")
		return strings.Trim(u, `"`)
	}
	wantOK(t, e.Pass(t, e.AppWith(t, cfg, clock.Now, nil), renew.Options{}), "www", renew.ActionIssue, scheduler.ReasonMissing)
	first := until()
	if want := strconv.FormatInt(clock.Now().Add(72*time.Hour).Unix(), 10); first != want {
		t.Errorf("persistUntil %s, want %s", first, want)
	}
	c := e.SB.Calls()
	for _, step := range []struct {
		advance time.Duration
		changes int
	}{{24 * time.Hour, 0}, {36 * time.Hour, 1}} {
		clock.Add(step.advance)
		c.Reset()
		wantOK(t, e.Pass(t, e.AppWith(t, cfg, clock.Now, nil), renew.Options{Force: true}), "www", renew.ActionRenew, scheduler.ReasonForced)
		if got := c.Count("route53", "ChangeResourceRecordSets"); got != step.changes {
			t.Errorf("after %s more: %d ChangeResourceRecordSets, want %d", step.advance, got, step.changes)
		}
	}
	if got, want := until(), strconv.FormatInt(clock.Now().Add(72*time.Hour).Unix(), 10); got != want {
		t.Errorf("rewritten persistUntil %s, want %s", got, want)
	}
}

// TestE2EPersistRefusedValueRewritten: a value of this CA and account that the CA
// refuses, written by hand or left by an earlier configuration, is not taken as in
// place: a persistUntil that has passed (even when the configuration sets no
// persist_until), or the issuer spelt in capitals (the CA compares it exactly). The
// pass rewrites it (one change) instead of ordering against it, and the renewal
// succeeds.
func TestE2EPersistRefusedValueRewritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, "challenge: dns-persist-01\n"+certsYAML(certYAML("www", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "www", renew.ActionIssue, scheduler.ReasonMissing)
	const name = "_validation-persist.www.example.com."
	acct := persistAccount(t, e)
	issuer := e.Info.PersistIssuer
	for _, bad := range []string{
		issuer + "; accounturi=" + acct + "; persistUntil=1000",
		issuer + "; accounturi=" + acct + "; persistUntil=" + strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10),
		strings.ToUpper(issuer) + "; accounturi=" + acct,
	} {
		if err := e.SB.Route53().PutRecordSet(e.Info.Zones["example.com."], r53sim.RecordSet{Name: name, Type: "TXT", TTL: 60, Values: []string{`"` + bad + `"`}}); err != nil {
			t.Fatal(err)
		}
		c := e.SB.Calls()
		c.Reset()
		wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "www", renew.ActionRenew, scheduler.ReasonForced)
		if got := c.Count("route53", "ChangeResourceRecordSets"); got != 1 {
			t.Errorf("%q: %d ChangeResourceRecordSets, want 1 (the value rewritten)", bad, got)
		}
		if got, want := persistValues(e, name), `"`+issuer+"; accounturi="+acct+`"`; len(got) != 1 || got[0] != want {
			t.Errorf("%q: %s holds %q, want %q", bad, name, got, want)
		}
	}
}

// TestE2EPersistSharedNameDifferentNeeds: a wildcard certificate without persist_until
// and one for its apex with persist_until share one record, whose value satisfies both
// (policy=wildcard and the persistUntil): the first pass issues both, and a pass that
// renews either alone writes nothing (neither rewrites the record against the other).
func TestE2EPersistSharedNameDifferentNeeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	clock := e2etest.NewClock(time.Now())
	cfg := e.Config(t, "challenge: dns-persist-01\n"+certsYAML(
		certYAML("wild", "*.example.net", "example.net"),
		certYAML("apex", "example.net")+"    persist_until: 30d\n",
	))
	sum := e.Pass(t, e.AppWith(t, cfg, clock.Now, nil), renew.Options{})
	for _, n := range []string{"wild", "apex"} {
		wantOK(t, sum, n, renew.ActionIssue, scheduler.ReasonMissing)
	}
	const name = "_validation-persist.example.net."
	v := persistValues(e, name)
	if len(v) != 1 || !strings.Contains(v[0], "; policy=wildcard; persistUntil="+strconv.FormatInt(clock.Now().Add(30*24*time.Hour).Unix(), 10)) {
		t.Fatalf("%s holds %q, want one value with policy=wildcard and the apex's persistUntil", name, v)
	}
	c := e.SB.Calls()
	for _, only := range []string{"apex", "wild", "apex"} {
		clock.Add(24 * time.Hour)
		c.Reset()
		wantOK(t, e.Pass(t, e.AppWith(t, cfg, clock.Now, nil), renew.Options{Force: true, Only: []string{only}}), only, renew.ActionRenew, scheduler.ReasonForced)
		if got := c.Count("route53", "ChangeResourceRecordSets"); got != 0 {
			t.Errorf("renewing %s alone: %d ChangeResourceRecordSets, want 0; %s holds %q", only, got, name, persistValues(e, name))
		}
	}
}

// TestE2EPersistUnreadableNotCalledMissing: a record in place that the runner may not
// read (ListResourceRecordSets refused) blocks the certificate before any order, with
// an error that does not claim the record is missing and names the read permission.
func TestE2EPersistUnreadableNotCalledMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, "challenge: dns-persist-01\n"+certsYAML(certYAML("www", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "www", renew.ActionIssue, scheduler.ReasonMissing)
	c := e.SB.Calls()
	c.Reset()
	c.FailNext("route53", "ListResourceRecordSets", 1000, calls.Fault{Code: "AccessDenied", Status: 403, Message: "denied"})
	r := result(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "www")
	c.DropFaults()
	if r.Err() == nil || strings.Contains(r.Error, "is missing") || !strings.Contains(r.Error, "route53:ListResourceRecordSets") {
		t.Errorf("error %q: want one that does not call the record missing and names route53:ListResourceRecordSets", r.Error)
	}
	if got := c.Count("acme", "NewOrder"); got != 0 {
		t.Errorf("%d orders, want 0", got)
	}
}
