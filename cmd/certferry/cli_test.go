package main

// The CLI's wiring, through run(): flags, exit codes (docs/architecture.md), output, and whole
// passes against the sandbox. config/ tests the validation rules themselves; here a few
// bad configurations prove that every command reports them with exit code 2.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestMain gives the AWS SDK's default credential chain the sandbox's static keys and
// keeps it away from the host's files and instance metadata, once for the whole
// process, so that the tests (which build their AWS configuration as `certferry` does)
// can run in parallel.
func TestMain(m *testing.M) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           sandbox.Credentials,
		"AWS_SECRET_ACCESS_KEY":       sandbox.Credentials,
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		_ = os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "CERTFERRY_CONFIG", "AWS_SESSION_TOKEN"} {
		_ = os.Unsetenv(k)
	}
	code := m.Run()
	removeBuiltBinary()
	os.Exit(code)
}

// cli runs certferry with args and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `acme:
  directory: letsencrypt-staging
  email: ops@example.com
aws:
  region: us-east-2
certificates:
  - name: web
    domains: [www.example.com, example.com]
    sinks:
      secretsmanager: { secret: certferry/web }
`

func TestCLIValidateGood(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "good.yaml", goodConfig)
	code, out, errOut := cli(t, "validate", "--config", p)
	if code != exitOK || !strings.Contains(out, "ok (1 certificate(s), 2 name(s))") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCLIValidateScheduleWarnings: a fixed run interval that cannot keep a certificate
// valid is valid YAML, but validate says so loudly: a 7-day interval with a 6-day
// profile, and a 60-day interval against Let's Encrypt's coming 45-day default.
func TestCLIValidateScheduleWarnings(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(goodConfig, "certificates:", "schedule: { interval: 168h }\ncertificates:", 1)
	cfg = strings.Replace(cfg, "    sinks:", "    profile: shortlived\n    sinks:", 1)
	code, _, errOut := cli(t, "validate", "--config", writeFile(t, t.TempDir(), "weekly.yaml", cfg))
	if code != exitOK || !strings.Contains(errOut, "warning: schedule.interval: certificates[0] (web, profile \"shortlived\", expected lifetime 6d)") {
		t.Fatalf("validate weekly: exit %d, stderr %q", code, errOut)
	}
	cfg = strings.Replace(goodConfig, "certificates:", "schedule: { interval: 1440h }\ncertificates:", 1)
	code, _, errOut = cli(t, "validate", "--config", writeFile(t, t.TempDir(), "sixty.yaml", cfg))
	if code != exitOK || !strings.Contains(errOut, "warning: schedule.interval: Let's Encrypt's default lifetime becomes 45d on 2028-02-16") {
		t.Fatalf("validate 60 days: exit %d, stderr %q", code, errOut)
	}
}

// TestCLIBadConfig: validate and renew both refuse a bad configuration with exit code 2
// and a message naming the field (and renew touches nothing: no endpoint is configured
// that could answer).
func TestCLIBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"missing-email", strings.Replace(goodConfig, "  email: ops@example.com\n", "", 1), "acme.email"},
		{"bad-key-type", strings.Replace(goodConfig, "    sinks:", "    key_type: ec521\n    sinks:", 1), "certificates[0].key_type"},
		{"bad-domain", strings.Replace(goodConfig, "example.com]", "example..com]", 1), "certificates[0].domains[1]"},
		{"unknown-key", strings.Replace(goodConfig, "aws:\n", "aws:\n  regoin: x\n", 1), `regoin`},
		{"no-sink", strings.Replace(goodConfig, "      secretsmanager: { secret: certferry/web }\n", "", 1), "certificates[0].sinks"},
		{"no-certificates", goodConfig[:strings.Index(goodConfig, "certificates:")], "certificates"},
		{"unset-env", strings.Replace(goodConfig, "ops@example.com", "${CERTFERRY_TEST_UNSET_EMAIL}", 1), "CERTFERRY_TEST_UNSET_EMAIL"},
		{"bad-duration", goodConfig + "issuance_guard: soon\n", "issuance_guard"},
		{"syntax", goodConfig + "certificates: [\n", "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, t.TempDir(), "bad.yaml", tc.yaml)
			for _, cmd := range []string{"validate", "renew", "status"} {
				code, out, errOut := cli(t, cmd, "--config", p)
				if code != exitUsage {
					t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", cmd, code, exitUsage, out, errOut)
				}
				if !strings.Contains(errOut, tc.want) {
					t.Errorf("%s: stderr %q does not name %q", cmd, errOut, tc.want)
				}
				if !strings.Contains(errOut, p) && tc.name != "unset-env" {
					t.Errorf("%s: stderr %q does not name the file", cmd, errOut)
				}
			}
		})
	}
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "good.yaml", goodConfig)
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"renew", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"renew", "--config", p, "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"renew", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, exitUsage, "missing.yaml"},
		{[]string{"validate", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, exitUsage, "missing.yaml"},
		{[]string{"renew", "--config", p, "--log-level", "loud"}, exitUsage, `log level "loud"`},
		{[]string{"renew", "-h"}, exitOK, "Usage: certferry renew"},
		{[]string{"status", "--help"}, exitOK, "Usage: certferry status"},
		{[]string{"validate", "-h"}, exitOK, "Usage: certferry validate"},
		{[]string{"run", "-h"}, exitOK, "Usage: certferry run"},
		{[]string{"version"}, exitOK, ""},
		{[]string{"help"}, exitOK, ""},
	} {
		code, out, errOut := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("certferry %q: exit %d, stderr %q; want exit %d and %q (stdout %q)", tc.args, code, errOut, tc.code, tc.want, out)
		}
	}
}

// sandboxBase is the pass-wide part of the configurations for a running sandbox.
const sandboxBase = `acme:
  directory: {{dir}}
  email: cli@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 30s
