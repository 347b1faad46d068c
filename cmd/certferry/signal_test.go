package main

import (
	"bytes"
	"errors"
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

// TestSignalsStopOneShotCleanly: SIGHUP (an SSH session that drops while an operator
// runs renew by hand), SIGINT and SIGTERM each stop the real `certferry renew` waiting on
// a hung Finalize cleanly: its _acme-challenge records are removed, the summary is
// printed and counts the interrupted certificate, and the exit code is 1. A second
// SIGHUP does not force the exit (a hang-up may come once per process group).
func TestSignalsStopOneShotCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
			cfg := e.WriteConfig(t, crashConfig)
			e.SB.Calls().FailNext("acme", "Finalize", 1, calls.Fault{Hang: calls.HangForever})
			cmd := exec.Command(bin, "renew", "--config", cfg)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			e2etest.Eventually(t, e.PassBound(), "renew waiting on Finalize", func() bool {
				return e.SB.Calls().Count("acme", "Finalize") == 1
			})
			if challengeRecords(e) == 0 {
				t.Fatal("no _acme-challenge record while Finalize hangs: the case is not what it claims")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if sig == syscall.SIGHUP {
				_ = cmd.Process.Signal(sig)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(e.PassBound()):
				_ = cmd.Process.Kill()
				t.Fatalf("renew did not stop within %s of %s\nstderr:\n%s", e.PassBound(), sig, stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
				t.Fatalf("renew after %s: %v (want exit %d)\nstdout:\n%s\nstderr:\n%s", sig, err, exitFailed, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "1 interrupted") {
				t.Errorf("the summary does not count the interrupted certificate:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "stopping cleanly") {
				t.Errorf("stderr does not say it is stopping:\n%s", stderr.String())
			}
			e.NoChallengeLeft(t)
		})
	}
}
