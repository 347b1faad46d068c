package main

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
)

// persistConfig: two certificates validated with dns-persist-01, sharing no record, and
// one more that shares the wildcard's apex record.
var persistConfig = sandboxBase + "challenge: dns-persist-01\n" + e2etest.CertsYAML(
	e2etest.CertYAML("wild", "*.example.net", "example.net"),
	e2etest.CertYAML("www", "www.example.com"),
	e2etest.CertYAML("apex", "example.net"),
)

// TestCLIPersist: plan shows the records missing (exit 1) and the CAA to add; apply
// writes them; plan then shows them in place (exit 0); a runner whose every Route 53
// change is refused renews; retire removes the retired certificate's record but keeps
// one another certificate needs.
func TestCLIPersist(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, persistConfig)
	code, out, errOut := cli(t, "persist", "plan", "--config", e.cfg)
	if code != exitFailed || strings.Count(out, "missing") != 3 || !strings.Contains(out, "validationmethods=dns-persist-01") ||
		!strings.Contains(out, "example.net. CAA 0 issuewild") {
		t.Fatalf("plan before apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "persist", "plan", "--only", "nope", "--config", e.cfg); code != exitUsage || !strings.Contains(errOut, `--only "nope"`) {
		t.Errorf("plan --only nope: exit %d %s", code, errOut)
	}
	code, out, errOut = cli(t, "persist", "apply", "--config", e.cfg)
	if code != exitOK || strings.Count(out, "written:") != 2 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, "persist", "plan", "--config", e.cfg)
	if code != exitOK || strings.Count(out, "in place") != 3 {
		t.Fatalf("plan after apply: exit %d\n%s\n%s", code, out, errOut)
	}
	e.mustRenew(t)
	code, out, errOut = cli(t, "status", "--config", e.cfg, "--output", "json")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	validateStatusSchema(t, []byte(out))
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Certificates {
		if c.Challenge != "dns-persist-01" || c.PersistRecords != "present" {
			t.Errorf("status of %s: challenge %q, records %q", c.Name, c.Challenge, c.PersistRecords)
		}
	}
	if code, out, _ := cli(t, "status", "--config", e.cfg); code != exitOK || !strings.Contains(out, "dns-persist-01 (records present)") {
		t.Errorf("status table: exit %d\n%s", code, out)
	}

	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("route53", "ChangeResourceRecordSets", 1000, calls.Fault{Code: "AccessDenied", Status: 403})
	e.mustRenew(t, "--force")
	if got := e.SB.Calls().Count("acme", "NewOrder"); got != 3 {
		t.Errorf("renew without write permission: %d orders, want 3", got)
	}
	e.SB.Calls().DropFaults()

	// The configuration drops wild and www: www's record goes, example.net's stays
	// (apex still needs it).
	e.cfg = e.WriteConfig(t, sandboxBase+"challenge: dns-persist-01\n"+e2etest.CertsYAML(e2etest.CertYAML("apex", "example.net")))
	for _, name := range []string{"www", "wild"} {
		code, out, errOut := cli(t, "retire", name, "--config", e.cfg)
		if code != exitOK {
			t.Fatalf("retire %s: exit %d\n%s\n%s", name, code, out, errOut)
		}
		if removed := strings.Contains(out, "removed the dns-persist-01 record"); removed != (name == "www") {
			t.Errorf("retire %s: output %q", name, out)
		}
	}
	zones := e.Info.Zones
	for _, rs := range e.SB.Route53().Records(zones["example.com."]) {
		if strings.HasPrefix(rs.Name, "_validation-persist.") {
			t.Errorf("after retire: %s %v is left", rs.Name, rs.Values)
		}
	}
	kept := false
	for _, rs := range e.SB.Route53().Records(zones["example.net."]) {
		kept = kept || rs.Name == "_validation-persist.example.net."
	}
	if !kept {
		t.Error("retire removed _validation-persist.example.net., which apex still needs")
	}
}

// TestPersistFallbackNoted: validate --online says nothing of a CA that names its
// issuer (the sandbox), and notes every dns-persist-01 certificate of a configuration
// on Let's Encrypt production, which holds the method.
func TestPersistFallbackNoted(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, persistConfig)
	code, out, errOut := cli(t, "validate", "--online", "--config", e.cfg)
	if code != exitOK || strings.Contains(out, "fall back") {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errOut)
	}
	cfg, err := config.Load(e.WriteConfig(t, strings.Replace(persistConfig, "  directory: {{dir}}\n", "  directory: letsencrypt\n", 1)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, zap.NewNop(), app.Options{AWS: &e.AWS})
	if err != nil {
		t.Fatal(err)
	}
	notes, err := a.PersistFallbacks(t.Context())
	if err != nil || len(notes) != 3 || !strings.Contains(notes[0], "certificates[0] (wild): challenge dns-persist-01 will fall back to dns-01: Let's Encrypt production") {
		t.Errorf("fallbacks on Let's Encrypt production: %q, %v", notes, err)
	}
}

