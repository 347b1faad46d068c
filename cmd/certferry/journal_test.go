package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestSixKilledRunsLeaveNothing: six `certferry renew --force` runs, each killed with
// SIGKILL while it waits for INSYNC, fill the certificate's challenge journal (four
// slots) and then find it full: the fifth and sixth place no order and publish nothing,
// rather than publishing records no later pass could find. Once the journaled orders'
// needed-until time has passed, the next run removes every value the dead runs left.
func TestSixKilledRunsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
	cfg := e.WriteConfig(t, crashConfig)
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
	run := func() (int, string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, "renew", "--force", "--config", cfg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("renew: %v", err)
		}
		return 0, string(out)
	}
	if code, out := run(); code != 0 {
		t.Fatalf("first renew: exit %d\n%s", code, out)
	}
	for i := 1; i <= 6; i++ {
		orders := e.SB.Calls().Count("acme", "NewOrder")
		changes := e.SB.Calls().Count("route53", "ChangeResourceRecordSets")
		waits := e.SB.Calls().Count("route53", "GetChange")
		e.SB.Calls().FailNext("route53", "GetChange", 1, calls.Fault{Hang: calls.HangForever})
		cmd := exec.Command(bin, "renew", "--force", "--config", cfg)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if i <= 4 {
			// Journaled and published: killed while it waits for INSYNC.
			e2etest.Eventually(t, e.PassBound(), "the run waiting for INSYNC", func() bool {
				return e.SB.Calls().Count("route53", "GetChange") > waits
			})
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			continue
		}
		// The journal is full: the run fails the certificate before any order.
		select {
		case <-done:
		case <-time.After(e.PassBound()):
			_ = cmd.Process.Kill()
			t.Fatalf("run %d did not end", i)
		}
		e.SB.Calls().DropFaults()
		if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 0 {
			t.Errorf("run %d with the journal full placed %d order(s)", i, n)
		}
		if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets") - changes; n != 0 {
			t.Errorf("run %d with the journal full made %d Route 53 change(s)", i, n)
		}
		if !strings.Contains(out.String(), "every challenge journal slot (4) holds an order") {
			t.Errorf("run %d does not say why:\n%s", i, out.String())
		}
	}
	if challengeRecords(e) == 0 {
		t.Fatal("the killed runs left no record: the case is not what it claims")
	}
	expireJournal(t, e, "certferry/web")
	if code, out := run(); code != 0 {
		t.Fatalf("renew after the journal's time: exit %d\n%s", code, out)
	}
	e.NoChallengeLeft(t)
}