log:
  format: json
`

// sandboxConfig is a configuration for a running sandbox: two certificates, "web" in a
// hosted zone (with a file sink too) and "lost" in none (it always fails).
var sandboxConfig = sandboxBase + e2etest.CertsYAML(
	e2etest.CertYAML("web", "www.example.com", "example.com")+"      file: { dir: {{files}} }\n",
	e2etest.CertYAML("lost", "www.example.org")+"    key_type: rsa2048\n")

type cliEnv struct {
	*e2etest.Env
	cfg string // path of the configuration
}

func newCLIEnv(t *testing.T, yaml string) *cliEnv {
	t.Helper()
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com", "example.net"}, InsyncAfter: 200 * time.Millisecond})
	return &cliEnv{Env: e, cfg: e.WriteConfig(t, yaml)}
}

// renew runs `certferry renew` and checks what must hold after every run: no TXT
// record left behind, no key material in any output.
func (e *cliEnv) renew(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"renew", "--config", e.cfg}, args...)...)
	e.NoChallengeLeft(t)
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, "PRIVATE KEY") {
			t.Errorf("output carries key material:\n%s", s)
		}
	}
	return code, out, errOut
}

// TestCLIRenewPartialFailure: one certificate fails (its domain is in no hosted zone),
// the other is issued in the same pass; the exit code is 1. Logs at debug level never
// carry key material.
func TestCLIRenewPartialFailure(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxConfig)

	code, out, errOut := e.renew(t, "--log-level", "debug")
	if code != exitFailed {
		t.Fatalf("renew: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, errOut)
	}
	if !strings.Contains(errOut, `"level":"debug"`) {
		t.Errorf("--log-level debug: no debug line in stderr")
	}
	table := summaryRows(t, out)
	if r := table["web"]; len(r) < 5 || r[1] != "issue" || r[2] != "missing" || r[3] != "ready" || r[4] != "ok" {
		t.Errorf("web row %q, want issue missing ready ok\n%s", r, out)
	}
	if r := table["lost"]; len(r) < 5 || r[1] != "failed" || r[3] != "failing" || !strings.HasPrefix(r[4], "FAILED:") {
		t.Errorf("lost row %q, want failed ... failing FAILED: ...\n%s", r, out)
	}
	if !strings.Contains(out, "pass: 2 certificate(s), 1 renewed, 1 failing (1 new), 0 interrupted, 0 hook failure(s)") {
		t.Errorf("summary line missing:\n%s", out)
	}
	if !strings.Contains(out, "www.example.org") && !strings.Contains(out, "hosted zone") {
		t.Errorf("the failure does not say which name has no zone:\n%s", out)
	}

	// The file sink wrote the key 0600 and the certificates 0644.
	for name, mode := range map[string]os.FileMode{"privkey.pem": 0o600, "fullchain.pem": 0o644, "cert.pem": 0o644, "chain.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(e.Dir, "files", name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", name, err, fi.Mode().Perm(), mode)
		}
	}

	// --only with an unknown name is a usage error naming the known ones.
	code, _, errOut = e.renew(t, "--only", "nope")
	if code != exitUsage || !strings.Contains(errOut, `"nope"`) || !strings.Contains(errOut, "web, lost") {
		t.Errorf("--only nope: exit %d, stderr %q; want %d naming web, lost", code, errOut, exitUsage)
	}

	// Only the good certificate: nothing due, exit 0, JSON summary.
	e.SB.Calls().Reset()
	code, out, errOut = e.renew(t, "--only", "web", "--json")
	if code != exitOK {
		t.Fatalf("--only web: exit %d\n%s\n%s", code, out, errOut)
	}
	var sum struct {
		Plan    bool `json:"plan"`
		Results []struct {
			Name      string    `json:"name"`
			Action    string    `json:"action"`
			Reason    string    `json:"reason"`
			Condition string    `json:"condition"`
			NotAfter  time.Time `json:"not_after"`
			DueAt     time.Time `json:"due_at"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(sum.Results) != 1 || sum.Results[0].Name != "web" || sum.Results[0].Action != "skip" || sum.Results[0].Reason != "not-due" ||
		sum.Results[0].Condition != "ready" || sum.Results[0].NotAfter.IsZero() || !sum.Results[0].DueAt.After(time.Now()) {
		t.Errorf("--json: %s", out)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder") + e.SB.Calls().Count("secretsmanager", "PutSecretValue"); n != 0 {
		t.Errorf("nothing-due pass made writes: %s", e.SB.Calls())
	}

	// The failing certificate keeps every run failing, including runs that do not
	// attempt it: renew exits 1 again and says it is still failing.
	code, out, _ = e.renew(t)
	if r := summaryRows(t, out)["lost"]; code != exitFailed || len(r) < 5 || r[3] != "failing" {
		t.Errorf("second renew: exit %d, lost row %q\n%s", code, r, out)
	}

	// status --output json lists both (schema: docs/status.schema.json), and exits 1
	// because one is failing.
	code, out, errOut = cli(t, "status", "--config", e.cfg, "--output", "json")
	if code != exitFailed {
		t.Fatalf("status: exit %d, want %d\n%s\n%s", code, exitFailed, out, errOut)
	}
	validateStatusSchema(t, []byte(out))
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	if len(rep.Certificates) != 2 || rep.Failing != 1 || rep.Version != StatusVersion {
		t.Fatalf("status --output json: %s", out)
	}
	web, lost := rep.Certificates[0], rep.Certificates[1]
	if web.Name != "web" || web.Condition != "ready" || web.Ready != "True" || web.NotAfter == nil || web.DaysLeft == nil || *web.DaysLeft < 80 || web.Due ||
		web.RenewalDueAt == nil || !web.RenewalDueAt.After(time.Now()) || !web.RenewalDueAt.Before(*web.NotAfter) || web.Serial == "" || web.KeyType != "ec256" {
		t.Errorf("status web: %+v", web)
	}
	// The failing certificate: its condition, since when, and why.
	if lost.Name != "lost" || lost.Condition != "failing" || lost.Ready != "False" || lost.NotAfter != nil || lost.FailingSince == nil ||
		!strings.Contains(lost.LastError, "no hosted zone") {
		t.Errorf("status lost: %+v", lost)
	}

	// The table forms.
	code, out, _ = cli(t, "status", "--config", e.cfg)
	if code != exitFailed || !strings.Contains(out, "CONDITION") || !strings.Contains(out, "failing") || !strings.Contains(out, "no hosted zone contains") {
		t.Errorf("status table: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "status", "--config", e.cfg, "--output", "wide")
	if code != exitFailed || !strings.Contains(out, "SERIAL") || !strings.Contains(out, "secretsmanager:") {
		t.Errorf("status wide: exit %d\n%s", code, out)
	}
}

// summaryRows parses the renew table: name -> fields split on runs of two spaces.
func summaryRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "ACTION") {
		t.Fatalf("no summary table:\n%s", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		var fields []string
		for _, f := range strings.Split(l, "  ") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) > 0 {
			rows[fields[0]] = fields
		}
	}
	return rows
}

