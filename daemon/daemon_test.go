package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/metrics/metricstest"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestMain checks for leaked goroutines. Besides Pebble's VA it ignores the known leak
// that bench/batch_test.go documents: lego's nonce manager never closes the body of its
// HEAD newNonce response, and the ACME http.Client has a Timeout, so net/http keeps a
// setRequestCancel goroutine per nonce fetch until that timeout (2 min) ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(acmesim.VAGoroutine),
		goleak.IgnoreTopFunction("net/http.setRequestCancel.func4"))
}

const fakeConfig = `acme:
  directory: https://127.0.0.1:1/dir
  email: ops@example.com
aws:
  region: us-east-1
schedule: "@every 1h"
certificates:
  - name: %s
    domains: [www.example.com]
    sinks:
      secretsmanager: { secret: certferry/%s }
`

func noEnv(string) (string, bool) { return "", false }

func load(path string) (*config.Config, error) { return config.Load(path, noEnv) }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fakeRunner answers passes from a function and counts them.
type fakeRunner struct {
	passes    atomic.Int32
	refreshes atomic.Int32 // renew.Options.Refresh: not counted as passes
	pass      func(ctx context.Context) (*renew.Summary, error)
	// refresh answers refreshes; nil: pass does
	refresh func(ctx context.Context) (*renew.Summary, error)
}

func (f *fakeRunner) Pass(ctx context.Context, opts renew.Options) (*renew.Summary, error) {
	if opts.Refresh {
		f.refreshes.Add(1)
		if f.refresh != nil {
			return f.refresh(ctx)
		}
		return f.pass(ctx)
	}
	f.passes.Add(1)
	return f.pass(ctx)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// running is a daemon started by start.
type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// start runs the daemon with opts (Load, Listen and Ready filled in when unset) and
// waits until it serves.
func start(t *testing.T, opts daemon.Options) *running {
	t.Helper()
	if opts.Load == nil {
		opts.Load = load
	}
	opts.Listen = "127.0.0.1:0"
	ready := make(chan string, 1)
	opts.Ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- daemon.Run(ctx, opts) }()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(step):
		cancel()
		t.Fatalf("daemon not ready within %s", step)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the daemon (SIGTERM in the CLI) and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(stopBound):
		t.Fatalf("Run did not return within %s of the cancel", stopBound)
		return nil
	}
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: step}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func (r *running) health(t *testing.T) (int, daemon.Health) {
	t.Helper()
	code, body := get(t, "http://"+r.addr+"/healthz")
	var h daemon.Health
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("/healthz: %v: %s", err, body)
	}
	return code, h
}

