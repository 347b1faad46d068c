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

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
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

// TestSignalBoundsOneShotCleanup: SIGTERM to the real `certferry renew` waiting on a hung
// Finalize, with Route 53 hanging in the clean-up, exits within the stop bound the
// daemon's clean-up has (daemon.CleanupTimeout, after the ACME client's own), not after
// renew's 5-minute default: systemd starts one-shot runs too and kills them at
// TimeoutStopSec. It says what it left (the value, and how to remove it), the challenge
// journal keeps it, and the next run removes it.
func TestSignalBoundsOneShotCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the real binary; waits out the clean-up bound")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	cfg := e.WriteConfig(t, crashConfig)
	e.SB.Calls().FailNext("acme", "Finalize", 1, calls.Fault{Hang: calls.HangForever})
	cmd := exec.Command(bin, "renew", "--config", cfg, "--log-format", "json")
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
	e.SB.Calls().FailNext("route53", "ChangeResourceRecordSets", 1, calls.Fault{Hang: calls.HangForever})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	bound := testwait.For(acmeCleanupBound + daemon.CleanupTimeout)
	var err error
	select {
	case err = <-done:
	case <-time.After(bound):
		_ = cmd.Process.Kill()
		t.Fatalf("renew did not stop within %s of SIGTERM\nstderr:\n%s", bound, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("renew after SIGTERM: %v (want exit %d)\nstdout:\n%s\nstderr:\n%s", err, exitFailed, stdout.String(), stderr.String())
	}
	// The wait above is generous for a loaded machine; the bound itself shows in what the
	// clean-up logged: it gave up after daemon.CleanupTimeout, not renew's default.
	left := ""
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "DNS-01 record left behind") {
			left = l
		}
	}
	if left == "" {
		t.Fatalf("renew does not say which record it left:\n%s", stderr.String())
	}
	for _, want := range []string{`"fqdn":"_acme-challenge.`, `"value":"`, "delete this value", "a later pass removes it",
		`"cleanup_bound":"` + daemon.CleanupTimeout.String() + `"`} {
		if !strings.Contains(left, want) {
			t.Errorf("the left-behind line lacks %s:\n%s", want, left)
		}
	}
	if challengeRecords(e) == 0 {
		t.Fatal("no _acme-challenge record left: Route 53 did not hang in the clean-up, the case is not what it claims")
	}
	if e.Tags(t, "certferry/web")["certferry:challenges"] == "" {
		t.Error("the record left is not in the challenge journal: no later pass would find it")
	}
	code, out, errOut := cli(t, "renew", "--config", cfg)
	if code != exitOK {
		t.Fatalf("the next renew: exit %d\n%s\n%s", code, out, errOut)
	}
	e.NoChallengeLeft(t)
}

// acmeCleanupBound is the ACME client's own clean-up bound (acme/order.go), spent before
// the records' clean-up of a stopped pass.
const acmeCleanupBound = 30 * time.Second