// TestCLIPersistAccountDeactivated: deactivating the account warns that its records
// authorise nothing; the next pass registers a new account, writes records naming it
// (the old account's value stays, as any other account's) and issues.
func TestCLIPersistAccountDeactivated(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, persistConfig)
	e.mustRenew(t)
	code, out, errOut := cli(t, "account", "deactivate", "--yes", "--config", e.cfg)
	if code != exitOK || !strings.Contains(errOut, "authorise nothing now") || !strings.Contains(errOut, "certferry persist apply") {
		t.Fatalf("deactivate: exit %d\n%s\n%s", code, out, errOut)
	}
	// The records name the deactivated account: not in place for the next pass, which
	// registers a new account.
	if _, out, errOut := cli(t, "status", "--config", e.cfg); !strings.Contains(out, "dns-persist-01 (records missing)") {
		t.Errorf("status after deactivate: want the records missing\n%s\n%s", out, errOut)
	}
	e.mustRenew(t, "--force")
	var vals []string
	for _, rs := range e.SB.Route53().Records(e.Info.Zones["example.com."]) {
		if rs.Name == "_validation-persist.www.example.com." {
			vals = rs.Values
		}
	}
	if len(vals) != 2 {
		t.Errorf("_validation-persist.www.example.com holds %q, want the old account's value and the new one's", vals)
	}
}

// persistTXT returns the values of the TXT set name holds in the zone.
func persistTXT(e *cliEnv, zone, name string) []string {
	for _, rs := range e.SB.Route53().Records(e.Info.Zones[zone]) {
		if rs.Type == "TXT" && rs.Name == name {
			return rs.Values
		}
	}
	return nil
}

// TestCLIRetirePersistNoLongerConfigured: a certificate that used dns-persist-01 is
// retired after the configuration stopped using the method (switched back to dns-01,
// or the last such certificate removed): its record, which would keep authorising the
// account for the name, is removed all the same.
func TestCLIRetirePersistNoLongerConfigured(t *testing.T) {
	t.Parallel()
	for _, after := range []string{
		"challenge: dns-01\n" + e2etest.CertsYAML(e2etest.CertYAML("www", "www.example.com"), e2etest.CertYAML("api", "api.example.com")),
		e2etest.CertsYAML(e2etest.CertYAML("api", "api.example.com")),
	} {
		e := newCLIEnv(t, sandboxBase+"challenge: dns-persist-01\n"+e2etest.CertsYAML(e2etest.CertYAML("www", "www.example.com")))
		e.mustRenew(t)
		const name = "_validation-persist.www.example.com."
		if v := persistTXT(e, "example.com.", name); len(v) != 1 {
			t.Fatalf("after the pass: %s holds %q", name, v)
		}
		e.cfg = e.WriteConfig(t, sandboxBase+after)
		code, out, errOut := cli(t, "retire", "www", "--config", e.cfg)
		if code != exitOK || !strings.Contains(out, "removed the dns-persist-01 record at _validation-persist.www.example.com") {
			t.Errorf("retire: exit %d\n%s\n%s", code, out, errOut)
		}
		if v := persistTXT(e, "example.com.", name); len(v) != 0 {
			t.Errorf("after retire: %s still holds %q", name, v)
		}
	}
}

// TestCLIRetirePersistSharedCNAME: two certificates' _validation-persist names are
// CNAMEs to one record; retiring one keeps that record, which the other still needs.
func TestCLIRetirePersistSharedCNAME(t *testing.T) {
	t.Parallel()
	two := sandboxBase + "challenge: dns-persist-01\n" + e2etest.CertsYAML(e2etest.CertYAML("a", "a.example.com"), e2etest.CertYAML("b", "b.example.com"))
	e := newCLIEnv(t, two)
	const shared = "_validation-persist.shared.example.net."
	for _, n := range []string{"a", "b"} {
		if err := e.SB.Route53().PutRecordSet(e.Info.Zones["example.com."], r53sim.RecordSet{
			Name: "_validation-persist." + n + ".example.com.", Type: "CNAME", TTL: 60, Values: []string{shared}}); err != nil {
			t.Fatal(err)
		}
	}
	e.mustRenew(t)
	if v := persistTXT(e, "example.net.", shared); len(v) != 1 {
		t.Fatalf("after the pass: %s holds %q", shared, v)
	}
	e.cfg = e.WriteConfig(t, sandboxBase+"challenge: dns-persist-01\n"+e2etest.CertsYAML(e2etest.CertYAML("a", "a.example.com")))
	code, out, errOut := cli(t, "retire", "b", "--config", e.cfg)
	if code != exitOK || strings.Contains(out, "removed the dns-persist-01 record") {
		t.Errorf("retire b: exit %d\n%s\n%s", code, out, errOut)
	}
	if v := persistTXT(e, "example.net.", shared); len(v) != 1 {
		t.Errorf("after retire b: %s holds %q; a still needs it", shared, v)
	}
	if code, out, errOut := cli(t, "persist", "plan", "--config", e.cfg); code != exitOK {
		t.Errorf("plan after retire b: exit %d\n%s\n%s", code, out, errOut)
	}
}