func (r *running) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+r.addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	fams, err := metricstest.Parse(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func (r *running) value(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	v, _ := metricstest.Value(r.metrics(t), name, labels)
	return v
}

// eventually is the harness's (internal/e2etest).
var eventually = e2etest.Eventually

// notes collects sd_notify datagrams on a test socket.
type notes struct {
	addr string
	mu   sync.Mutex
	got  []string
	conn *net.UnixConn
	done chan struct{}
}

func listenNotify(t *testing.T) *notes {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	n := &notes{addr: filepath.Join(dir, "notify"), done: make(chan struct{})}
	n.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(n.done)
		buf := make([]byte, 65536)
		for {
			k, err := n.conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.got = append(n.got, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { n.conn.Close(); <-n.done; os.RemoveAll(dir) })
	return n
}

// has reports whether a datagram holds a line starting with prefix.
func (n *notes) has(prefix string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.got {
		for _, l := range strings.Split(d, "\n") {
			if strings.HasPrefix(l, prefix) {
				return true
			}
		}
	}
	return false
}

func okSummary(name string, notAfter, dueAt time.Time) func(context.Context) (*renew.Summary, error) {
	return func(context.Context) (*renew.Summary, error) {
		return &renew.Summary{Started: time.Now(), Results: []*renew.Result{
			{Name: name, Action: renew.ActionSkip, Reason: scheduler.ReasonNotDue, NotBefore: notAfter.Add(-90 * 24 * time.Hour),
				NotAfter: notAfter, DueAt: dueAt, Condition: renew.ConditionReady},
		}}, nil
	}
}

// TestLifecycle: READY, STATUS and WATCHDOG on the notify socket; a real SIGHUP with a
// broken file keeps the running configuration; a good one is applied; the stop sends
// STOPPING and returns nil. Not parallel: it sends SIGHUP to the test process.
func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	n := listenNotify(t)
	notAfter := time.Now().Add(60 * 24 * time.Hour)
	var builds atomic.Int32
	var names sync.Map
	r := start(t, daemon.Options{
		ConfigPath: cfgPath,
		Build: func(_ context.Context, cfg *config.Config) (daemon.Runner, error) {
			builds.Add(1)
			name := cfg.Certificates[0].Name
			names.Store(name, true)
			return &fakeRunner{pass: okSummary(name, notAfter, notAfter.Add(-20*24*time.Hour))}, nil
		},
		NotifySocket:     n.addr,
		WatchdogInterval: 10 * time.Millisecond,
	})
	eventually(t, step, "READY, STATUS and WATCHDOG", func() bool {
		return n.has("READY=1") && n.has("STATUS=last pass ") && n.has("WATCHDOG=1")
	})
	if code, h := r.health(t); code != 200 || h.Status != "ok" {
		t.Fatalf("/healthz = %d %+v", code, h)
	}
	if got := r.value(t, "certferry_certificate_expiration_timestamp_seconds", map[string]string{"name": "web"}); got != float64(notAfter.UnixNano())/1e9 {
		t.Errorf("expiration = %v", got)
	}

	// A broken file: the reload fails, the old configuration stays.
	writeFile(t, cfgPath, "acme: [\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, step, "failed reload counted", func() bool {
		return r.value(t, "certferry_config_reloads_total", map[string]string{"result": "failure"}) == 1
	})
	if builds.Load() != 1 {
		t.Errorf("a broken configuration was built: %d builds", builds.Load())
	}
	if !n.has("STATUS=reload failed, old configuration kept: ") {
		t.Error("no STATUS for the failed reload")
	}
	if code, _ := r.health(t); code != 200 {
		t.Errorf("/healthz after a failed reload = %d", code)
	}

	// A good file with another certificate: applied.
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "api", "api"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, step, "reload applied", func() bool {
		return r.value(t, "certferry_config_reloads_total", map[string]string{"result": "success"}) == 1
	})
	if _, ok := names.Load("api"); !ok || !n.has("RELOADING=1") {
		t.Error("reloaded configuration not built, or no RELOADING=1")
	}
	fams := r.metrics(t)
	if _, ok := metricstest.Value(fams, "certferry_renewals_total", map[string]string{"name": "api", "result": "success"}); !ok {
		t.Error("no series for the reloaded certificate")
	}
	if _, ok := metricstest.Value(fams, "certferry_renewals_total", map[string]string{"name": "web", "result": "success"}); ok {
		t.Error("series of the removed certificate kept")
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	eventually(t, step, "STOPPING=1", func() bool { return n.has("STOPPING=1") })
}

