package renew_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
)

// TestE2EDeadlineTooShortForAnOrder: with a deadline on the pass (a Lambda's) closer
// than MinOrderTime, no order begins, nothing is written, and the certificate is
// reported as not done, without backoff: it is due again on the next run.
func TestE2EDeadlineTooShortForAnOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	const minOrder = time.Minute
	a, err := app.New(t.Context(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		app.Options{AWS: &e.AWS, Version: "test", MinOrderTime: minOrder})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), minOrder/2) // closer than MinOrderTime
	defer cancel()
	sum, err := a.Runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, sum, "web")
	if r.Action != renew.ActionFailed || !strings.Contains(r.Error, "before the deadline, an order needs 1m0s") || sum.Failed() != 1 {
		t.Fatalf("result: %+v", r)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Fatalf("%d orders placed", n)
	}
	// No backoff state: the secret was not even created to hold one.
	if _, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")}); err == nil {
		t.Fatal("a secret was created for a certificate that was only deferred")
	}
	// Without the deadline it is issued at once: nothing held it back.
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Action != renew.ActionIssue || r.Error != "" {
		t.Fatalf("next pass: %+v", r)
	}
}

// TestE2EInterruptedWriteFinishedByAnotherRunner: a runner writes the new version but
// dies before AWSCURRENT moves to it (here: every UpdateSecretVersionStage fails). A new
// process finds the version still labelled pending and promotes it: no new order, and
// exactly one new version.
func TestE2EInterruptedWriteFinishedByAnotherRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, "issuance_guard: 0s\n"+certsYAML(certYAML("web", "www.example.com")))
	first := e.App(t, cfg)
	v1 := wantOK(t, e.Pass(t, first, renew.Options{}), "web", renew.ActionIssue, "missing").VersionID

	e.SB.Calls().FailNext("secretsmanager", "UpdateSecretVersionStage", 20, calls.Fault{Code: "InternalServiceError", Status: 500, Message: "injected"})
	sum := e.Pass(t, first, renew.Options{Force: true})
	if r := result(t, sum, "web"); r.Action != renew.ActionFailed || !strings.Contains(r.Error, "store") {
		t.Fatalf("interrupted pass: %+v", r)
	}
	if cur := e.stageVersion(t, "certferry/web", "AWSCURRENT"); cur != v1 {
		t.Fatalf("AWSCURRENT moved to %s during the interrupted write", cur)
	}
	// The runner "dies" here: the faults go with it (Reset also zeroes the counters).
	e.SB.Calls().Reset()
	orders := 0

	// A new process: nothing in memory.
	second := e.App(t, cfg)
	sum = e.Pass(t, second, renew.Options{})
	r := result(t, sum, "web")
	if r.Action != renew.ActionStore || r.Error != "" {
		t.Fatalf("second runner: %+v", r)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != orders {
		t.Fatalf("the second runner ordered %d new certificate(s)", n-orders)
	}
	e.Stored(t, "certferry/web", "AWSCURRENT") // a valid pair
	cur, prev := e.stageVersion(t, "certferry/web", "AWSCURRENT"), e.stageVersion(t, "certferry/web", "AWSPREVIOUS")
	if cur != r.VersionID || cur == v1 || prev != v1 || e.VersionCount(t, "certferry/web") != 2 {
		t.Fatalf("versions: current %s previous %s (v1 %s), %d versions", cur, prev, v1, e.VersionCount(t, "certferry/web"))
	}
}

// stageVersion returns the id of the version holding stage.
func (e *env) stageVersion(t *testing.T, name, stage string) string {
	t.Helper()
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue %s %s: %v", name, stage, err)
	}
	return aws.ToString(out.VersionId)
}

// TestE2EStopAfterIssuanceStillStores: the pass is cancelled (SIGTERM, a deadline) the
// moment the certificate is issued; it is stored all the same, under a fresh context,
// instead of being thrown away to cost the CA a duplicate on the next run.
func TestE2EStopAfterIssuanceStillStores(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel), zaptest.WrapOptions(zap.Hooks(func(en zapcore.Entry) error {
		if en.Message == "issued" {
			cancel() // the stop arrives right after issuance, before the write
		}
		return nil
	})))
	a := e.AppWith(t, cfg, nil, log)
	sum, err := a.Runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Fatal(`the pass was never stopped: no "issued" log line seen`)
	}
	if r := result(t, sum, "web"); r.Error != "" || r.VersionID == "" {
		t.Fatalf("result after a stop at issuance: %+v", r)
	}
	e.Stored(t, "certferry/web", "AWSCURRENT")
	e.NoChallengeLeft(t)
}

// TestE2EFileOnlyARIAskedOnce: a certificate kept only as files has no secret to hold
// its ARI state; this process remembers it, so the CA is asked once per ARI period, not
// on every pass.
func TestE2EFileOnlyARIAskedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, `certificates:
  - name: files
    domains: [www.example.com]
    profile: default
    sinks:
      file: { dir: {{files}} }
`)
	now := time.Now()
	a := e.AppWith(t, cfg, func() time.Time { return now }, nil)
	if r := result(t, e.Pass(t, a, renew.Options{}), "files"); r.Action != renew.ActionIssue || r.Error != "" {
		t.Fatalf("pass 1: %+v", r)
	}
	// Right after issuance nothing asks the CA.
	e.Pass(t, a, renew.Options{})
	if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 0 {
		t.Fatalf("%d ARI requests right after issuance", n)
	}
	// Past the first ARI check time: asked once, then not again on the next passes.
	now = now.Add(7 * time.Hour)
	for i := 0; i < 3; i++ {
		if r := result(t, e.Pass(t, a, renew.Options{}), "files"); r.Action != renew.ActionSkip {
			t.Fatalf("pass %d: %+v", i, r)
		}
	}
	if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 1 {
		t.Fatalf("%d ARI requests over three passes, want 1", n)
	}
}

// TestE2ESecretByARN: a secret configured by its ARN (full, or without the random
// suffix, as IAM policies often write it) is found in the inventory like a name: a
// stored, fresh certificate is not due, so no order is placed on every pass.
func TestE2ESecretByARN(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cert := func(secret string) string {
		return `certificates:
  - name: web
    domains: [www.example.com]
    profile: default
    sinks:
      secretsmanager: { secret: "` + secret + `" }
`
	}
	first := e.App(t, e.Config(t, cert("certferry/web")))
	r := wantOK(t, e.Pass(t, first, renew.Options{}), "web", renew.ActionIssue, "missing")
	arn := r.SecretARN
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:") {
		t.Fatalf("no ARN in the result: %+v", r)
	}
	orders := e.SB.Calls().Count("acme", "NewOrder")
	for _, secret := range []string{arn, arn[:len(arn)-7]} { // full; without "-XXXXXX"
		a := e.App(t, e.Config(t, cert(secret)))
		if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Action != renew.ActionSkip || r.Reason != "not-due" {
			t.Fatalf("secret %s: %+v", secret, r)
		}
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != orders {
		t.Fatalf("%d new orders for a stored certificate configured by ARN", n-orders)
	}
}
