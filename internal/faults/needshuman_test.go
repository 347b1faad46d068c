package faults_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestSecretPutDeniedNeedsAHuman: a role without secretsmanager:PutSecretValue (a
// permission retrying cannot grant) gets the certificate issued once, then waits a day,
// as a CA's permanent refusal does, naming the permission: three passes of separate
// runs (a one-shot renew, a Lambda: no issued certificate survives them) place one
// order, not one per backoff step; each says it needs a human (Result.NeedsHuman, as the
// error does). After the day, it is tried again.
func TestSecretPutDeniedNeedsAHuman(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	cfg := fmt.Sprintf(acmeCert, "0s", "default")
	clk := e2etest.NewClock(time.Now())
	run := func() *renew.Result {
		t.Helper()
		a, _ := e.loggedApp(t, e.Config(t, cfg), clk.Now) // a separate run: its own memory
		return result(t, e.Pass(t, a, renew.Options{}), "web")
	}
	first := run()
	if first.Err() != nil {
		t.Fatalf("first pass: %v", first.Err())
	}
	// Three days before it expires: due on every pass, so only the backoff holds it.
	clk.Set(first.NotAfter.Add(-3 * 24 * time.Hour))
	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 1000, calls.Fault{Code: "AccessDeniedException", Status: 400,
		Message: "User: arn:aws:sts::123456789012:assumed-role/certferry is not authorized to perform: secretsmanager:PutSecretValue"})
	orders, finalized := e.orders(), e.SB.Calls().Count("acme", "Finalize")
	r := run()
	const want = "it needs a human: the role is not allowed secretsmanager:PutSecretValue on the secret"
	if r.Err() == nil || !strings.Contains(r.Error, want) {
		t.Fatalf("the denied pass: %s %s %v, want an error containing %q", r.Action, r.Reason, r.Err(), want)
	}
	if r.Condition != renew.ConditionFailing || !r.NeedsHuman {
		t.Errorf("the denied pass: condition %s, needs a human %v; want failing, needing a human (renew --json, /healthz at once)", r.Condition, r.NeedsHuman)
	}
	if next := tagTime(t, e.Tags(t, "certferry/web"), smsink.TagNextAttempt); next.Before(clk.Now().Add(scheduler.MaxBackoff)) {
		t.Errorf("next attempt in %s after a denied write, want a day", next.Sub(clk.Now()))
	}
	for range 2 {
		clk.Add(time.Hour) // well past every ordinary backoff step but the last
		if r := run(); r.Reason != scheduler.ReasonBackoff || r.Condition != renew.ConditionFailing || !strings.Contains(r.LastError, want) || !r.NeedsHuman {
			t.Errorf("a later run: reason %s, condition %s, needs a human %v, last error %q", r.Reason, r.Condition, r.NeedsHuman, r.LastError)
		}
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders in three passes with the write denied, want 1", n)
	}
	clk.Add(scheduler.MaxBackoff * 6 / 5) // the day and its most jitter (a fifth)
	run()
	// Counted as issued certificates: this order names the one issued a day ago in
	// "replaces", which the CA answers alreadyReplaced, and is placed again without it.
	if n := e.SB.Calls().Count("acme", "Finalize") - finalized; n != 2 {
		t.Errorf("%d certificates issued once the day has passed, want 2", n)
	}
}