// TestCLIPlan: --plan makes no write call and no ACME order, and prints the plan with
// reasons, the preflight's refusals included (exit 1: a certificate would fail).
func TestCLIPlan(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxConfig)
	code, out, errOut := e.renew(t, "--only", "web")
	if code != exitOK {
		t.Fatalf("renew --only web: exit %d\n%s\n%s", code, out, errOut)
	}
	e.SB.Calls().Reset()
	code, out, errOut = e.renew(t, "--plan", "--log-level", "debug")
	if code != exitFailed {
		t.Fatalf("--plan: exit %d, want %d (lost would be refused)\n%s\n%s", code, exitFailed, out, errOut)
	}
	table := summaryRows(t, out)
	if r := table["web"]; len(r) < 3 || r[1] != "skip" || r[2] != "not-due" {
		t.Errorf("web row %q\n%s", r, out)
	}
	if r := table["lost"]; len(r) < 4 || r[1] != "failed" || r[2] != "preflight" || r[3] != "failing" {
		t.Errorf("lost row %q\n%s", r, out)
	}
	if !strings.Contains(out, "plan (no order placed, nothing written)") || !strings.Contains(out, "lost: not ordered: dns: ") {
		t.Errorf("plan output lacks the plan's reasons:\n%s", out)
	}
	c := e.SB.Calls()
	for k, n := range c.Counts() {
		op := k[strings.IndexByte(k, '.')+1:]
		for _, w := range []string{"Create", "Put", "Tag", "Untag", "Change", "Update", "Delete", "NewOrder", "NewAccount", "Finalize"} {
			if n > 0 && strings.HasPrefix(op, w) {
				t.Errorf("plan made %d %s call(s)", n, k)
			}
		}
	}
	if c.Count("secretsmanager", "ListSecrets") != 1 {
		t.Errorf("plan: %s", c)
	}
}

