package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestCLIPreflightRefusesBeforeOrdering: secrets certferry must not write are refused
// before any order, on every pass: a secret holding another program's value, a secret
// scheduled for deletion. Three passes place no order, and each exits 1 with every one
// of them failing for reason preflight. validate --online finds the same. The ACME
// account's secret named by its ARN, and one secret named by two certificates once by
// name and once by ARN, are refused from the file itself (exit 2).
func TestCLIPreflightRefusesBeforeOrdering(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, lifecycleConfig)
	if err := os.MkdirAll(filepath.Join(e.Dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustRenew(t) // registers the account (its secret now exists) and stores web
	ctx := t.Context()
	create := func(name string, value *string) string {
		t.Helper()
		out, err := e.SM.CreateSecret(ctx, &awssm.CreateSecretInput{Name: aws.String(name), SecretString: value})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	create("certferry/foreign", aws.String(`{"password": "hunter2"}`))
	create("certferry/deleting", aws.String("something"))
	if _, err := e.SM.DeleteSecret(ctx, &awssm.DeleteSecretInput{SecretId: aws.String("certferry/deleting"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	sharedARN := create("certferry/shared", nil) // made by Terraform, say: no value, no tag
	acct, err := e.SM.DescribeSecret(ctx, &awssm.DescribeSecretInput{SecretId: aws.String("certferry/acme-account")})
	if err != nil {
		t.Fatal(err)
	}
	cert := func(name, secret string) string {
		return "  - name: " + name + "\n    domains: [" + name + ".example.com]\n    profile: default\n    sinks:\n      secretsmanager: { secret: \"" + secret + "\" }\n"
	}
	// A secret named by its ARN beside its name (the account's, another certificate's) is
	// refused from the file itself, before anything runs.
	byARN := e.WriteConfig(t, lifecycleConfig+cert("account", aws.ToString(acct.ARN))+cert("byname", "certferry/shared")+cert("byarn", sharedARN))
	for _, cmd := range []string{"renew", "validate"} {
		code, _, errOut := cli(t, cmd, "--config", byARN)
		if code != exitUsage || strings.Count(errOut, "(named once by name and once by ARN)") != 2 {
			t.Errorf("%s with secrets named by name and by ARN: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	cfg := e.WriteConfig(t, lifecycleConfig+cert("foreign", "certferry/foreign")+cert("deleting", "certferry/deleting"))
	want := map[string]string{
		"foreign":  `sinks.secretsmanager.secret "certferry/foreign" holds something certferry did not write`,
		"deleting": `sinks.secretsmanager.secret "certferry/deleting" is scheduled for deletion`,
	}
	e.SB.Calls().Reset()
	for pass := 1; pass <= 3; pass++ {
		code, out, errOut := cli(t, "renew", "--config", cfg, "--json")
		e.NoChallengeLeft(t)
		if code != exitFailed {
			t.Fatalf("pass %d: exit %d, want %d\n%s\n%s", pass, code, exitFailed, out, errOut)
		}
		var sum struct {
			Results []struct {
				Name, Reason, Condition string
				LastError               string `json:"last_error"`
				NextAttempt             string `json:"next_attempt"`
			}
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("pass %d: %v\n%s", pass, err, out)
		}
		for _, r := range sum.Results {
			msg, ok := want[r.Name]
			if !ok {
				continue
			}
			// Failing, for the reason, with no backoff that would hide it: the next
			// attempt is the next pass (a time, never in the future).
			next, err := time.Parse(time.RFC3339Nano, r.NextAttempt)
			if r.Reason != "preflight" || r.Condition != "failing" || err != nil || next.After(time.Now()) || !strings.Contains(r.LastError, msg) {
				t.Errorf("pass %d: %s: %+v; want failing for %q", pass, r.Name, r, msg)
			}
		}
		if strings.Contains(out+errOut, "hunter2") {
			t.Fatalf("the foreign secret's value reached the output")
		}
		if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
			t.Fatalf("pass %d: %d order(s) for certificates that cannot be stored", pass, n)
		}
	}
	// The table: every refused certificate is failing, reason preflight.
	_, out, _ := cli(t, "renew", "--config", cfg)
	for name := range want {
		if r := rowOf(t, out, name); r["REASON"] != "preflight" || r["CONDITION"] != "failing" {
			t.Errorf("%s: %q\n%s", name, r, out)
		}
	}
	if r := rowOf(t, out, "web"); r["CONDITION"] != "ready" {
		t.Errorf("web: %q", r)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder") + e.SB.Calls().Count("secretsmanager", "PutSecretValue"); n != 0 {
		t.Fatalf("%d order(s) or value write(s): %s", n, e.SB.Calls())
	}
	// validate --online names each of them too.
	code, _, errOut := cli(t, "validate", "--config", cfg, "--online")
	if code != exitUsage {
		t.Errorf("validate --online: exit %d\n%s", code, errOut)
	}
	for name, msg := range want {
		if !strings.Contains(errOut, "certificate "+name+": ") || !strings.Contains(errOut, msg) {
			t.Errorf("validate --online does not report %s (%q):\n%s", name, msg, errOut)
		}
	}
}
