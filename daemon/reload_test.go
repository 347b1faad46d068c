package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
)

// everySecond is fakeConfig with a pass every second, so a test sees passes come on
// schedule while a reload is in trouble.
func everySecond(name string) string {
	return strings.Replace(fmt.Sprintf(fakeConfig, name, name), `"@every 1h"`, `{cron: "@every 1s", min_period: 1s}`, 1)
}

// reloadTimeout is the ReloadTimeout of the tests whose reload gets stuck.
const reloadTimeout = 100 * time.Millisecond

func (r *running) reloads(t *testing.T, result string) float64 {
	t.Helper()
	return r.value(t, "certferry_config_reloads_total", map[string]string{"result": result})
}

// TestReloadFIFO: the configuration path replaced by a FIFO (nobody writing) makes the
// reload fail at once naming the path, scheduled passes go on, and the stop is prompt.
func TestReloadFIFO(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, everySecond("web"))
	runner := &fakeRunner{pass: okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))}
	reload := make(chan struct{})
	n := listenNotify(t)
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload, NotifySocket: n.addr,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	if err := os.Remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(cfgPath, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reload <- struct{}{}
	eventually(t, step, "failed reload counted", func() bool { return r.reloads(t, "failure") == 1 })
	eventually(t, step, "a STATUS naming the FIFO", func() bool {
		return n.has("STATUS=reload failed, old configuration kept: config: load " + cfgPath + ": a named pipe (FIFO)")
	})
	before := runner.passes.Load()
	eventually(t, fakePasses(2), "two more scheduled passes", func() bool { return runner.passes.Load() >= before+2 })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestReloadStuckRead: a configuration read that never returns (a hung network file
// system) neither delays the scheduled passes nor the stop: the reload fails at
// ReloadTimeout, a SIGHUP meanwhile waits for the stuck read, and when that read returns
// at last its result is dropped and the waiting reload runs.
func TestReloadStuckRead(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, everySecond("web"))
	runner := &fakeRunner{pass: okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))}
	var loads atomic.Int32
	release := make(chan struct{})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(unblock)
	reload := make(chan struct{})
	var builds atomic.Int32
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload, ReloadTimeout: reloadTimeout,
		Load: func(path string) (*config.Config, error) {
			if loads.Add(1) == 2 {
				<-release
			}
			return load(path)
		},
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { builds.Add(1); return runner, nil }})

	reload <- struct{}{}
	eventually(t, reloadFails(reloadTimeout), "the stuck reload timed out", func() bool { return r.reloads(t, "failure") == 1 })
	before := runner.passes.Load()
	eventually(t, fakePasses(2), "two scheduled passes during the stuck read", func() bool { return runner.passes.Load() >= before+2 })
	reload <- struct{}{} // waits for the stuck read: no second goroutine
	if n := loads.Load(); n != 2 {
		t.Fatalf("Load called %d times while one was stuck, want 2", n)
	}
	unblock()
	eventually(t, step, "the waiting reload applied", func() bool { return r.reloads(t, "success") == 1 })
	if loads.Load() != 3 || builds.Load() != 2 || r.reloads(t, "failure") != 1 {
		t.Errorf("loads %d, builds %d, failures %v: want 3, 2 and 1 (the late result dropped)", loads.Load(), builds.Load(), r.reloads(t, "failure"))
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestStopDuringStuckRead: SIGTERM while a reload's read is stuck stops the daemon at once.
func TestStopDuringStuckRead(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	runner := &fakeRunner{pass: okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var loads atomic.Int32
	entered := make(chan struct{})
	reload := make(chan struct{})
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload,
		Load: func(path string) (*config.Config, error) {
			if loads.Add(1) == 2 {
				close(entered)
				<-release
			}
			return load(path)
		},
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	reload <- struct{}{}
	<-entered
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestReloadStuckBuild: a reload whose Build hangs (credentials that never come) fails at
// ReloadTimeout, with its context cancelled, while the scheduled passes go on.
func TestReloadStuckBuild(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, everySecond("web"))
	runner := &fakeRunner{pass: okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))}
	var builds atomic.Int32
	cancelled := make(chan struct{})
	reload := make(chan struct{})
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload, ReloadTimeout: reloadTimeout,
		Build: func(ctx context.Context, _ *config.Config) (daemon.Runner, error) {
			if builds.Add(1) == 2 {
				<-ctx.Done()
				close(cancelled)
				return nil, ctx.Err()
			}
			return runner, nil
		}})
	reload <- struct{}{}
	eventually(t, reloadFails(reloadTimeout), "the stuck reload failed", func() bool { return r.reloads(t, "failure") == 1 })
	<-cancelled
	before := runner.passes.Load()
	eventually(t, fakePasses(2), "two scheduled passes after it", func() bool { return runner.passes.Load() >= before+2 })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestReloadAddingACertificateRunsAPass: a SIGHUP that adds a certificate runs a pass at
// once, not at the next scheduled time (an hour away here); one that adds none waits.
func TestReloadAddingACertificateRunsAPass(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	runner := &fakeRunner{pass: okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))}
	reload := make(chan struct{})
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	eventually(t, step, "the first pass", func() bool { return runner.passes.Load() == 1 })
	reload <- struct{}{} // the same certificates
	eventually(t, step, "reload applied", func() bool { return r.reloads(t, "success") == 1 })
	if n := runner.passes.Load(); n != 1 {
		t.Fatalf("a reload that adds nothing ran a pass (%d passes)", n)
	}
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+`  - name: api
    domains: [api.example.com]
    sinks:
      secretsmanager: { secret: certferry/api }
`)
	reload <- struct{}{}
	eventually(t, step, "a pass for the added certificate", func() bool { return runner.passes.Load() == 2 })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
