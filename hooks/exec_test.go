package hooks_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var event = hooks.Event{
	Name:      "example",
	Domains:   []string{"www.example.com", "example.com"},
	SecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:certificate-AbCdEf",
	VersionID: "00000000-0000-4000-8000-000000000001",
	NotAfter:  time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)),
	Kind:      hooks.KindRenew,
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

// outputLines returns the "line" field of every hook output entry of one stream.
func outputLines(logs *observer.ObservedLogs, stream string) []string {
	var out []string
	for _, e := range logs.FilterMessage("hook output").All() {
		m := e.ContextMap()
		if m["stream"] == stream {
			out = append(out, m["line"].(string))
		}
	}
	return out
}

// quick is the timeout of a hook that must finish: a local process, or a local HTTP
// server answering at once, is a step of work (internal/testwait).
var quick = testwait.For(0)

func one(t *testing.T, h config.Hook, deps hooks.Deps) hooks.Hook {
	t.Helper()
	hs, err := hooks.FromConfig([]config.Hook{h}, deps)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	return hs[0]
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExecEnvironment runs /usr/bin/env as the hook: its output, logged line by line, is the
// hook's whole environment, which must be the base plus the CERTFERRY_* variables and nothing
// of the test process's own environment.
//
// Not parallel: it sets a variable in the test process to prove it is not inherited.
func TestExecEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
	for _, tc := range []struct {
		name string
		ev   hooks.Event
		base []string
		want []string
	}{
		{"renew", event, nil, []string{
			hooks.DefaultBaseEnv[0],
			"CERTFERRY_NAME=example",
			"CERTFERRY_DOMAINS=www.example.com,example.com",
			"CERTFERRY_SECRET_ARN=" + event.SecretARN,
			"CERTFERRY_VERSION_ID=" + event.VersionID,
			"CERTFERRY_NOT_AFTER=2026-06-01T11:00:00Z",
			"CERTFERRY_EVENT=renew",
		}},
		{"failure with base env", hooks.Event{Name: "example", Domains: []string{"a.example"}, Kind: hooks.KindFailure, Error: "acme: order: rateLimited"},
			[]string{"PATH=/usr/bin:/bin", "HOME=/var/lib/certferry"}, []string{
				"PATH=/usr/bin:/bin",
				"HOME=/var/lib/certferry",
				"CERTFERRY_NAME=example",
				"CERTFERRY_DOMAINS=a.example",
				"CERTFERRY_SECRET_ARN=",
				"CERTFERRY_VERSION_ID=",
				"CERTFERRY_NOT_AFTER=",
				"CERTFERRY_EVENT=failure",
				"CERTFERRY_ERROR=acme: order: rateLimited",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := observed()
			h := one(t, config.Hook{Exec: []string{"/usr/bin/env"}, Timeout: quick}, hooks.Deps{Logger: log, BaseEnv: tc.base})
			if err := h.Run(t.Context(), tc.ev); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := outputLines(logs, "stdout")
			if !slices.Equal(got, tc.want) {
				t.Errorf("environment:\n got %q\nwant %q", got, tc.want)
			}
			if env := h.(*hooks.Exec).Env(tc.ev); !slices.Equal(env, tc.want) {
				t.Errorf("Env() = %q", env)
			}
			for _, l := range got {
				if strings.Contains(l, "PRIVATE KEY") || strings.Contains(l, "must-not-leak") {
					t.Errorf("environment holds secret material: %q", l)
				}
			}
		})
	}
}

// TestExecArgvNoShell: arguments reach the program verbatim, shell syntax included.
func TestExecArgvNoShell(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	args := []string{"/bin/echo", "$CERTFERRY_NAME", "a;b", "`id`"}
	h := one(t, config.Hook{Exec: args}, hooks.Deps{Logger: log})
	if h.Name() != "exec:/bin/echo" {
		t.Errorf("Name = %q", h.Name())
	}
	if err := h.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := outputLines(logs, "stdout"); !slices.Equal(got, []string{"$CERTFERRY_NAME a;b `id`"}) {
		t.Errorf("output = %q", got)
	}
}

