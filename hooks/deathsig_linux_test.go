package hooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/testwait"
)

// helperEnv makes this test binary, started again by TestExecDiesWithCertferry, run a
// hook and wait for it, as `certferry renew` does.
const helperEnv = "CERTFERRY_HOOKS_TEST_HELPER_PIDFILE"

// TestExecHelperRunsHook is the helper process of TestExecDiesWithCertferry; it does
// nothing in a normal run.
func TestExecHelperRunsHook(t *testing.T) {
	pidFile := os.Getenv(helperEnv)
	if pidFile == "" {
		t.Skip("the helper process of TestExecDiesWithCertferry")
	}
	p := filepath.Join(filepath.Dir(pidFile), "hook.sh")
	_ = os.WriteFile(p, []byte("#!/bin/sh\necho $$ > "+pidFile+".tmp\nmv "+pidFile+".tmp "+pidFile+"\nexec sleep 300\n"), 0o755)
	h := one(t, config.Hook{Exec: []string{p}, Timeout: time.Hour}, hooks.Deps{})
	_ = h.Run(t.Context(), event)
}

// TestExecDiesWithCertferry: a certferry killed with SIGKILL while an exec hook runs
// leaves no hook running (Pdeathsig): the kernel kills it with its parent.
func TestExecDiesWithCertferry(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "hook.pid")
	helper := exec.Command(os.Args[0], "-test.run=^TestExecHelperRunsHook$", "-test.count=1")
	helper.Env = append(os.Environ(), helperEnv+"="+pidFile)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	// The helper's start and the hook's: a process or two, a step each.
	var pid int
	deadline := time.Now().Add(testwait.For(0))
	for pid == 0 {
		if raw, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
			break
		}
		if time.Now().After(deadline) {
			_ = helper.Process.Kill()
			_ = helper.Wait()
			t.Fatal("the helper's hook never started")
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	_ = helper.Process.Signal(syscall.SIGKILL)
	_ = helper.Wait()
	deadline = time.Now().Add(testwait.For(0)) // the kernel's work: a step
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("hook %d survived certferry's SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
