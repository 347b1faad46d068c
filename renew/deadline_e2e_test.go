package renew_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sandbox"
)

// TestE2EDeadlineTooShortForAnOrder: with a deadline on the pass (a Lambda's) closer
// than MinOrderTime, no order begins, nothing is written, and the certificate is
// reported as not done, without backoff: it is due again on the next run.
func TestE2EDeadlineTooShortForAnOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.config(t, `certificates:
  - name: web
    domains: [www.example.com]
    profile: default
    sinks:
      secretsmanager: { secret: certferry/web }
`)
	a, err := app.New(t.Context(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		app.Options{AWS: &e.aws, Version: "test", MinOrderTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sum, err := a.Runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, sum, "web")
	if r.Action != renew.ActionFailed || !strings.Contains(r.Error, "before the deadline, an order needs 1m0s") || sum.Failed() != 1 {
		t.Fatalf("result: %+v", r)
	}
	if n := e.sb.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Fatalf("%d orders placed", n)
	}
	// No backoff state: the secret was not even created to hold one.
	if _, err := e.sm.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")}); err == nil {
		t.Fatal("a secret was created for a certificate that was only deferred")
	}
	// Without the deadline it is issued at once: nothing held it back.
	sum = e.pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Action != renew.ActionIssue || r.Error != "" {
		t.Fatalf("next pass: %+v", r)
	}
}
