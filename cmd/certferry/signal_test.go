package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestSignalsStopOneShotCleanly: SIGHUP (an SSH session that drops while an operator
// runs renew by hand), SIGINT and SIGTERM each stop the real `certferry renew` waiting on
// a hung Finalize cleanly: its _acme-challenge records are removed, the summary is
// printed and counts the interrupted certificate, its row saying INTERRUPTED (renew
// --json: "interrupted": true; both read as any failure before), and the exit code is 1.
// A second SIGHUP does not force the exit (a hang-up may come once per process group).
func TestSignalsStopOneShotCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	for _, tc := range []struct {
		sig     syscall.Signal
		jsonOut bool
	}{{syscall.SIGHUP, false}, {syscall.SIGINT, false}, {syscall.SIGTERM, false}, {syscall.SIGTERM, true}} {
		sig := tc.sig
		name := sig.String()
		if tc.jsonOut {
			name += " --json"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
			cfg := e.WriteConfig(t, crashConfig)
			e.SB.Calls().FailNext("acme", "Finalize", 1, calls.Fault{Hang: calls.HangForever})
			args := []string{"renew", "--config", cfg}
			if tc.jsonOut {
				args = append(args, "--json")
			}
			cmd, done, stdout, stderr := startRenewSplit(t, bin, args...)
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
			switch {
			case tc.jsonOut:
				var out struct {
					Results []struct {
						Name        string `json:"name"`
						Interrupted bool   `json:"interrupted"`
					} `json:"results"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Results) != 1 || !out.Results[0].Interrupted {
					t.Errorf("renew --json does not mark the certificate interrupted (%v):\n%s", err, stdout.String())
				}
			case !strings.Contains(stdout.String(), "1 interrupted"):
				t.Errorf("the summary does not count the interrupted certificate:\n%s", stdout.String())
			case !strings.Contains(stdout.String(), "INTERRUPTED (due on the next run)"):
				t.Errorf("the certificate's row does not say it was interrupted:\n%s", stdout.String())
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
	cmd, done, stdout, stderr := startRenewSplit(t, bin, "renew", "--config", cfg, "--log-format", "json")
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

// TestSignalStopsHookCleanly: SIGHUP to the real `certferry renew` while an on_renew exec
// hook runs (it sleeps) is a clean stop, not a hook failure: the summary counts the
// certificate interrupted (exit 1, as any stopped renew), not failing; no "context
// canceled" is recorded as the hook's error, so `status` shows the hooks pending, not
// failing (exit 0); the next run runs the hook again, without a new order. It said
// "1 failing, 0 interrupted" and status was failing until a later pass.
func TestSignalStopsHookCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	dir := t.TempDir()
	started, release, ran := filepath.Join(dir, "started"), filepath.Join(dir, "release"), filepath.Join(dir, "ran")
	hook := filepath.Join(dir, "hook.sh")
	script := "#!/bin/sh\nif [ -e " + release + " ]; then touch " + ran + "; exit 0; fi\ntouch " + started + "\nexec sleep 3600\n"
	if err := os.WriteFile(hook, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := e.WriteConfig(t, crashConfig+"    hooks:\n      on_renew:\n        - exec: [\""+hook+"\"]\n")
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append(args, "--config", cfg)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
		return cmd
	}
	exitOf := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}

	cmd, done, stdout, stderr := startRenewSplit(t, bin, "renew", "--config", cfg)
	e2etest.Eventually(t, e.PassBound(), "the on_renew hook running", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(e.PassBound()):
		_ = cmd.Process.Kill()
		t.Fatalf("renew did not stop within %s of SIGHUP\nstderr:\n%s", e.PassBound(), stderr.String())
	}
	if code := exitOf(err); code != exitFailed || !strings.Contains(stdout.String(), "0 failing (0 new), 1 interrupted, 0 hook failure(s)") {
		t.Fatalf("renew stopped in its hook: exit %d (want %d), stdout:\n%s\nstderr:\n%s", code, exitFailed, stdout.String(), stderr.String())
	}
	if tags := e.Tags(t, "certferry/web"); tags[smsink.TagHookError] != "" || tags[smsink.TagLastError] != "" {
		t.Errorf("hook error %q, last error %q recorded for a hook a clean stop killed", tags[smsink.TagHookError], tags[smsink.TagLastError])
	}

	out, err := command("status").CombinedOutput()
	if code := exitOf(err); code != 0 || strings.Contains(string(out), "context canceled") {
		t.Errorf("status after the stop: exit %d (want 0, hooks pending, not failing):\n%s", code, out)
	}

	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	orders := e.SB.Calls().Count("acme", "NewOrder")
	if out, err := command("renew").CombinedOutput(); exitOf(err) != 0 {
		t.Fatalf("the next renew: %v\n%s", err, out)
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the next renew did not run the hook again: %v", err)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 0 {
		t.Errorf("%d orders to run a hook again", n)
	}
}

// startRenewSplit starts the real binary with the sandbox's credentials, keeping stdout
// (the summary) apart from stderr (the log), and reports Wait's error on done: the
// signal tests assert on each stream and on the exit code separately.
func startRenewSplit(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, done <-chan error, stdout, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	return cmd, ch, stdout, stderr
}
