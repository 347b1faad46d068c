package faults_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	"github.com/certferry/certferry/sinks/file"
)

// TestFileOnlyBackoffAcrossRuns: a certificate kept only as files, whose order fails at
// Finalize (serverInternal), backs off across separate runs (each its own process
// memory): its state lives in a 0600 file next to its files. The next run inside the
// backoff places no order; once it is over, one is placed.
func TestFileOnlyBackoffAcrossRuns(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	dir := filepath.Join(e.Dir, "web-files")
	cfg := "issuance_guard: 0s\ncertificates:\n  - name: web\n    domains: [www.example.com]\n    profile: default\n    sinks:\n      file: { dir: " + dir + " }\n"
	clk := e2etest.NewClock(time.Now())
	run := func() *renew.Result {
		t.Helper()
		a, _ := e.loggedApp(t, e.Config(t, cfg), clk.Now) // a separate run: its own memory
		return result(t, e.Pass(t, a, renew.Options{}), "web")
	}
	e.SB.Calls().FailNext("acme", "Finalize", 1, calls.Fault{Code: "serverInternal", Status: 500, Message: "finalize failed"})
	orders := e.orders()
	if r := run(); r.Err() == nil {
		t.Fatalf("the first run did not fail at Finalize: %s %s", r.Action, r.Reason)
	}
	fi, err := os.Stat(filepath.Join(dir, file.StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want one, 0600", err, fi)
	}
	clk.Add(30 * time.Second) // inside the first backoff step (1 min)
	if r := run(); r.Reason != scheduler.ReasonBackoff || r.Condition != renew.ConditionFailing {
		t.Errorf("a separate run inside the backoff: reason %s, condition %s", r.Reason, r.Condition)
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders after a run inside the backoff, want 1", n)
	}
	clk.Add(2 * time.Minute)
	if r := run(); r.Err() != nil {
		t.Errorf("the run after the backoff: %v", r.Err())
	}
	if n := e.orders() - orders; n != 2 {
		t.Errorf("%d orders once the backoff was over, want 2", n)
	}
}