// TestHealthz: 503 with reasons when a certificate is in its emergency window and when
// no pass has succeeded for MaxPassAge.
func TestHealthz(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	nb := clk.Now().Add(-80 * 24 * time.Hour) // 90-day certificate, 10 days left: emergency (< 15 days)
	na := nb.Add(90 * 24 * time.Hour)
	var fail atomic.Bool
	fr := &fakeRunner{}
	fr.pass = func(ctx context.Context) (*renew.Summary, error) {
		if fail.Load() {
			return nil, errors.New("renew: inventory: boom")
		}
		return okSummary("web", na, na.Add(-30*24*time.Hour))(ctx)
	}
	r := start(t, daemon.Options{
		ConfigPath: cfgPath,
		Build:      func(context.Context, *config.Config) (daemon.Runner, error) { return fr, nil },
		Now:        clk.Now,
		MaxPassAge: 36 * time.Hour,
	})
	eventually(t, step, "first pass", func() bool { return fr.passes.Load() >= 1 && !r.healthLastPass(t).IsZero() })
	code, h := r.health(t)
	if code != 503 || h.Status != "unhealthy" || len(h.Reasons) != 1 || !strings.Contains(h.Reasons[0], `certificate "web" is in its emergency window`) {
		t.Fatalf("/healthz = %d %+v", code, h)
	}

	// Stale passes: the next passes fail to run and 37 h go by.
	fail.Store(true)
	clk.Add(37 * time.Hour)
	code, h = r.health(t)
	if code != 503 || !containsString(h.Reasons, "the last successful pass was at 2026-05-01T12:00:00Z, more than 36h0m0s ago") {
		t.Fatalf("/healthz = %d %+v", code, h)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *running) healthLastPass(t *testing.T) time.Time {
	_, h := r.health(t)
	return h.LastPass
}

// TestHealthzFresh: a fresh certificate and a successful pass are healthy.
func TestHealthzFresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	now := time.Now()
	fr := &fakeRunner{}
	fr.pass = okSummary("web", now.Add(90*24*time.Hour), now.Add(60*24*time.Hour))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return fr, nil }})
	eventually(t, step, "first pass", func() bool { return !r.healthLastPass(t).IsZero() })
	if code, h := r.health(t); code != 200 || h.LastSuccessfulPass.IsZero() {
		t.Fatalf("/healthz = %d %+v", code, h)
	}
}

// TestStopBound: a pass that ignores the cancel is waited for StopTimeout, then Run
// reports it.
func TestStopBound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	fr := &fakeRunner{pass: func(context.Context) (*renew.Summary, error) {
		close(started)
		<-release
		return &renew.Summary{}, nil
	}}
	r := start(t, daemon.Options{ConfigPath: cfgPath, StopTimeout: 50 * time.Millisecond,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return fr, nil }})
	<-started
	err := r.stop(t)
	if err == nil || err.Error() != "daemon: the pass in flight did not stop within 50ms" {
		t.Fatalf("Run = %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "certferry.yaml")
	writeFile(t, cfgPath, "acme: [\n")
	err := daemon.Run(context.Background(), daemon.Options{ConfigPath: cfgPath, Load: load,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return nil, errors.New("unused") }})
	if !errors.Is(err, daemon.ErrConfig) {
		t.Fatalf("Run = %v, want ErrConfig", err)
	}
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web"))
	err = daemon.Run(context.Background(), daemon.Options{ConfigPath: cfgPath, Load: load,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) {
			return nil, errors.New("acme.ca_bundle: missing")
		}})
	if !errors.Is(err, daemon.ErrConfig) || !strings.HasSuffix(err.Error(), "acme.ca_bundle: missing") {
		t.Fatalf("Run = %v, want ErrConfig", err)
	}
}

func metricsValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	return metricstest.Value(fams, name, labels)
}

// TestScheduleFloor: whatever the schedule answers (a time in the past, the zero time of
// a spec that matches nothing), two passes never start closer than schedule.min_period.
func TestScheduleFloor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		next func(time.Time) time.Time
	}{
		{"zero time", func(time.Time) time.Time { return time.Time{} }},
		{"in the past", func(now time.Time) time.Time { return now.Add(-time.Hour) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
			writeFile(t, cfgPath, everySecond("web"))
			var mu sync.Mutex
			var starts []time.Time
			runner := &fakeRunner{pass: func(ctx context.Context) (*renew.Summary, error) {
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				return okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))(ctx)
			}}
			r := start(t, daemon.Options{ConfigPath: cfgPath, Next: c.next,
				Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
			eventually(t, fakePasses(3), "three passes", func() bool { return runner.passes.Load() >= 3 })
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			// n passes take at least n-1 floors (the runner sees each start a little after
			// the daemon does, so one floor of slack); back to back, they were thousands.
			n := len(starts)
			if elapsed := starts[n-1].Sub(starts[0]); n-1 > int(elapsed/period)+1 {
				t.Errorf("%d passes in %s, more than one per floor (%s)", n, elapsed, period)
			}
		})
	}
}
