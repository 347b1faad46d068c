package faults_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
)

// TestSecretKMSKeyDisabled: a secret encrypted with a customer managed KMS key that is
// disabled (or pending deletion) could never be written: the preflight reads the key's
// state (kms:DescribeKey, no side effect) and refuses before any order, naming the key
// and its state, whether the secret is described (not yet listed) or listed by the
// inventory, --force or not. Once the key is enabled the next pass issues.
func TestSecretKMSKeyDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	const key = "1234abcd-12ab-34cd-56ef-1234567890ab"
	if _, err := e.SM.CreateSecret(t.Context(), &awssm.CreateSecretInput{Name: aws.String("certferry/web"), KmsKeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	e.SB.KMS().SetKeyState(key, "Disabled")
	a := e.App(t, e.Config(t, webCert))
	refused := func(what string, opts renew.Options, state string) {
		t.Helper()
		orders := e.orders()
		r := result(t, e.Pass(t, a, opts), "web")
		if r.Err() == nil || r.Condition != renew.ConditionFailing || !strings.Contains(r.Err().Error(), key) || !strings.Contains(r.Err().Error(), state) ||
			!strings.Contains(r.Err().Error(), "needs a human") {
			t.Fatalf("%s: condition %s, error %v; want failing, naming key %s and %s", what, r.Condition, r.Err(), key, state)
		}
		if n := e.orders() - orders; n != 0 {
			t.Errorf("%s: %d orders with the key %s", what, n, state)
		}
	}
	refused("a described secret", renew.Options{}, "Disabled")

	e.SB.KMS().SetKeyState(key, "Enabled")
	orders := e.orders()
	if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Err() != nil || r.Action != renew.ActionIssue {
		t.Fatalf("with the key enabled: action %s, error %v", r.Action, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders with the key enabled, want 1", n)
	}

	e.SB.KMS().SetKeyState(key, "PendingDeletion")
	refused("a listed secret, --force", renew.Options{Force: true}, "PendingDeletion")
}