// secretWrites counts the calls that would change a secret (its value or its tags).
func secretWrites(c *calls.Registry) int {
	n := 0
	for _, op := range []string{"PutSecretValue", "CreateSecret", "TagResource", "UntagResource", "UpdateSecretVersionStage", "UpdateSecret", "DeleteSecret"} {
		n += c.Count("secretsmanager", op)
	}
	return n
}

// TestCLIDryRun: --dry-run orders every selected certificate from the dry-run CA (here
// the sandbox's CA itself), publishes and removes its records, verifies the chain, and
// stores nothing: no value, no file, no hook, no state tag but the challenge journal's
// entry, written before it publishes and cleared after, whether a certificate is stored
// already (and not due) or not yet (its secret is then created, without a value, to hold
// the entry). A certificate that cannot be validated (a name in no hosted zone) fails
// before any order, naming the name, and the exit code is 1.
func TestCLIDryRun(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, lifecycleConfig)
	if err := os.MkdirAll(filepath.Join(e.Dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A dry run before anything was stored: the certificate is issued and dropped. The
	// one write it may make is the account registration (the account secret).
	code, out, errOut := e.renew(t, "--dry-run")
	if r := rowOf(t, out, "web"); code != exitOK || r["ACTION"] != "dry-run" || r["RESULT"] != "issued and verified; not stored" {
		t.Fatalf("first dry run: exit %d, row %q\n%s\n%s", code, r, out, errOut)
	}
	if !strings.Contains(out, "dry run (nothing stored, no hook run): 1 certificate(s), 1 issued and verified, 0 failed") {
		t.Errorf("dry run summary line:\n%s", out)
	}
	dryRunLeftOnlyItsSecret(t, e.Env)
	// A real pass stores it (exactly once: the dry run left no state behind).
	out = e.mustRenew(t)
	if r := rowOf(t, out, "web"); r["ACTION"] != "issue" || e.hookRuns(t) != 1 {
		t.Fatalf("renew after the dry run: %q, %d hook runs\n%s", r, e.hookRuns(t), out)
	}
	stored := e.Stored(t, "certferry/web", "AWSCURRENT")

	// A dry run of a stored, not due certificate: still ordered, still nothing written
	// but its journal entry (one TagResource to write it, one to clear it), after the
	// preflight's check that the state can be written (a TagResource with no effect).
	before := e.Tags(t, "certferry/web")
	e.SB.Calls().Reset()
	code, out, errOut = e.renew(t, "--dry-run")
	if r := rowOf(t, out, "web"); code != exitOK || r["ACTION"] != "dry-run" || r["REASON"] != "forced" {
		t.Fatalf("dry run: exit %d, row %q\n%s\n%s", code, r, out, errOut)
	}
	c := e.SB.Calls()
	if c.Count("acme", "NewOrder") < 1 || c.Count("acme", "Finalize") < 1 {
		t.Errorf("the dry run did not order: %s", c)
	}
	if n := secretWrites(c); n != 3 || c.Count("secretsmanager", "TagResource") != 3 || c.Count("acme", "NewAccount") != 0 {
		t.Errorf("the dry run wrote %d time(s) to Secrets Manager, want the check's and its journal entry's 3 TagResource: %s", n, c)
	}
	if after := e.Tags(t, "certferry/web"); !maps.Equal(nonEmpty(after), nonEmpty(before)) {
		t.Errorf("the dry run changed the secret's tags: %v, were %v", after, before)
	}
	if e.hookRuns(t) != 1 {
		t.Errorf("the dry run ran the on_renew hook")
	}
	if s := e.Stored(t, "certferry/web", "AWSCURRENT"); s.Serial != stored.Serial {
		t.Errorf("the stored certificate changed: %s, was %s", s.Serial, stored.Serial)
	}
	// And the next real pass has nothing to do.
	e.SB.Calls().Reset()
	if r := rowOf(t, e.mustRenew(t), "web"); r["ACTION"] != "skip" || e.SB.Calls().Count("acme", "NewOrder") != 0 {
		t.Errorf("the pass after the dry run: %q", r)
	}

	// --plan and --dry-run together, and --dry-run-directory alone, are usage errors.
	for _, args := range [][]string{{"--plan", "--dry-run"}, {"--dry-run-directory", "https://ca.example/dir"}, {"--dry-run", "--dry-run-directory", "http://ca.example/dir"}} {
		if code, _, errOut := e.renew(t, args...); code != exitUsage {
			t.Errorf("renew %q: exit %d, want %d (%s)", args, code, exitUsage, errOut)
		}
	}

	// A certificate with a name in no hosted zone: refused before any order.
	bad := newCLIEnv(t, sandboxConfig)
	code, out, errOut = bad.renew(t, "--dry-run", "--only", "lost")
	if code != exitFailed || !strings.Contains(out, "www.example.org") {
		t.Errorf("bad dry run: exit %d, want %d naming www.example.org\n%s\n%s", code, exitFailed, out, errOut)
	}
	if r := rowOf(t, out, "lost"); r["ACTION"] != "failed" || r["REASON"] != "preflight" {
		t.Errorf("bad dry run row %q\n%s", r, out)
	}
	if c := bad.SB.Calls(); c.Count("acme", "NewOrder") != 0 || secretWrites(c) != 0 {
		t.Errorf("bad dry run: %s", c)
	}
}

// TestCLIThrottled: a pass whose Route 53 changes are throttled still succeeds.
func TestCLIThrottled(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, strings.Replace(sandboxConfig, `domains: ["www.example.org"]`, `domains: ["www.example.net"]`, 1))
	e.SB.Calls().FailNext("route53", "ChangeResourceRecordSets", 2, calls.Fault{Code: "Throttling", Status: 400, Message: "Rate exceeded"})
	code, out, errOut := e.renew(t)
	if code != exitOK {
		t.Fatalf("renew: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); n < 6 {
		t.Errorf("ChangeResourceRecordSets: %d calls; want the 2 throttled ones retried (%s)", n, fmt.Sprint(e.SB.Calls()))
	}
}

// TestCLIDryRunOtherCA: the issued chain is verified in a dry run: against the
// configured roots when the dry run orders from the configured CA (here none are
// configured for the sandbox's issuer, so it fails, naming the verification), and up to
// the chain's own top certificate when it orders from another CA (--dry-run-directory,
// the same sandbox CA under another URL: Let's Encrypt's staging CA in production,
// whose roots no trust store holds).
func TestCLIDryRunOtherCA(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, strings.Replace(lifecycleConfig, "  issuer_roots: {{issuer}}\n", "", 1))
	code, out, errOut := e.renew(t, "--dry-run")
	if r := rowOf(t, out, "web"); code != exitFailed || r["ACTION"] != "failed" || !strings.Contains(r["RESULT"], "verify issued certificate") {
		t.Fatalf("dry run, no issuer roots: exit %d, row %q\n%s\n%s", code, r, out, errOut)
	}
	other := strings.Replace(e.Info.ACMEDirectory, "127.0.0.1", "localhost", 1)
	code, out, errOut = e.renew(t, "--dry-run", "--dry-run-directory", other)
	if r := rowOf(t, out, "web"); code != exitOK || r["ACTION"] != "dry-run" || !strings.Contains(out, "issued by "+other) {
		t.Fatalf("dry run on %s: exit %d, row %q\n%s\n%s", other, code, r, out, errOut)
	}
	dryRunLeftOnlyItsSecret(t, e.Env)
}

