package main

// End-to-end tests of the lifecycle commands (revoke, retire, account) and of accounts
// per CA, through run() against the sandbox.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// lifecycleConfig has one certificate whose on_renew hook appends a line to
// {{files}}/hooks.log per run.
var lifecycleConfig = sandboxBase + e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")+`    hooks:
      on_renew:
        - exec: ["/bin/sh", "-c", "echo $CERTFERRY_VERSION_ID >> {{files}}/hooks.log"]
`)

func (e *cliEnv) hookRuns(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, "files", "hooks.log"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func (e *cliEnv) mustRenew(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e.renew(t, args...)
	if code != exitOK {
		t.Fatalf("renew %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	return out
}

func (e *cliEnv) tags(t *testing.T, secret string) map[string]string {
	t.Helper()
	d, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range d.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// Revoke, then --renew: a new serial is stored, the CA reports the old one revoked
// with the reason given, the hook runs once for the replacement, and the next pass
// finds nothing due (the revocation tag names the old serial only).
func TestCLIRevokeThenRenew(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t)
	e.mustRenew(t)
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	if n := e.hookRuns(t); n != 1 {
		t.Fatalf("hook ran %d times after the first issuance", n)
	}

	code, out, errOut := cli(t, "revoke", "web", "--config", e.cfg, "--reason", "superseded", "--renew")
	if code != exitOK {
		t.Fatalf("revoke --renew: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "serial "+old.Serial) || !strings.Contains(out, "reason superseded") {
		t.Errorf("revoke output:\n%s", out)
	}
	e.NoChallengeLeft(t)
	now := e.Stored(t, "certferry/web", "AWSCURRENT")
	if now.Serial == old.Serial {
		t.Fatal("--renew stored no new certificate")
	}
	st, err := e.SB.CA().CertStatus(t.Context(), old.Serial)
	if err != nil || !st.Revoked() || st.Reason == nil || *st.Reason != uint(acme.ReasonSuperseded) {
		t.Fatalf("the CA's status of the old serial: %+v %v", st, err)
	}
	if st, err := e.SB.CA().CertStatus(t.Context(), now.Serial); err != nil || st.Revoked() {
		t.Fatalf("the new serial: %+v %v", st, err)
	}
	if n := e.hookRuns(t); n != 2 {
		t.Errorf("hook ran %d times in all, want 2 (once per stored certificate)", n)
	}
	if rv, ok := smsink.Revoked(e.tags(t, "certferry/web"), old.Serial); !ok || rv.Reason != "superseded" {
		t.Errorf("revocation tag: %v", e.tags(t, "certferry/web")[smsink.TagRevoked])
	}
	e.SB.Calls().Reset()
	out = e.mustRenew(t)
	if e.SB.Calls().Count("acme", "NewOrder") != 0 || !strings.Contains(out, "not-due") {
		t.Errorf("the pass after the replacement ordered again:\n%s", out)
	}
}

// Without --renew the next ordinary pass replaces the revoked certificate (reason
// "revoked"); keyCompromise is signed with the certificate's key.
func TestCLIRevokeKeyCompromiseThenPass(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t)
	e.mustRenew(t)
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	code, out, errOut := cli(t, "revoke", "--config", e.cfg, "web", "--reason", "keyCompromise")
	if code != exitOK || !strings.Contains(out, "the next pass replaces it") {
		t.Fatalf("revoke: exit %d\n%s\n%s", code, out, errOut)
	}
	st, err := e.SB.CA().CertStatus(t.Context(), old.Serial)
	if err != nil || !st.Revoked() || st.Reason == nil || *st.Reason != uint(acme.ReasonKeyCompromise) {
		t.Fatalf("the CA's status: %+v %v", st, err)
	}
	// A revoke killed between the CA's answer and the tag: run again, it only records.
	if _, err := e.SM.UntagResource(t.Context(), &awssm.UntagResourceInput{SecretId: aws.String("certferry/web"), TagKeys: []string{smsink.TagRevoked}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli(t, "revoke", "web", "--config", e.cfg, "--reason", "keyCompromise")
	if code != exitOK || !strings.Contains(out, "was already revoked; recorded") {
		t.Fatalf("revoke again: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, ok := smsink.Revoked(e.tags(t, "certferry/web"), old.Serial); !ok {
		t.Fatal("the second revoke did not record the revocation")
	}
	// A compromised key is still served until the replacement is stored: status fails.
	if code, out, _ := cli(t, "status", "--config", e.cfg); code != exitFailed || !regexp.MustCompile(`(?m)^web +failing `).MatchString(out) || !strings.Contains(out, "keyCompromise") {
		t.Errorf("status after revoke --reason keyCompromise: exit %d, want %d and web failing\n%s", code, exitFailed, out)
	}
	out = e.mustRenew(t)
	if r := rowOf(t, out, "web"); r["ACTION"] != "renew" || r["REASON"] != "revoked" || r["RESULT"] != "ok" {
		t.Fatalf("the pass after revoke: %q\n%s", r, out)
	}
	now := e.Stored(t, "certferry/web", "AWSCURRENT")
	if now.Serial == old.Serial || now.Key == old.Key {
		t.Fatal("the revoked certificate or its key is still stored")
	}
	if n := e.hookRuns(t); n != 2 {
		t.Errorf("hook ran %d times, want 2", n)
	}
	if code, out, _ := cli(t, "status", "--config", e.cfg); code != exitOK || !regexp.MustCompile(`(?m)^web +ready `).MatchString(out) {
		t.Errorf("status after the replacement: exit %d\n%s", code, out)
	}

	// Usage errors come before any request.
	e.SB.Calls().Reset()
	for _, args := range [][]string{
		{"revoke", "--config", e.cfg},
		{"revoke", "web", "other", "--config", e.cfg},
		{"revoke", "web", "--config", e.cfg, "--reason", "bored"},
		{"revoke", "nope", "--config", e.cfg, "--renew"},
	} {
		if code, _, _ := cli(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if n := e.SB.Calls().Count("acme", "RevokeCert"); n != 0 {
		t.Errorf("bad usage reached the CA: %d revocations", n)
	}
}

// account rollover, then a renewal signed with the new key; the CA refuses the old key.
func TestCLIAccountRolloverThenRenew(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t)
	if code, _, errOut := cli(t, "account", "show", "--config", e.cfg); code != exitFailed || !strings.Contains(errOut, "no account stored") {
		t.Fatalf("account show before any renewal: exit %d %s", code, errOut)
	}
	if n := e.SB.Calls().Count("acme", "NewAccount"); n != 0 {
		t.Fatalf("account show registered an account (%d)", n)
	}
	e.mustRenew(t)
	show := func() acme.AccountInfo {
		t.Helper()
		code, out, errOut := cli(t, "account", "show", "--config", e.cfg, "--json")
		if code != exitOK {
			t.Fatalf("account show: exit %d\n%s", code, errOut)
		}
		var info acme.AccountInfo
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("account show --json: %v\n%s", err, out)
		}
		return info
	}
	before := show()
	if before.Status != "valid" || before.URL == "" || before.Contact[0] != "mailto:cli@example.com" {
		t.Fatalf("account before: %+v", before)
	}
	oldAccount, err := smsink.NewAccountStore(e.SM, "certferry/acme-account").Load(t.Context(), e.Info.ACMEDirectory, "")
	if err != nil {
		t.Fatal(err)
	}

	// A long-lived process (a daemon) that opened the account before the rollover.
	clock := time.Now()
	cfg, err := loadConfig(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	daemon := e.AppWith(t, cfg, func() time.Time { return clock }, nil)
	if sum := e.Pass(t, daemon, renew.Options{Force: true}); sum.Failed() != 0 {
		t.Fatalf("daemon pass before the rollover: %v", sum.Err())
	}

	if code, out, errOut := cli(t, "account", "rollover", "--config", e.cfg); code != exitOK || !strings.Contains(out, "key replaced") {
		t.Fatalf("account rollover: exit %d\n%s\n%s", code, out, errOut)
	}
	after := show()
	if after.URL != before.URL || after.KeyThumbprint == before.KeyThumbprint || after.Status != "valid" {
		t.Fatalf("after rollover: %+v (before %+v)", after, before)
	}
	if n := e.SB.Calls().Count("acme", "KeyChange"); n != 1 {
		t.Errorf("keyChange requests: %d", n)
	}
	e.SB.Calls().Reset()
	e.mustRenew(t, "--force")
	if e.SB.Calls().Count("acme", "Finalize") != 1 || e.SB.Calls().Count("acme", "NewAccount") != 0 {
		t.Fatalf("the renewal after the rollover: %s", e.SB.Calls())
	}
	// The daemon notices the new key in the store (within a minute) instead of failing
	// with the old one until restarted.
	clock = clock.Add(2 * time.Minute)
	if sum := e.Pass(t, daemon, renew.Options{Force: true}); sum.Failed() != 0 {
		t.Fatalf("daemon pass after the rollover: %v", sum.Err())
	}
	// The old key: the CA refuses it.
	dir := t.TempDir()
	oldStore := file.NewAccountStore(dir)
	if err := oldStore.Create(t.Context(), oldAccount); err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.Dir, "old.yaml", strings.Replace(readFile(t, e.cfg), "aws:", "  account_store: file:"+dir+"\naws:", 1))
	code, out, errOut := cli(t, "renew", "--config", filepath.Join(e.Dir, "old.yaml"), "--force")
	if code != exitFailed || !strings.Contains(out+errOut, "malformed") {
		t.Fatalf("renew with the old key: exit %d (want %d, the CA refusing)\n%s\n%s", code, exitFailed, out, errOut)
	}

	// update --email, deactivate.
	if code, _, errOut := cli(t, "account", "update", "--config", e.cfg, "--email", "not an address"); code != exitUsage {
		t.Fatalf("bad email: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "account", "update", "--config", e.cfg, "--email", "new@example.com"); code != exitOK {
		t.Fatalf("update: exit %d %s", code, errOut)
	}
	if info := show(); len(info.Contact) != 1 || info.Contact[0] != "mailto:new@example.com" {
		t.Fatalf("after update: %+v", info)
	}
	if code, _, errOut := cli(t, "account", "deactivate", "--config", e.cfg); code != exitUsage || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("deactivate without --yes: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "account", "deactivate", "--config", e.cfg, "--yes"); code != exitOK {
		t.Fatalf("deactivate: exit %d %s", code, errOut)
	}
	// The next renewal registers a new account.
	e.SB.Calls().Reset()
	e.mustRenew(t, "--force")
	if n := e.SB.Calls().Count("acme", "NewAccount"); n != 1 {
		t.Errorf("after deactivation: %d registrations, want 1", n)
	}
	if info := show(); info.URL == before.URL {
		t.Errorf("still the deactivated account %s", info.URL)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Switching acme.directory between two URLs of the same CA works both ways: each has
// its account in the one secret, and switching back registers nothing.
func TestCLIDirectorySwitchBothWays(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t)
	dirA := e.Info.ACMEDirectory
	dirB := strings.Replace(dirA, "127.0.0.1", "localhost", 1)
	// No issuance guard: the switches follow each other within seconds.
	cfgA := writeFile(t, e.Dir, "a.yaml", "issuance_guard: 0s\n"+readFile(t, e.cfg))
	cfgB := writeFile(t, e.Dir, "b.yaml", strings.Replace(readFile(t, cfgA), dirA, dirB, 1))
	e.cfg = cfgA

	e.mustRenew(t)
	for i, step := range []struct {
		cfg          string
		registration int
	}{{cfgB, 1}, {cfgA, 0}, {cfgB, 0}} {
		e.SB.Calls().Reset()
		e.cfg = step.cfg
		// No --force: the change of CA makes the certificate due.
		out := e.mustRenew(t)
		if r := rowOf(t, out, "web"); r["ACTION"] != "renew" || r["REASON"] != "ca-changed" || r["RESULT"] != "ok" {
			t.Errorf("step %d: %q\n%s", i, r, out)
		}
		if n := e.SB.Calls().Count("acme", "NewAccount"); n != step.registration {
			t.Errorf("step %d: %d registrations, want %d", i, n, step.registration)
		}
		// And the next pass on the same CA orders nothing.
		e.SB.Calls().Reset()
		e.mustRenew(t)
		if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
			t.Errorf("step %d: the pass after the switch ordered %d times", i, n)
		}
	}
	list, err := smsink.NewAccountStore(e.SM, "certferry/acme-account").List(t.Context())
	if err != nil || len(list) != 2 {
		t.Fatalf("accounts stored: %d (%v), want 2", len(list), err)
	}

	// The certificate stored now comes from B. With the configuration back on A, revoke
	// goes to B with B's account (A's account did not order it: the CA would refuse).
	fromB := e.Stored(t, "certferry/web", "AWSCURRENT")
	e.cfg = cfgA
	code, out, errOut := cli(t, "revoke", "web", "--config", e.cfg, "--reason", "superseded")
	if code != exitOK || !strings.Contains(errOut, "was issued by "+dirB) {
		t.Fatalf("revoke of B's certificate under A: exit %d\n%s\n%s", code, out, errOut)
	}
	if st, err := e.SB.CA().CertStatus(t.Context(), fromB.Serial); err != nil || !st.Revoked() {
		t.Fatalf("B's certificate at the CA: %+v %v", st, err)
	}
	e.SB.Calls().Reset()
	e.mustRenew(t)
	if n := e.SB.Calls().Count("acme", "NewAccount"); n != 0 {
		t.Errorf("%d registrations after the revoke", n)
	}
}

// retire of an orphan, with and without deleting its secret.
func TestCLIRetireOrphans(t *testing.T) {
	t.Parallel()
	two := strings.Replace(lifecycleConfig, "certificates:\n", e2etest.CertsYAML(e2etest.CertYAML("api", "api.example.com"), e2etest.CertYAML("old", "old.example.com")), 1)
	e := newCLIEnv(t, two)
	if err := os.MkdirAll(filepath.Join(e.Dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustRenew(t)
	api := e.Stored(t, "certferry/api", "AWSCURRENT")
	// The configuration drops api and old: they are orphans.
	e.cfg = e.WriteConfig(t, lifecycleConfig)
	if o := e.orphans(t); len(o) != 2 || o[0].Secret != "certferry/api" || o[0].Name != "api" || o[0].Serial != api.Serial ||
		o[0].NotAfter == nil || o[0].Revoked != "" || o[1].Secret != "certferry/old" {
		t.Fatalf("orphans: %+v", o)
	}
	code, out, errOut := cli(t, "status", "--config", e.cfg)
	if code != exitOK || !strings.Contains(out, "orphaned: 2 certificate(s)") || !strings.Contains(out, "certferry/old") {
		t.Fatalf("status table: exit %d\n%s\n%s", code, out, errOut)
	}

	// Bad usage first, touching nothing.
	for _, args := range [][]string{
		{"retire", "certferry/old", "--delete-secret", "--recovery-window", "5d"},
		{"retire", "certferry/old", "--delete-secret", "--recovery-window", "31d"},
		{"retire", "certferry/old", "--recovery-window", "7d"},
		{"retire", "certferry/old", "--reason", "superseded"},
		{"retire"},
		{"retire", "web", "--delete-secret"}, // still configured
	} {
		if code, _, errOut := cli(t, append(args, "--config", e.cfg)...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errOut)
		}
	}
	if code, _, errOut := cli(t, "retire", "nothing", "--config", e.cfg); code != exitFailed || !strings.Contains(errOut, "no certificate certferry stored") {
		t.Errorf("retire of an unknown name: exit %d %s", code, errOut)
	}

	// Without deletion, revoking: the secret stays, tagged.
	code, out, errOut = cli(t, "retire", "api", "--revoke", "--config", e.cfg)
	if code != exitOK || !strings.Contains(out, "the secret is kept") {
		t.Fatalf("retire api: exit %d\n%s\n%s", code, out, errOut)
	}
	if tags := e.tags(t, "certferry/api"); tags[smsink.TagRetired] == "" || tags[smsink.TagRevoked] == "" {
		t.Errorf("api tags: %v", tags)
	}
	if st, err := e.SB.CA().CertStatus(t.Context(), api.Serial); err != nil || !st.Revoked() || *st.Reason != uint(acme.ReasonCessationOfOperation) {
		t.Errorf("api at the CA: %+v %v", st, err)
	}
	if e.VersionCount(t, "certferry/api") == 0 {
		t.Error("api's secret is gone")
	}

	// With deletion: scheduled after the recovery window.
	code, out, errOut = cli(t, "retire", "certferry/old", "--delete-secret", "--recovery-window", "7d", "--config", e.cfg)
	if code != exitOK || !strings.Contains(out, "deletion scheduled") {
		t.Fatalf("retire old: exit %d\n%s\n%s", code, out, errOut)
	}
	d, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/old")})
	if err != nil || d.DeletedDate == nil {
		t.Fatalf("old after retire --delete-secret: %v %+v", err, d)
	}
	if days := d.DeletedDate.Sub(*d.LastChangedDate).Hours() / 24; days < 6.9 || days > 7.1 {
		t.Errorf("deletion in %.1f days, want 7", days)
	}
	// Listed as retired and revoked; a secret scheduled for deletion is no orphan.
	if o := e.orphans(t); len(o) != 1 || o[0].Secret != "certferry/api" || !strings.HasPrefix(o[0].Revoked, "cessationOfOperation ") || o[0].RetiredAt == nil {
		t.Fatalf("orphans after retire: %+v", o)
	}
	// The configured certificate is untouched.
	if e.VersionCount(t, "certferry/web") == 0 {
		t.Error("web's secret is gone")
	}
}

// orphans runs `status --output json`, checks it against the schema, and returns its
// orphans.
func (e *cliEnv) orphans(t *testing.T) []StatusOrphan {
	t.Helper()
	code, out, errOut := cli(t, "status", "--config", e.cfg, "--output", "json")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	validateStatusSchema(t, []byte(out))
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Orphans == nil {
		t.Fatalf("status --output json has no orphans array:\n%s", out)
	}
	return rep.Orphans
}

// rowOf returns a certificate's row of the summary table by column name.
func rowOf(t *testing.T, out, name string) map[string]string {
	t.Helper()
	// Column names may hold one space ("NOT AFTER"): split the header like the rows.
	var cols []string
	for _, f := range strings.Split(strings.SplitN(out, "\n", 2)[0], "  ") {
		if f = strings.TrimSpace(f); f != "" {
			cols = append(cols, f)
		}
	}
	r := summaryRows(t, out)[name]
	m := map[string]string{}
	for i, c := range cols {
		if i < len(r) {
			m[c] = r[i]
		}
	}
	return m
}

// TestCLIRevokeKeyCompromiseNeedsNoAccount: keyCompromise is signed with the
// certificate's key, so revoke opens no ACME account: with the account deactivated and
// the CA refusing every registration, the compromised certificate is still revoked, and
// nothing is registered.
func TestCLIRevokeKeyCompromiseNeedsNoAccount(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	e.mustRenew(t)
	if code, out, errOut := cli(t, "account", "deactivate", "--yes", "--config", e.cfg); code != exitOK {
		t.Fatalf("account deactivate: exit %d\n%s\n%s", code, out, errOut)
	}
	stored := e.Stored(t, "certferry/web", "AWSCURRENT")
	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("acme", "NewAccount", 10, calls.Fault{Code: "serverInternal", Message: "registrations are closed"})
	code, out, errOut := cli(t, "revoke", "web", "--reason", "keyCompromise", "--config", e.cfg)
	if code != exitOK {
		t.Fatalf("revoke --reason keyCompromise: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := e.SB.Calls().Count("acme", "NewAccount"); n != 0 {
		t.Errorf("%d registrations for a revocation signed with the certificate's key", n)
	}
	if st, err := e.SB.CA().CertStatus(t.Context(), stored.Serial); err != nil || !st.Revoked() {
		t.Errorf("the certificate at the CA: %+v %v", st, err)
	}
}

// retire --revoke (or revoke) of the secret a certificate was moved from (its configured
// secret renamed) is refused: the configured secret holds the same certificate, and servers
// read it there. Revoking it left that certificate ready, revoked at the CA, until ARI
// said otherwise. Without --revoke the old secret is retired as usual.
func TestCLIRetireRevokeKeepsAMovedCertificate(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t)
	e.mustRenew(t)
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	e.cfg = e.WriteConfig(t, strings.Replace(lifecycleConfig, "certferry/web", "certferry/web-new", 1))
	if out := e.mustRenew(t); !strings.Contains(out, "moved from secret certferry/web") {
		t.Fatalf("rename: %s", out)
	}
	for _, args := range [][]string{{"retire", "certferry/web", "--revoke"}, {"revoke", "certferry/web"}} {
		code, out, errOut := cli(t, append(args, "--config", e.cfg)...)
		if code != exitUsage || !strings.Contains(errOut, "certferry/web-new") {
			t.Errorf("%q: exit %d, want %d naming certferry/web-new\n%s\n%s", args, code, exitUsage, out, errOut)
		}
	}
	if st, err := e.SB.CA().CertStatus(t.Context(), old.Serial); err != nil || st.Revoked() {
		t.Fatalf("the moved certificate at the CA: %+v %v", st, err)
	}
	if code, out, errOut := cli(t, "retire", "certferry/web", "--config", e.cfg); code != exitOK {
		t.Errorf("retire without --revoke: exit %d\n%s\n%s", code, out, errOut)
	}
}

// newLifecycleEnv is a sandbox with lifecycleConfig and the directory its file sink
// writes into.
func newLifecycleEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := newCLIEnv(t, lifecycleConfig)
	if err := os.MkdirAll(filepath.Join(e.Dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}
