package renew_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
)

// TestE2EDryRunBesideALeasedPass: a dry run (against the configured CA, the default for
// a CA other than Let's Encrypt) waits for INSYNC while a forced real pass with
// coordination takes the certificate's lease. The lease's sweep counts the records of the
// runner that held it before as dead; the dry run holds no lease and is alive: its
// records stay, and it is issued and verified once INSYNC comes. The real pass, which
// swept them as dead, made the CA refuse the dry run's validation.
func TestE2EDryRunBesideALeasedPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	cfg := e.Config(t, coordination(e, 30*time.Second)+certsYAML(certYAML("web", "www.example.com")))
	e.Pass(t, e.App(t, cfg), renew.Options{})

	dry, err := app.New(t.Context(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		app.Options{AWS: &e.AWS, Version: "test", DryRunDirectory: cfg.ACME.Directory})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	waits := e.SB.Calls().Count("route53", "GetChange")
	e.SB.Calls().FailNext("route53", "GetChange", 1, calls.Fault{Gate: gate})
	ctx, cancel := context.WithTimeout(t.Context(), 3*e.PassBound())
	defer cancel()
	type outcome struct {
		sum *renew.Summary
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		sum, err := dry.Runner.Pass(ctx, renew.Options{DryRun: true})
		done <- outcome{sum, err}
	}()
	e2etest.Eventually(t, e.PassBound(), "the dry run waiting for INSYNC", func() bool {
		return e.SB.Calls().Count("route53", "GetChange") > waits
	})

	real, err := e.App(t, cfg).Runner.Pass(ctx, renew.Options{Force: true})
	close(gate)
	if err != nil {
		t.Fatalf("real pass: %v", err)
	}
	if res := result(t, real, "web"); res.Err() != nil || res.Condition != renew.ConditionReady {
		t.Errorf("real pass: %s %s", res.Action, res.Error)
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("dry run: %v", o.err)
	}
	if res := result(t, o.sum, "web"); res.Action != renew.ActionDryRun || res.Err() != nil {
		t.Errorf("the dry run beside the leased pass: %s %s", res.Action, res.Error)
	}
	e.NoChallengeLeft(t)
}
