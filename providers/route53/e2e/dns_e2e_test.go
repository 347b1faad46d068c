package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/renew"
)

const (
	otherAccount = "210987654321"
	externalID   = "certferry-e2e"
)

// base is the pass-wide configuration: the sandbox DNS answers CNAME lookups of
// names in zones certferry cannot read.
const base = `acme:
  directory: {{dir}}
  email: e2e@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 30s
  resolvers: [{{dns}}]
`

func start(t *testing.T, opts sandbox.Options) *e2etest.Env {
	t.Helper()
	opts.InsyncAfter = 100 * time.Millisecond
	e := e2etest.Start(t, opts)
	e.Base = strings.ReplaceAll(base, "{{dns}}", e.Info.DNS)
	return e
}

// cname writes a CNAME in a zone of any account, as the zone's owner would.
func cname(t *testing.T, e *e2etest.Env, zone, name, target string) {
	t.Helper()
	id := e.Info.Zones[zone]
	if err := e.SB.Route53().PutRecordSet(id, r53sim.RecordSet{Name: name, Type: "CNAME", TTL: 300, Values: []string{target}}); err != nil {
		t.Fatal(err)
	}
}

func certYAML(name string, extra string, domains ...string) string {
	return fmt.Sprintf(`  - name: %s
    domains: [%s]
    profile: default
%s    sinks:
      secretsmanager: { secret: certferry/%s }
`, name, strings.Join(domains, ", "), extra, name)
}

// wantIssued fails the test unless every named certificate was issued.
func wantIssued(t *testing.T, sum *renew.Summary, names ...string) {
	t.Helper()
	for _, n := range names {
		if r := e2etest.Result(t, sum, n); r.Action != renew.ActionIssue || r.Error != "" {
			t.Errorf("%s: action %q error %q, want issued", n, r.Action, r.Error)
		}
	}
}

// TestE2ECNAMEIntoAnotherZone: www.example.com's _acme-challenge is a CNAME into
// example.org: the certificate is issued with no change to example.com; a wildcard
// and its apex behind one CNAME share one TXT set at the target (one change to
// present both, one to remove them).
func TestE2ECNAMEIntoAnotherZone(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.com", "example.org"}})
	cname(t, e, "example.com.", "_acme-challenge.www.example.com", "www.example.com.acme.example.org")
	cname(t, e, "example.com.", "_acme-challenge.example.com", "apex.acme.example.org")
	cfg := e.Config(t, "certificates:\n"+certYAML("www", "", "www.example.com")+certYAML("apex", "", "example.com", `"*.example.com"`))
	a := e.App(t, cfg)

	targets, errs := a.DNS().Targets(t.Context(), nil)
	if len(targets) != 0 || len(errs) != 0 {
		t.Fatal("Targets of nothing")
	}
	sum := e.Pass(t, a, renew.Options{})
	wantIssued(t, sum, "www", "apex")
	r53 := e.SB.Route53()
	if n := r53.Changes(e.Info.Zones["example.com."]); n != 0 {
		t.Errorf("example.com got %d changes, want 0", n)
	}
	if n := r53.Changes(e.Info.Zones["example.org."]); n != 2 {
		t.Errorf("example.org got %d changes, want 2 (present, clean up)", n)
	}
	for _, rs := range r53.Records(e.Info.Zones["example.org."]) {
		if rs.Type == "TXT" {
			t.Errorf("left behind: %s %v", rs.Name, rs.Values)
		}
	}
	e.Stored(t, "certferry/apex", "AWSCURRENT")
}

// TestE2ELockedZoneDelegated: example.com is in another account certferry has no
// role for; its _acme-challenge CNAMEs are read from DNS and the TXT goes to
// certferry's own zone; an alias needs no lookup at all.
func TestE2ELockedZoneDelegated(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.org"},
		Accounts: []sandbox.Account{{ID: otherAccount, Zones: []string{"example.com"}}}})
	cname(t, e, "example.com.", "_acme-challenge.www.example.com", "www.acme.example.org")
	cname(t, e, "example.com.", "_acme-challenge.api.example.com", "_acme-challenge.example.org")
	cfg := e.Config(t, "certificates:\n"+certYAML("www", "", "www.example.com")+
		certYAML("api", "    dns: { challenge_alias: example.org }\n", "api.example.com"))
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantIssued(t, sum, "www", "api")
	if n := e.SB.Route53().Changes(e.Info.Zones["example.com."]); n != 0 {
		t.Errorf("the locked zone got %d changes", n)
	}
}