// dryRunLeftOnlyItsSecret checks what dry runs of a certificate never stored leave: its
// secret, created to hold the challenge journal, with no value and no state tag but its
// name (the entries cleared, no backoff, no error).
func dryRunLeftOnlyItsSecret(t *testing.T, e *e2etest.Env) {
	t.Helper()
	desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err != nil || len(desc.VersionIdsToStages) != 0 {
		t.Fatalf("the dry runs' secret: %v, versions %v; want one without a value", err, desc.VersionIdsToStages)
	}
	if tags := nonEmpty(e.Tags(t, "certferry/web")); len(tags) != 1 || tags[smsink.TagName] != "web" {
		t.Errorf("the dry runs left tags %v; want only %s", tags, smsink.TagName)
	}
}

// nonEmpty are the tags with a value (an empty one is no tag: docs/secret-format.md).
func nonEmpty(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// TestCLINeverFiringSchedule: a schedule that can never run (the 30th of February) or
// runs more often than schedule.min_period is refused by validate and by run, exit 2,
// naming the field and why, before anything starts (the daemon used to spin through
// back-to-back passes).
func TestCLINeverFiringSchedule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ schedule, want string }{
		{`"0 0 30 2 *"`, `schedule.cron: "0 0 30 2 *": never runs`},
		{`"* * * * *"`, `schedule.cron: "* * * * *": runs 1m apart, more often than schedule.min_period (5m) allows`},
	} {
		p := writeFile(t, t.TempDir(), "never.yaml", strings.Replace(goodConfig, "certificates:", "schedule: "+c.schedule+"\ncertificates:", 1))
		for _, cmd := range []string{"validate", "run"} {
			code, _, errOut := cli(t, cmd, "--config", p)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("%s with schedule %s: exit %d, stderr %q; want exit %d naming %q", cmd, c.schedule, code, errOut, exitUsage, c.want)
			}
		}
	}
}

