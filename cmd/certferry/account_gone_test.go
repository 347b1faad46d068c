package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestCLIAccountTheCAForgot: a CA that answers accountDoesNotExist to a new order (a
// staging reset, a restarted test CA) gets one new account and the order again, in the
// same pass: the certificate is stored, the old account's record is kept as superseded
// with the CA's answer, and the log says "registered" only for an account the CA
// created (not for a key it already knew).
func TestCLIAccountTheCAForgot(t *testing.T) {
	t.Parallel()
	web := e2etest.CertYAML("web", "www.example.com")
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(web))
	_, _, errOut := e.renew(t)
	if n := strings.Count(errOut, "registered the ACME account"); n != 1 {
		t.Fatalf("first pass: %d \"registered\" lines, want 1\n%s", n, errOut)
	}
	store := smsink.NewAccountStore(e.SM, "certferry/acme-account")
	before, err := store.Load(t.Context(), e.Info.ACMEDirectory, "")
	if err != nil || before.URL == "" {
		t.Fatalf("stored account: %+v %v", before, err)
	}

	// A second certificate is due; the CA answers its order with accountDoesNotExist.
	e.cfg = e.WriteConfig(t, sandboxBase+e2etest.CertsYAML(web, e2etest.CertYAML("api", "api.example.com")))
	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Code: "accountDoesNotExist", Status: 400, Message: "No account exists with the provided key"})
	code, out, errOut := e.renew(t)
	if code != exitOK {
		t.Fatalf("renew: exit %d\n%s\n%s", code, out, errOut)
	}
	if r := rowOf(t, out, "api"); r["ACTION"] != "issue" || r["RESULT"] != "ok" {
		t.Errorf("api: %q\n%s", r, out)
	}
	if n := e.SB.Calls().Count("acme", "NewAccount"); n != 1 {
		t.Errorf("%d NewAccount, want 1", n)
	}
	if !strings.Contains(errOut, "the CA no longer knows the ACME account") || strings.Count(errOut, "registered the ACME account") != 1 {
		t.Errorf("the log should tell the replacement and one registration:\n%s", errOut)
	}
	after, err := store.Load(t.Context(), e.Info.ACMEDirectory, "")
	if err != nil || after.URL == "" || after.URL == before.URL || after.Deactivated {
		t.Fatalf("the account after: %+v %v (before %s)", after, err, before.URL)
	}
	prev, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/acme-account")})
	if err != nil || !strings.Contains(aws.ToString(prev.SecretString), `"deactivated_reason":"superseded at `) ||
		!strings.Contains(aws.ToString(prev.SecretString), "accountDoesNotExist") || !strings.Contains(aws.ToString(prev.SecretString), before.URL) {
		t.Errorf("the old record is not kept as superseded: %v", err)
	}

	// A key the CA already knows, stored without its URL (a runner killed between the
	// registration and the store): newAccount answers 200, and nothing says "registered".
	after.URL = ""
	if err := store.Update(t.Context(), after); err != nil {
		t.Fatal(err)
	}
	e.SB.Calls().Reset()
	code, out, errOut = e.renew(t, "--force", "--only", "web")
	if code != exitOK || strings.Contains(errOut, "registered the ACME account") || !strings.Contains(errOut, "the CA already knew this account key") {
		t.Errorf("a known key: exit %d\n%s\n%s", code, out, errOut)
	}
}