// TestE2ECrossAccountRole: example.org is in another account. Without its role the
// certificate fails before any order with AccessDenied and an error naming the zone
// and the key to set; with the role (assumed once) it is issued.
func TestE2ECrossAccountRole(t *testing.T) {
	t.Parallel()
	acct := sandbox.Account{ID: otherAccount, Zones: []string{"example.org"}, ExternalID: externalID}
	e := start(t, sandbox.Options{Zones: []string{"example.com"}, Accounts: []sandbox.Account{acct}})
	org := e.Info.Zones["example.org."]
	cname(t, e, "example.com.", "_acme-challenge.www.example.com", "www.acme.example.org")

	// Without the role: the zone is known by id, written with the home credentials.
	cfg := e.Config(t, fmt.Sprintf("dns:\n  zones:\n    - { name: example.org, hosted_zone_id: %s }\ncertificates:\n", org)+certYAML("www", "", "www.example.com"))
	a := e.App(t, cfg)
	errs := a.DNS().Resolve(t.Context(), nil)
	if len(errs) != 0 {
		t.Fatal("Resolve of nothing")
	}
	sum := e.Pass(t, a, renew.Options{})
	r := e2etest.Result(t, sum, "www")
	for _, want := range []string{"AccessDenied", org, "example.org", "dns.zones", "assume_role_arn"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("error %q does not say %q", r.Error, want)
		}
	}
	if n := e.SB.Route53().Changes(org); n != 0 {
		t.Fatalf("example.org got %d changes without the role", n)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders without the role, want none (the preflight finds it)", n)
	}

	// With the role, found by name through it (its account's ListHostedZones).
	cfg = e.Config(t, fmt.Sprintf("dns:\n  zones:\n    - { name: example.org, assume_role_arn: %q, external_id: %s }\ncertificates:\n",
		acct.RoleARN(), externalID)+certYAML("www", "", "www.example.com")+certYAML("org", "", "a.example.org", "b.example.org"))
	e.SB.Calls().Reset()
	sum = e.Pass(t, e.App(t, cfg), renew.Options{Force: true})
	wantIssued(t, sum, "www", "org")
	if n := e.SB.Route53().Changes(org); n != 2 {
		t.Errorf("example.org got %d changes, want 2", n)
	}
	if n := e.SB.Calls().Count("sts", "AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole, want 1 (cached)", n)
	}
	if n := e.SB.Route53().Changes(e.Info.Zones["example.com."]); n != 0 {
		t.Errorf("example.com got %d changes", n)
	}
}

// TestE2EPinnedZones: a certificate-level and a per-name hosted_zone_id are used
// with no ListHostedZones call.
func TestE2EPinnedZones(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.com", "example.org"}})
	com, org := e.Info.Zones["example.com."], e.Info.Zones["example.org."]
	cfg := e.Config(t, "certificates:\n"+
		certYAML("one", "    hosted_zone_id: "+com+"\n", "www.example.com")+
		certYAML("two", "    hosted_zone_id: "+com+"\n    dns:\n      hosted_zone_ids: { www.example.org: "+org+" }\n", "api.example.com", "www.example.org"))
	e.SB.Calls().Reset()
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantIssued(t, sum, "one", "two")
	if n := e.SB.Calls().Count("route53", "ListHostedZones"); n != 0 {
		t.Errorf("%d ListHostedZones with pinned zones, want 0", n)
	}
	if n := e.SB.Route53().Changes(org); n != 2 {
		t.Errorf("example.org got %d changes, want 2", n)
	}
}

