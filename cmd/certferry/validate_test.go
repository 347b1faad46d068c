package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
)

// validateBase is a valid configuration whose {{...}} placeholders each case fills.
const validateBase = `acme:
  directory: {{directory}}
  email: ops@example.com
{{acme}}aws:
{{region}}certificates:
  - name: web
    domains: [{{domains}}]
    profile: {{profile}}
    sinks:
{{sinks}}{{hooks}}`

// TestCLIValidateChecks: every check validate makes beyond parsing, each with a
// configuration that fails it and the exact line it prints (after the file's path), exit
// code 2 and nothing on stdout; and the configurations that pass it.
func TestCLIValidateChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "notpem.pem", "not a certificate\n")
	hook := writeFile(t, dir, "hook.sh", "#!/bin/sh\n")
	if err := os.Chmod(hook, 0o644); err != nil {
		t.Fatal(err)
	}
	exe := writeFile(t, dir, "ok.sh", "#!/bin/sh\n")
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := writeFile(t, dir, "plainfile", "x")
	accounts := filepath.Join(dir, "accounts")
	if err := os.Mkdir(accounts, 0o700); err != nil {
		t.Fatal(err)
	}
	badAccount := writeFile(t, accounts, "account-0123456789abcdef.json", "{not json")
	missing := filepath.Join(dir, "missing.pem")
	names := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("n%d.example.com", i))
		}
		return strings.Join(s, ", ")
	}
	longNames := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("n%02d%s.%s.%s.example.com", i, strings.Repeat("a", 58), strings.Repeat("b", 61), strings.Repeat("b", 61)))
		}
		return strings.Join(s, ", ")
	}
	defaults := map[string]string{
		"directory": "letsencrypt-staging",
		"acme":      "",
		"region":    "  region: us-east-2\n",
		"domains":   "www.example.com",
		"profile":   "classic",
		"sinks":     "      secretsmanager: { secret: certferry/web }\n",
		"hooks":     "",
	}
	for _, tc := range []struct {
		name   string
		set    map[string]string
		lambda bool
		want   []string // lines after "<path>: "; none: valid
	}{
		{"good", nil, false, nil},
		{"good-lambda", nil, true, nil},
		{"ca-bundle-missing", map[string]string{"acme": "  ca_bundle: " + missing + "\n"}, false,
			[]string{"acme.ca_bundle: stat " + missing + ": no such file or directory"}},
		{"ca-bundle-not-pem", map[string]string{"acme": "  ca_bundle: " + notPEM + "\n"}, false,
			[]string{"acme.ca_bundle: " + notPEM + " holds no PEM certificate"}},
		{"issuer-roots-missing", map[string]string{"acme": "  issuer_roots: " + missing + "\n"}, false,
			[]string{"acme.issuer_roots: stat " + missing + ": no such file or directory"}},
		{"account-store-not-a-directory", map[string]string{"acme": "  account_store: file:" + notDir + "\n"}, false,
			[]string{"acme.account_store: " + notDir + " is not a directory"}},
		{"account-store-bad-account", map[string]string{"acme": "  account_store: file:" + accounts + "\n"}, false,
			[]string{"acme.account_store: file: account store: list " + badAccount + ": "}},
		{"account-store-absent", map[string]string{"acme": "  account_store: file:" + filepath.Join(dir, "new") + "\n"}, false, nil},
		{"hook-missing", map[string]string{"hooks": "    hooks:\n      on_renew:\n        - exec: [" + filepath.Join(dir, "nohook") + "]\n"}, false,
			[]string{fmt.Sprintf("certificates[0].hooks.on_renew[0].exec[0] (web): %q does not exist", filepath.Join(dir, "nohook"))}},
		{"hook-not-executable", map[string]string{"hooks": "    hooks:\n      on_renew:\n        - exec: [" + exe + "]\n      on_failure:\n        - exec: [" + hook + ", x]\n"}, false,
			[]string{fmt.Sprintf("certificates[0].hooks.on_failure[0].exec[0] (web): %q is not executable (mode -rw-r--r--)", hook)}},
		{"hook-directory", map[string]string{"hooks": "    hooks:\n      on_renew:\n        - exec: [" + dir + "]\n"}, false,
			[]string{fmt.Sprintf("certificates[0].hooks.on_renew[0].exec[0] (web): %q is a directory", dir)}},
		{"shortlived-26-names", map[string]string{"profile": "shortlived", "domains": names(26)}, false,
			[]string{`certificates[0].domains (web): 26 names; Let's Encrypt's "shortlived" profile takes at most 25 per certificate: split it, or use the classic profile (100)`}},
		{"tlsserver-26-names-production", map[string]string{"directory": "letsencrypt", "acme": "", "profile": "tlsserver", "domains": names(26)}, false,
			[]string{`certificates[0].domains (web): 26 names; Let's Encrypt's "tlsserver" profile takes at most 25 per certificate: split it, or use the classic profile (100)`}},
		{"shortlived-25-names", map[string]string{"profile": "shortlived", "domains": names(25)}, false, nil},
		{"classic-100-names", map[string]string{"domains": names(100)}, false, nil},
		{"secret-over-64KiB", map[string]string{"domains": longNames(100), "hooks": "    key_type: rsa4096\n"}, false,
			[]string{fmt.Sprintf("certificates[0].domains (web): its secret would be up to %d bytes (100 names, key type rsa4096), over the Secrets Manager limit of 65536: split the names over several certificates or use an EC key",
				renew.EstimateSecretSize(strings.Split(longNames(100), ", "), "rsa4096"))}},
		{"other-ca-26-shortlived", map[string]string{"directory": "https://ca.example.net/directory", "profile": "shortlived", "domains": names(26)}, false, nil},
		{"no-region", map[string]string{"region": "  endpoint_url: http://127.0.0.1:1\n"}, false,
			[]string{"aws: no region: set aws.region in the configuration or AWS_REGION"}},
		{"lambda-file-sink", map[string]string{"sinks": "      file: { dir: " + filepath.Join(dir, "out") + " }\n",
			"acme": "  account_store: file:" + filepath.Join(dir, "new") + "\n"}, true,
			[]string{`acme.account_store: "file:` + filepath.Join(dir, "new") + `" keeps the ACME account on the Lambda's local disk, which does not survive the invocation (every cold start would register a new account): use account_store: secretsmanager`,
				"certificates[0].sinks.file (web): a Lambda's disk does not survive the invocation; store the certificate in Secrets Manager only (sinks.secretsmanager)"}},
		{"file-sink-without-lambda", map[string]string{"sinks": "      file: { dir: " + filepath.Join(dir, "out") + " }\n"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			yaml := validateBase
			for k, v := range defaults {
				if s, ok := tc.set[k]; ok {
					v = s
				}
				yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
			}
			p := writeFile(t, t.TempDir(), "certferry.yaml", yaml)
			args := []string{"validate", "--config", p}
			if tc.lambda {
				args = append(args, "--lambda")
			}
			code, out, errOut := cli(t, args...)
			if len(tc.want) == 0 {
				if code != exitOK || !strings.Contains(out, ": ok (") {
					t.Fatalf("exit %d, stdout %q, stderr %q; want ok", code, out, errOut)
				}
				return
			}
			if code != exitUsage || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, out, exitUsage)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if !strings.HasPrefix(l, "warning: ") {
					lines = append(lines, l)
				}
			}
			if len(lines) != len(tc.want) {
				t.Fatalf("stderr:\n%s\nwant %d line(s)", errOut, len(tc.want))
			}
			for i, w := range tc.want {
				if l := lines[i]; l != p+": "+w && !(strings.HasSuffix(w, ": ") && strings.HasPrefix(l, p+": "+w)) {
					t.Errorf("line %d:\n got %s\nwant %s: %s", i, l, p, w)
				}
			}
		})
	}
}

