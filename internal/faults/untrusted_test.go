package faults_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestSecretHandPlacedCertificate: a certificate from another CA (a ten-year one, as an
// operator's self-made stopgap would be) written into the secret by hand, names and key
// type right, does not chain to acme.issuer_roots: the next pass finds it due with
// reason not-from-ca and replaces it with one order, whatever its dates say; the pass
// after that has nothing to do.
func TestSecretHandPlacedCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	e.Pass(t, a, renew.Options{})

	other := certstest.NewCA(t)
	now := time.Now()
	b := other.Bundle(t, "web", certstest.Leaf{Domains: []string{"www.example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour)})
	value, err := b.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SM.PutSecretValue(t.Context(), &awssm.PutSecretValueInput{SecretId: aws.String("certferry/web"), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}

	orders := e.orders()
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonNotFromCA || r.Action != renew.ActionRenew || !strings.Contains(r.Message, "does not chain to acme.issuer_roots") {
		t.Fatalf("pass after the hand-placed certificate: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	cur := e.Stored(t, "certferry/web", "AWSCURRENT") // verified against the sandbox's issuer roots
	if cur.Serial == b.Serial {
		t.Fatal("the hand-placed certificate is still current")
	}

	orders = e.orders()
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Reason != scheduler.ReasonNotDue || r.Condition != renew.ConditionReady {
		t.Errorf("the pass after the replacement: reason %s, condition %s", r.Reason, r.Condition)
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders after the replacement", n)
	}
}