// TestCLIRunFlagValues: --unhealthy-after 0 or negative would make /healthz fail at once
// or never: refused, exit 2.
func TestCLIRunFlagValues(t *testing.T) {
	t.Parallel()
	p := writeFile(t, t.TempDir(), "good.yaml", goodConfig)
	for _, v := range []string{"0", "-1h", "30s"} {
		code, _, errOut := cli(t, "run", "--config", p, "--unhealthy-after", v)
		if code != exitUsage || !strings.Contains(errOut, "--unhealthy-after "+v) {
			t.Errorf("run --unhealthy-after %s: exit %d, stderr %q", v, code, errOut)
		}
	}
}

// TestCLIWorldWritableHookRefused: run as root, an exec hook any local user could
// rewrite (mode 0777) is refused by validate and by renew, exit 2, naming the field and
// why, before anything runs; so is a world-writable file sink directory. A script run
// through env (["/usr/bin/env", "-S", "LC_ALL=C bash", script]) is checked as the
// program is: it passed validate unchecked.
func TestCLIWorldWritableHookRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the hook checks apply when certferry runs as root")
	}
	dir := t.TempDir()
	hook := writeFile(t, dir, "redeploy.sh", "#!/bin/sh\n")
	if err := os.Chmod(hook, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(goodConfig, "      secretsmanager: { secret: certferry/web }\n",
		"      secretsmanager: { secret: certferry/web }\n    hooks:\n      on_renew:\n        - exec: [\""+hook+"\"]\n", 1)
	p := writeFile(t, dir, "hook.yaml", cfg)
	want := `certificates[0].hooks.on_renew[0].exec[0] (web): "` + hook + `": ` + hook + ` is writable by every user (mode -rwxrwxrwx)`
	for _, cmd := range []string{"validate", "renew"} {
		code, _, errOut := cli(t, cmd, "--config", p)
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("%s with a world-writable hook: exit %d, stderr %q; want exit %d naming %q", cmd, code, errOut, exitUsage, want)
		}
	}
	// The same script run through env, as a shebang line would: env's options and
	// VAR=value words skipped, bash found on the hook's PATH.
	p = writeFile(t, dir, "env.yaml", strings.Replace(goodConfig, "      secretsmanager: { secret: certferry/web }\n",
		"      secretsmanager: { secret: certferry/web }\n    hooks:\n      on_renew:\n        - exec: [/usr/bin/env, -S, \"LC_ALL=C bash\", \""+hook+"\"]\n", 1))
	want = `certificates[0].hooks.on_renew[0].exec[3] (web): "` + hook + `": ` + hook + ` is writable by every user`
	if code, _, errOut := cli(t, "validate", "--config", p); code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("validate with a world-writable script run through env: exit %d, stderr %q; want exit %d naming %q", code, errOut, exitUsage, want)
	}

	sink := filepath.Join(dir, "shared")
	if err := os.Mkdir(sink, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sink, 0o777); err != nil {
		t.Fatal(err)
	}
	p = writeFile(t, dir, "sink.yaml", strings.Replace(goodConfig, "      secretsmanager: { secret: certferry/web }\n",
		"      secretsmanager: { secret: certferry/web }\n      file: { dir: "+sink+" }\n", 1))
	code, _, errOut := cli(t, "validate", "--config", p)
	if code != exitUsage || !strings.Contains(errOut, "certificates[0].sinks.file.dir (web): \""+sink+"\": writable by every user") {
		t.Errorf("validate with a world-writable sink directory: exit %d, stderr %q", code, errOut)
	}
}