// TestCLIValidateOnline: --online reads the CA's directory, the zones and the secrets,
// writes nothing, and exits 0 when all is well, 2 naming each problem, 3 when the CA or
// AWS does not answer.
func TestCLIValidateOnline(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, lifecycleConfig)
	validate := func(cfg string) (int, string, string) {
		t.Helper()
		e.SB.Calls().Reset()
		code, out, errOut := cli(t, "validate", "--config", cfg, "--online")
		if n := secretWrites(e.SB.Calls()) + e.SB.Calls().Count("acme", "NewOrder") + e.SB.Calls().Count("acme", "NewAccount") +
			e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); n != 0 {
			t.Errorf("validate --online wrote: %s", e.SB.Calls())
		}
		return code, out, errOut
	}
	if code, out, errOut := validate(e.cfg); code != exitOK || !strings.Contains(out, "ok online") {
		t.Fatalf("good: exit %d\n%s\n%s", code, out, errOut)
	}
	if e.SB.Calls().Count("route53", "ListHostedZones")+e.SB.Calls().Count("route53", "ListHostedZonesByName") == 0 {
		t.Errorf("no zone was looked up: %s", e.SB.Calls())
	}

	// The CA does not answer: exit 3, saying what was not checked.
	down := e.WriteConfig(t, strings.Replace(lifecycleConfig, "{{dir}}", "https://127.0.0.1:1/directory", 1))
	if code, _, errOut := validate(down); code != exitUnknown || !strings.Contains(errOut, down+": not checked: acme.directory: ") {
		t.Errorf("CA down: exit %d\n%s", code, errOut)
	}
	// A directory URL that is not an ACME directory: a problem of the configuration.
	notACME := e.WriteConfig(t, strings.Replace(lifecycleConfig, "{{dir}}", e.Info.ACMEDirectory+"/nope", 1))
	if code, _, errOut := validate(notACME); code != exitUsage || !strings.Contains(errOut, "acme.directory: ") {
		t.Errorf("not a directory: exit %d\n%s", code, errOut)
	}

	// AWS does not answer: exit 3.
	noAWS := e.WriteConfig(t, strings.Replace(lifecycleConfig, "{{endpoint}}", "http://127.0.0.1:1", 1))
	if code, _, errOut := validate(noAWS); code != exitUnknown || !strings.Contains(errOut, noAWS+": not checked: renew: secretsmanager: inventory: ") {
		t.Errorf("AWS down: exit %d\n%s", code, errOut)
	}
	// The same with only a file sink: the zone lookups get no answer.
	fileOnly := strings.Replace(strings.Replace(lifecycleConfig, "{{endpoint}}", "http://127.0.0.1:1", 1),
		"secretsmanager: { secret: certferry/web }", "file: { dir: {{files}} }", 1)
	if code, _, errOut := validate(e.WriteConfig(t, fileOnly)); code != exitUnknown || !strings.Contains(errOut, "not checked: certificate web: dns: ") {
		t.Errorf("AWS down, file sink only: exit %d\n%s", code, errOut)
	}

	// An account secret that holds something else.
	if _, err := e.SM.CreateSecret(t.Context(), &awssm.CreateSecretInput{Name: aws.String("certferry/other-account"),
		SecretString: aws.String("not an account")}); err != nil {
		t.Fatal(err)
	}
	badAccount := e.WriteConfig(t, strings.Replace(lifecycleConfig, "aws:\n", "  account_secret: certferry/other-account\naws:\n", 1))
	if code, _, errOut := validate(badAccount); code != exitUsage || !strings.Contains(errOut, badAccount+": acme.account_store: secretsmanager: account store: list certferry/other-account: ") {
		t.Errorf("bad account secret: exit %d\n%s", code, errOut)
	}

	// A name in no zone, and a secret that holds another program's value.
	lost := e.WriteConfig(t, sandboxConfig)
	if _, err := e.SM.CreateSecret(t.Context(), &awssm.CreateSecretInput{Name: aws.String("certferry/web"),
		SecretString: aws.String(`{"password": "hunter2"}`)}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := validate(lost)
	if code != exitUsage || out != "" {
		t.Errorf("bad: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{lost + `: certificate web: sinks.secretsmanager.secret "certferry/web" holds something certferry did not write`,
		lost + ": certificate lost: dns: ", "www.example.org"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "hunter2") {
		t.Errorf("the foreign secret's value reached the output")
	}

	// Coordination: the lease table answers, or its absence is a problem (beside the
	// foreign secret above).
	for table, bad := range map[string]bool{e.Info.LeaseTable: false, "no-such-table": true} {
		cfg := e.WriteConfig(t, strings.Replace(lifecycleConfig, "aws:\n", "coordination:\n  dynamodb_table: "+table+"\naws:\n", 1))
		code, _, errOut := validate(cfg)
		if code != exitUsage || strings.Contains(errOut, cfg+": coordination.dynamodb_table: lease: read certferry/validate: ") != bad {
			t.Errorf("lease table %s: exit %d\n%s", table, code, errOut)
		}
	}
}

// TestCLIValidateOnlineServerError: Secrets Manager answering 500 (an AWS outage) is AWS
// not answering, not a problem of the configuration: validate --online exits 3 saying
// what was not checked. It exited 2, naming acme.account_store as at fault.
func TestCLIValidateOnlineServerError(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, lifecycleConfig)
	e.SB.Calls().FailNext("secretsmanager", "GetSecretValue", 100, calls.Fault{Code: "InternalServiceError", Message: "outage"})
	code, _, errOut := cli(t, "validate", "--config", e.cfg, "--online")
	if code != exitUnknown || !strings.Contains(errOut, e.cfg+": not checked: acme.account_store: ") {
		t.Errorf("Secrets Manager answering 500: exit %d, stderr:\n%s\nwant exit %d, acme.account_store not checked", code, errOut, exitUnknown)
	}
}