func TestExecNonZeroExit(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	p := script(t, "echo starting\necho 'reload failed: no such unit' >&2\nexit 3\n")
	h := one(t, config.Hook{Exec: []string{p}}, hooks.Deps{Logger: log})
	err := h.Run(t.Context(), event)
	var xe *hooks.ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("Run = %v, want an *ExitError", err)
	}
	if xe.Code != 3 || xe.LastLine != "reload failed: no such unit" {
		t.Errorf("ExitError = %+v", xe)
	}
	want := "hooks: exec:" + p + ": exit status 3: reload failed: no such unit"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := outputLines(logs, "stdout"); !slices.Equal(got, []string{"starting"}) {
		t.Errorf("stdout log = %q", got)
	}
	if got := outputLines(logs, "stderr"); !slices.Equal(got, []string{"reload failed: no such unit"}) {
		t.Errorf("stderr log = %q", got)
	}
	if n := logs.FilterMessage("hook failed").FilterField(zap.Int("exit_code", 3)).Len(); n != 1 {
		t.Errorf("want one 'hook failed' entry with exit_code 3, got %d", n)
	}
}

func TestExecMissingProgram(t *testing.T) {
	t.Parallel()
	h := one(t, config.Hook{Exec: []string{"/nonexistent/certferry-hook"}}, hooks.Deps{})
	err := h.Run(t.Context(), event)
	if err == nil || !strings.Contains(err.Error(), "hooks: exec:/nonexistent/certferry-hook: start:") {
		t.Errorf("Run = %v", err)
	}
}

// TestExecOutputBounded: a long line is cut, and output past the stream cap is dropped and
// reported once.
func TestExecOutputBounded(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	// 3000 x's on one line, then 100000 short lines (600 kB).
	p := script(t, "head -c 3000 /dev/zero | tr '\\0' x; echo\ni=0; while [ $i -lt 100000 ]; do echo line; i=$((i+1)); done\n")
	h := one(t, config.Hook{Exec: []string{p}, Timeout: time.Minute}, hooks.Deps{Logger: log})
	if err := h.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	lines := outputLines(logs, "stdout")
	if len(lines) == 0 || lines[0] != strings.Repeat("x", 1024)+"...(cut)" {
		t.Errorf("first line not cut at 1024 bytes: %.40q (len %d)", lines[0], len(lines[0]))
	}
	if len(lines) > 64<<10/5+2 {
		t.Errorf("%d lines logged, want the stream capped at 64 KiB", len(lines))
	}
	if logs.FilterMessage("hook output cut").Len() != 1 {
		t.Errorf("want one 'hook output cut' entry")
	}
}

// gone reports whether pid no longer exists (or is a zombie nobody reaped yet).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// Field 3, after "pid (comm)", is the state.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestExecTimeoutKillsProcessGroup: the hook spawns a sleeping grandchild and waits; at the
// timeout both the script and the grandchild are killed.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	p := script(t, "sleep 300 &\necho $! > "+pidFile+".tmp\nmv "+pidFile+".tmp "+pidFile+"\nwait\n")
	log, logs := observed()
	const timeout = 300 * time.Millisecond
	h := one(t, config.Hook{Exec: []string{p}, Timeout: timeout}, hooks.Deps{Logger: log})
	start := time.Now()
	err := h.Run(t.Context(), event)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("error = %q", err)
	}
	// Far below the grandchild's 300 s sleep: the timeout, then the kill of the group.
	if d := time.Since(start); d > testwait.For(timeout) {
		t.Errorf("Run took %s; the grandchild held it", d)
	}
	raw, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("the script did not record its child: %v", rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	// Killed with the group when Run returned: the kernel's work, a step.
	deadline := time.Now().Add(testwait.For(0))
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	if logs.FilterMessage("hook timed out, process group killed").Len() != 1 {
		t.Errorf("no timeout log entry")
	}
}

// TestExecBackgroundChildDoesNotHold: a hook that exits 0 but leaves a child holding its
// stdout succeeds once the wait delay has passed.
func TestExecBackgroundChildDoesNotHold(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "bg.pid")
	p := script(t, "sleep 30 &\necho $! > "+pidFile+"\nexit 0\n")
	h := one(t, config.Hook{Exec: []string{p}, Timeout: time.Minute}, hooks.Deps{})
	if err := h.Run(t.Context(), event); err != nil {
		t.Errorf("Run = %v", err)
	}
	if raw, err := os.ReadFile(pidFile); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(raw))); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