// TestCLIWritableConfigRefused: run as root, a configuration file that another user
// could change (mode 0666, or in a directory every user may write into) is refused by
// validate and renew, exit 2, naming the path and why: it names the programs root runs
// and where keys are written, so the hook checks would be moot.
func TestCLIWritableConfigRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the configuration check applies when certferry runs as root")
	}
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	writable := writeFile(t, dir, "writable.yaml", goodConfig)
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{writable, writable + " is writable by every user (mode -rw-rw-rw-)"},
		{writeFile(t, open, "in-open-dir.yaml", goodConfig), "directory " + open + " is writable by every user"},
	} {
		for _, cmd := range []string{"validate", "renew"} {
			code, _, errOut := cli(t, cmd, "--config", c.path)
			if code != exitUsage || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "only root may be able to change it") {
				t.Errorf("%s --config %s: exit %d, stderr %q; want exit %d naming %q", cmd, c.path, code, errOut, exitUsage, c.want)
			}
		}
	}
	good := writeFile(t, dir, "good.yaml", goodConfig)
	if code, _, errOut := cli(t, "validate", "--config", good); code != exitOK {
		t.Errorf("validate of a 0600 configuration in a private directory: exit %d, stderr %q", code, errOut)
	}
}

// TestCLISwappedSecretsFailing: two certificates that swap secrets in the configuration
// are a broken configuration: status exits 1 and shows both failing. A certificate whose
// secret holds another certificate is failing even when nothing is due (here: "web"
// renamed "www", same names, same secret, its certificate fresh): the checks the
// inventory alone can answer run for every certificate. One secret named once by name
// and once by ARN is found from the file: exit 2, naming the field.
func TestCLISwappedSecretsFailing(t *testing.T) {
	t.Parallel()
	two := e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"), e2etest.CertYAML("api", "api.example.com"))
	e := newCLIEnv(t, sandboxBase+two)
	if code, out, errOut := e.renew(t); code != exitOK {
		t.Fatalf("first renew: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := cli(t, "status", "--config", e.cfg); code != exitOK {
		t.Fatalf("status before the swap: exit %d\n%s", code, out)
	}
	for name, c := range map[string]struct {
		certs   string
		failing []string
	}{
		"swapped": {strings.NewReplacer("secret: certferry/web", "secret: certferry/api", "secret: certferry/api", "secret: certferry/web").Replace(two), []string{"web", "api"}},
		"renamed": {strings.Replace(two, "name: web", "name: www", 1), []string{"www"}},
	} {
		cfg := e.WriteConfig(t, sandboxBase+c.certs)
		code, out, errOut := cli(t, "status", "--config", cfg, "--output", "json")
		var doc struct {
			Certificates []struct{ Name, Condition string } `json:"certificates"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s: status --output json: %v\n%s\n%s", name, err, out, errOut)
		}
		if code != exitFailed {
			t.Errorf("%s: status exit %d, want %d\n%s\n%s", name, code, exitFailed, out, errOut)
		}
		for _, cert := range doc.Certificates {
			if want := slices.Contains(c.failing, cert.Name); want != (cert.Condition == "failing") {
				t.Errorf("%s: %s is %s (want failing: %v)", name, cert.Name, cert.Condition, want)
			}
		}
	}
	arn := aws.ToString(describe(t, e.Env, "certferry/web").ARN)
	cfg := e.WriteConfig(t, sandboxBase+strings.Replace(two, "secret: certferry/api", "secret: "+arn, 1))
	for _, cmd := range []string{"validate", "status"} {
		if code, _, errOut := cli(t, cmd, "--config", cfg); code != exitUsage || !strings.Contains(errOut, "named once by name and once by ARN") {
			t.Errorf("%s with one secret by name and by ARN: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

func describe(t *testing.T, e *e2etest.Env, secret string) *awssm.DescribeSecretOutput {
	t.Helper()
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCLIStatusTimeout: status while ListSecrets hangs gives up at --timeout, exit 3
// (it waited for the SDK's three attempts of two minutes each).
func TestCLIStatusTimeout(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	e.SB.Calls().FailNext("secretsmanager", "ListSecrets", 100, calls.Fault{Hang: calls.HangForever})
	const timeout = 200 * time.Millisecond
	start := time.Now()
	code, out, errOut := cli(t, "status", "--config", e.cfg, "--timeout", timeout.String())
	if code != exitUnknown {
		t.Fatalf("status with ListSecrets hung: exit %d, want %d\n%s\n%s", code, exitUnknown, out, errOut)
	}
	if took := time.Since(start); took > testwait.For(timeout) {
		t.Errorf("status took %s with --timeout %s", took, timeout)
	}
}