// TestE2EHundredDelegated: 100 certificates whose names are delegated by CNAME into
// one zone make 2 changes to it in the pass (present, clean up) and none elsewhere.
func TestE2EHundredDelegated(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.com", "example.org"}})
	var certs strings.Builder
	certs.WriteString("concurrency: 16\ncertificates:\n")
	for i := range 100 {
		name := fmt.Sprintf("h%03d", i)
		cname(t, e, "example.com.", "_acme-challenge."+name+".example.com", name+".acme.example.org")
		certs.WriteString(certYAML(name, "", name+".example.com"))
	}
	e.SB.Calls().Reset()
	sum := e.Pass(t, e.App(t, e.Config(t, certs.String())), renew.Options{})
	if sum.Failed() != 0 {
		t.Fatalf("%d failed: %v", sum.Failed(), sum.Err())
	}
	if n := e.SB.Route53().Changes(e.Info.Zones["example.org."]); n != 2 {
		t.Errorf("example.org got %d changes, want 2", n)
	}
	if n := e.SB.Route53().Changes(e.Info.Zones["example.com."]); n != 0 {
		t.Errorf("example.com got %d changes, want 0", n)
	}
	t.Logf("calls: %s", e.SB.Calls())
}

// TestE2ECNAMELoopBeforeOrder: a CNAME loop fails the certificate before any order,
// with an error naming the chain; the other certificate of the pass is issued.
func TestE2ECNAMELoopBeforeOrder(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.com", "example.org"}})
	cname(t, e, "example.com.", "_acme-challenge.loop.example.com", "a.example.org")
	cname(t, e, "example.org.", "a.example.org", "b.example.org")
	cname(t, e, "example.org.", "b.example.org", "a.example.org")
	cfg := e.Config(t, "certificates:\n"+certYAML("loop", "", "loop.example.com")+certYAML("www", "", "www.example.com"))
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantIssued(t, sum, "www")
	r := e2etest.Result(t, sum, "loop")
	if want := "CNAME loop: _acme-challenge.loop.example.com -> a.example.org -> b.example.org -> a.example.org"; !strings.Contains(r.Error, want) {
		t.Errorf("loop: %q, want it to say %q", r.Error, want)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1 (not the loop's)", n)
	}
}

// TestE2ESecretsManagerRole: aws.secretsmanager's role is assumed (once) for Secrets
// Manager, while Route 53 keeps certferry's own credentials.
func TestE2ESecretsManagerRole(t *testing.T) {
	t.Parallel()
	acct := sandbox.Account{ID: otherAccount, Role: "certferry-secrets", ExternalID: externalID}
	e := start(t, sandbox.Options{Zones: []string{"example.com"}, Accounts: []sandbox.Account{acct}})
	e.Base = strings.Replace(e.Base, "  endpoint_url: {{endpoint}}\n",
		fmt.Sprintf("  endpoint_url: {{endpoint}}\n  secretsmanager: { assume_role_arn: %q, external_id: %s }\n", acct.RoleARN(), externalID), 1)
	cfg := e.Config(t, "certificates:\n"+certYAML("www", "", "www.example.com"))
	e.SB.Calls().Reset()
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantIssued(t, sum, "www")
	if n := e.SB.Calls().Count("sts", "AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole, want 1", n)
	}
	e.Stored(t, "certferry/www", "AWSCURRENT")
}

// TestE2EWrongPinnedZoneBeforeOrder: a certificate pinned to a hosted zone that does not
// hold its names (example.org's id for www.example.com) fails before any order, the
// error naming both; validate --online's check says the same; nothing is written.
func TestE2EWrongPinnedZoneBeforeOrder(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Zones: []string{"example.com", "example.org"}})
	org := e.Info.Zones["example.org."]
	cfg := e.Config(t, "certificates:\n"+certYAML("web", "    hosted_zone_id: "+org+"\n", "www.example.com"))
	a := e.App(t, cfg)
	want := "hosted zone " + org + " is example.org, which does not hold _acme-challenge.www.example.com"
	problems, err := a.Runner.Check(t.Context(), renew.Options{})
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Error(), want) {
		t.Fatalf("validate --online's check = %v, %v; want one problem naming %q", problems, err, want)
	}
	sum := e.Pass(t, a, renew.Options{})
	r := sum.Results[0]
	if r.Condition != renew.ConditionFailing || !strings.Contains(r.LastError, want) {
		t.Fatalf("pass: condition %s, last error %q; want failing naming %q", r.Condition, r.LastError, want)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders placed for a wrongly pinned zone", n)
	}
	if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); n != 0 {
		t.Errorf("%d Route 53 writes", n)
	}
}
