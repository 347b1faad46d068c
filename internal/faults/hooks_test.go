package faults_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
)

// gone reports whether pid has exited (a zombie nobody reaped counts as gone).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

// Scenario 9: an on_renew hook that hangs is killed with its process group after its
// timeout (its child too), one that exits non-zero fails; both are logged and retried
// on the next pass without a new order, and the stored version is never rolled back.
func TestHookHangsThenFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	dir := e.Dir
	hang, fail, pidFile, ran := filepath.Join(dir, "hang"), filepath.Join(dir, "fail"), filepath.Join(dir, "child.pid"), filepath.Join(dir, "ran")
	script := filepath.Join(dir, "redeploy.sh")
	body := "#!/bin/sh\necho run >> " + ran + "\n" +
		"if [ -e " + hang + " ]; then sleep 300 & echo $! > " + pidFile + "; sleep 300; fi\n" +
		"if [ -e " + fail + " ]; then echo 'redeploy failed' >&2; exit 3; fi\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{hang} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const hookTimeout = time.Second
	a := e.App(t, e.Config(t, webCert+"    hooks:\n      on_renew:\n        - exec: ["+script+"]\n          timeout: "+hookTimeout.String()+"\n"))

	start := time.Now()
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if r.Err() != nil || r.VersionID == "" || !strings.Contains(r.HookError, "timed out after "+hookTimeout.String()) {
		t.Fatalf("pass 1: %+v", r)
	}
	if d := time.Since(start); d > e.PassBound()+hookTimeout {
		t.Errorf("pass 1 took %s", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The group was killed when the pass gave up on the hook; the child is gone as soon
	// as it is reaped, which a loaded machine does well within ten hook timeouts.
	e2etest.Eventually(t, 10*hookTimeout, "the hook's child killed", func() bool { return gone(child) })
	if !strings.Contains(e.logs.String(), "hook timed out, process group killed") {
		t.Error("the timeout was not logged")
	}
	version := r.VersionID
	orders := e.orders()

	// Pass 2: the hook now exits non-zero: retried, failed again, no order.
	_ = os.Remove(hang)
	_ = os.WriteFile(fail, nil, 0o600)
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Action != renew.ActionHooks || !strings.Contains(r.HookError, "exit status 3: redeploy failed") {
		t.Fatalf("pass 2: %+v", r)
	}
	// Pass 3: fixed.
	_ = os.Remove(fail)
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Action != renew.ActionHooks || r.HookError != "" {
		t.Fatalf("pass 3: %+v", r)
	}
	if e.orders() != orders {
		t.Errorf("hook retries placed %d orders", e.orders()-orders)
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.VersionID != version {
		t.Errorf("AWSCURRENT moved from %s to %s", version, cur.VersionID)
	}
	if n := len(lines(t, ran)); n != 3 {
		t.Errorf("hook ran %d times, want 3", n)
	}
}