// TestCLIValidateOnlineWrongIssuerRoots: acme.issuer_roots naming the CA's TLS roots (the
// file of acme.ca_bundle) passed validate --online while every stored certificate was
// the CA's; the next renewal's certificate would not verify. validate --online reads
// each stored certificate and finds it: exit 2, naming acme.issuer_roots.
func TestCLIValidateOnlineWrongIssuerRoots(t *testing.T) {
	t.Parallel()
	web := e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"))
	e := newCLIEnv(t, sandboxBase+web)
	if code, out, errOut := e.renew(t); code != exitOK {
		t.Fatalf("first renew: exit %d\n%s\n%s", code, out, errOut)
	}
	swapped := e.WriteConfig(t, strings.Replace(sandboxBase, "{{issuer}}", e.Info.ACMECABundle, 1)+web)
	code, _, errOut := cli(t, "validate", "--config", swapped, "--online")
	if code != exitUsage || !strings.Contains(errOut, "certificate web: acme.issuer_roots: the certificate certferry stored from this CA") {
		t.Errorf("issuer_roots naming the TLS roots: exit %d, stderr:\n%s", code, errOut)
	}
	if code, _, errOut := cli(t, "validate", "--config", e.cfg, "--online"); code != exitOK {
		t.Errorf("the right issuer_roots: exit %d, stderr:\n%s", code, errOut)
	}
}
