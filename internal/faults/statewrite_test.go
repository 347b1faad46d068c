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
)

// TestStateWriteDeniedNeedsAHuman: a role without secretsmanager:TagResource (one
// permission missing) cannot record a certificate's state: its backoff, last error, ARI
// window, hooks' progress. That is no warning: the certificate is failing in the run
// that sees it, naming the permission and the secret, and needs a human (/healthz pages
// at once); a process that goes on (the daemon) keeps it failing until a state write
// succeeds. Due, it is never ordered while the write would be refused: the preflight
// writes a tag the secret already has (no effect) before the order, so one-shot runs
// repeated every few minutes place no order at all. When that check passes and the
// challenge journal's write is still refused, the order is abandoned unpublished and
// its pending authorizations deactivated.
func TestStateWriteDeniedNeedsAHuman(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	cfg := fmt.Sprintf(acmeCert, "0s", "default")
	clk := e2etest.NewClock(time.Now())
	app := func() (*renew.Runner, *e2etest.LogBuffer) {
		a, logs := e.loggedApp(t, e.Config(t, cfg), clk.Now) // a separate run: its own memory
		return a.Runner, logs
	}
	pass := func(r *renew.Runner) *renew.Result {
		t.Helper()
		sum, err := r.Pass(t.Context(), renew.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return result(t, sum, "web")
	}
	one, _ := app()
	first := pass(one)
	if first.Err() != nil {
		t.Fatalf("first pass: %v", first.Err())
	}
	denied := calls.Fault{Code: "AccessDeniedException", Status: 400,
		Message: "User: arn:aws:sts::123456789012:assumed-role/certferry is not authorized to perform: secretsmanager:TagResource"}
	const want = `needs a human: the role is not allowed secretsmanager:TagResource on the secret "certferry/web"`
	needsHuman := func(what string, r *renew.Result) {
		t.Helper()
		if r.Condition != renew.ConditionFailing || !r.NeedsHuman || !strings.Contains(r.LastError, want) {
			t.Errorf("%s: condition %s, needs a human %v, last error %q; want failing, needing a human, %q", what, r.Condition, r.NeedsHuman, r.LastError, want)
		}
	}

	// Not due: the ARI window asked for (6 h after issuance) cannot be recorded.
	e.SB.Calls().FailNext("secretsmanager", "TagResource", 1<<20, denied)
	clk.Add(7 * time.Hour)
	daemon, _ := app() // one process, several passes
	r := pass(daemon)
	needsHuman("the pass that cannot record its state", r)
	if r.Err() == nil {
		t.Errorf("the pass that cannot record its state: no error (action %s)", r.Action)
	}
	clk.Add(time.Minute)
	needsHuman("the same process's next pass, with nothing new to record", pass(daemon))

	// Due: one-shot runs every five minutes place no order.
	clk.Set(first.NotAfter.Add(-3 * 24 * time.Hour))
	orders := e.orders()
	for i := range 3 {
		clk.Add(5 * time.Minute)
		run, _ := app()
		r := pass(run)
		needsHuman(fmt.Sprintf("due, run %d", i+1), r)
		if r.Err() == nil {
			t.Errorf("due, run %d: no error", i+1)
		}
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders in three runs that could not record their state, want 0", n)
	}

	// The check before the order passes, the journal's write is refused: the order is
	// abandoned, nothing published, its authorization deactivated.
	e.SB.Calls().DropFaults()
	e.SB.Calls().FailAfter("secretsmanager", "TagResource", 1, 1<<20, denied)
	authz, changes := e.SB.Calls().Count("acme", "Authorization"), e.SB.Calls().Count("route53", "ChangeResourceRecordSets")
	run, logs := app()
	needsHuman("the journal's write refused", pass(run))
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders with the journal refused, want 1", n)
	}
	if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets") - changes; n != 0 {
		t.Errorf("%d Route 53 changes for an order that could not be journaled, want 0", n)
	}
	if n := e.SB.Calls().Count("acme", "Authorization") - authz; n != 2 || len(logs.Lines("deactivated pending authorizations")) != 1 {
		t.Errorf("authorizations: %d requests (want 2: read, deactivate)", n)
	}

	// The permission granted: the daemon's next pass records what it owed and is ready;
	// a run renews.
	e.SB.Calls().DropFaults()
	if r := pass(daemon); r.Condition == renew.ConditionFailing && r.NeedsHuman {
		t.Errorf("the daemon once its write succeeds: still needs a human (%s)", r.LastError)
	}
	run, _ = app()
	if r := pass(run); r.Err() != nil || r.Bundle == nil {
		t.Errorf("a run once the permission is granted: %s %v", r.Action, r.Err())
	}
	e.NoChallengeLeft(t)
}
