package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	dto "github.com/prometheus/client_model/go"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/metrics/metricstest"
)

// The soak's size. make test runs the short default; `make soak` runs 2,000 passes
// (-soak.passes 2000). -soak.profiles DIR writes heap and goroutine profiles at the end
// of the warm-up and at the end, to find what grew (go tool pprof -base).
var (
	soakPasses   = flag.Int("soak.passes", 500, "TestDaemonSoak: daemon passes in all, the start-up pass included (at least 400)")
	soakProfiles = flag.String("soak.profiles", "", "TestDaemonSoak: directory to write heap and goroutine profiles to")
)

const (
	// soakWarmup passes fill the caches and pools a daemon keeps (the AWS and ACME
	// clients' connections, the ACME account, every code path's first allocations,
	// metric series) before RSS is first measured. Every kind of work has run by then.
	soakWarmup = 200
	// soakWindow is how many passes each measurement spans, after the warm-up and at the
	// end.
	soakWindow = 100
	// soakRenewEvery: every this many passes one certificate (round robin) is forced due
	// and renewed by the next pass: a whole order, DNS-01 on Route 53, a new secret
	// version and its exec hook. Spread over soakCerts certificates, each secret stays
	// well inside the sandbox's 100 versions a day.
	soakRenewEvery = 25
	soakCerts      = 4
	// soakGrowth is how much the daemon's resident memory may grow from the warm-up to
	// the end.
	soakGrowth = 1 << 20
)

// soakConfig is a daemon's configuration as an operator writes it: a pass every ten
// minutes (no sooner than the default floor, 5 minutes), the certificates' conditions
// re-read from their secrets every 25 minutes, info logs in JSON.
const soakConfig = `acme:
  directory: %q
  email: soak@example.com
  ca_bundle: %q
  issuer_roots: %q
aws:
  region: %q
  endpoint_url: %q
schedule: "*/10 * * * *"
health_refresh: 25m
issuance_guard: 1h
log: { level: info, format: json }
certificates:
`

// TestDaemonSoak runs the daemon as `certferry run` wires it (runOptions: its Runner,
// metrics and memory) for soak.passes passes and checks that its resident memory does not
// grow after the warm-up: within 1 MB between the passes right after the warm-up and the
// last ones. Its life is a daemon's: mostly idle passes (nothing due: one ListSecrets,
// the plan, now and then an ARI check), a renewal every soakRenewEvery passes (a
// certificate placed by hand in a secret, which the next pass replaces with a real
// order), a health refresh every 2.5 passes, and a /metrics and /healthz scrape after
// every pass and refresh.
//
// Time: the daemon's clock and its passes' are one clock the test moves
// (daemon.Options.After and Now): when the daemon's loop waits on its two timers (the
// next pass, the next refresh) the test moves the clock to the earlier and fires it, so
// each pass runs as soon as the one before is over, with the daemon's own scheduling,
// floor and refreshes, and the pass count is exact. The sandbox is a process of its own
// (certferry-sandbox serve), so this process holds the daemon and the test's small
// driver, not Pebble and the AWS stand-ins.
//
// What is measured: VmRSS after debug.FreeOSMemory, as the daemon itself does after
// every pass and refresh (idleRunner): what it holds while it idles between passes. The
// garbage the collector has not yet reclaimed, which rises and falls with GOGC, is
// returned first, so what remains is what the daemon keeps, and a leak raises it. Of each
// window of soakWindow passes the lowest reading is compared: one reading can catch
// memory in passing (a connection's buffers, a goroutine's grown stack), a leak raises
// every reading.
func TestDaemonSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of hundreds of daemon passes")
	}
	passes := *soakPasses
	if passes < soakWarmup+2*soakWindow {
		t.Fatalf("-soak.passes %d: at least %d", passes, soakWarmup+2*soakWindow)
	}
	if raceEnabled {
		t.Skip("the race detector's own memory grows with the goroutines and locks it has seen: " +
			"make test runs this test again without -race (NORACE_TESTS)")
	}
	// The certferry binary links no memory profiler, so the linker turns the runtime's
	// sampling of allocations off; a test binary links one, and its record of every
	// sampled allocation's call stack is never freed: about 0.7 MB over 2,000 passes
	// here, with the heap flat. Off, as in the binary, unless profiles are asked for.
	if *soakProfiles == "" {
		rate := runtime.MemProfileRate
		runtime.MemProfileRate = 0
		t.Cleanup(func() { runtime.MemProfileRate = rate })
	}
	began := time.Now()
	info := startSandboxProcess(t)
	dir := t.TempDir()
	hook, err := exec.LookPath("true")
	if err != nil {
		t.Skipf("no true(1) for the exec hook: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, soakConfig, info.ACMEDirectory, info.ACMECABundle, info.IssuerRoots, info.Region, info.AWSEndpoint)
	for i := range soakCerts {
		fmt.Fprintf(&b, "  - name: c%d\n    domains: [c%d.example.com]\n    sinks:\n      secretsmanager: { secret: certferry/soak/c%d }\n", i, i, i)
		fmt.Fprintf(&b, "    hooks:\n      on_renew:\n        - exec: [%q]\n", hook)
	}
	cfgPath := writeFile(t, dir, "certferry.yaml", b.String())
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log, err := logging.New(io.Discard, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		t.Fatal(err)
	}

	clk := newSoakClock(time.Now())
	opts := runOptions(cfgPath, cfg, log, clk.Now)
	opts.After = clk.After
	opts.Listen = "127.0.0.1:0"
	ready := make(chan string, 1)
	opts.Ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, opts) }()
	stopped := false
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			stopped = true
			return err
		case <-time.After(daemon.DefaultStopTimeout + daemon.HTTPShutdownTimeout + testwait.For(0)):
			t.Fatal("Run did not return after the cancel")
			return nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_ = stop()
		}
	})
	// The start-up pass issues every certificate.
	bound := e2etest.PassBound(sandbox.Options{}) + testwait.For(0)
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(bound):
		t.Fatalf("the daemon did not serve within %s", bound)
	}

	sm := soakSecrets(t, info)
	planted := soakPlanted(t)
	scraper := &http.Client{Timeout: testwait.For(0)} // keeps its connection, as Prometheus does
	var (
		pass, refreshes, renewals = 1, 0, 0 // the start-up pass
		warm, end                 soakWindowStats
		trend                     []soakReading
	)
	for pass < passes {
		next, refresh := clk.waitIdle(t, bound)
		soakScrape(t, scraper, addr)
		switch {
		case pass >= soakWarmup && pass < soakWarmup+soakWindow:
			warm.add()
		case pass >= passes-soakWindow:
			end.add()
		}
		if pass == soakWarmup {
			soakProfile(t, "warm")
		}
		if pass%soakTrendEvery == 0 && (trend == nil || pass > trend[len(trend)-1].pass) {
			debug.FreeOSMemory()
			trend = append(trend, soakReading{pass, vmRSS()})
		}
		if refresh.at.Before(next.at) {
			clk.fire(refresh)
			refreshes++
			continue
		}
		if pass%soakRenewEvery == 0 {
			plant(t, sm, fmt.Sprintf("certferry/soak/c%d", renewals%soakCerts), planted)
			renewals++
		}
		clk.fire(next)
		pass++
	}
	clk.waitIdle(t, bound)
	end.add()
	soakProfile(t, "end")
	fams := soakMetrics(t, scraper, addr)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Every pass ran, every planted certificate was replaced by an order, nothing failed.
	if v, _ := metricstest.Value(fams, "certferry_passes_total", map[string]string{"result": "success"}); int(v) != passes {
		t.Errorf("certferry_passes_total{result=success} = %v, want %d", v, passes)
	}
	issued := 0.0
	for i := range soakCerts {
		v, _ := metricstest.Value(fams, "certferry_renewals_total", map[string]string{"name": fmt.Sprintf("c%d", i), "result": "success"})
		issued += v
		if f, _ := metricstest.Value(fams, "certferry_renewals_total", map[string]string{"name": fmt.Sprintf("c%d", i), "result": "failure"}); f != 0 {
			t.Errorf("c%d: %v failed renewals", i, f)
		}
	}
	if want := soakCerts + renewals; int(issued) != want {
		t.Errorf("%v certificates issued, want %d (%d at start, %d planted ones replaced)", issued, want, soakCerts, renewals)
	}

	t.Logf("%d passes (%d renewals, %d refreshes, %d scrapes of /metrics and /healthz each) over %s of the daemon's clock in %s",
		passes, renewals, refreshes, passes+refreshes, clk.Now().Sub(clk.start).Round(time.Minute), time.Since(began).Round(time.Second))
	t.Logf("the sandbox's counts: %s", soakCalls(t, scraper, info))
	t.Logf("RSS every %d passes: %s", soakTrendEvery, trend)
	t.Logf("after the warm-up (passes %d-%d): %s", soakWarmup, soakWarmup+soakWindow-1, warm)
	t.Logf("at the end (passes %d-%d): %s", passes-soakWindow, passes, end)
	if grew := int64(end.minRSS) - int64(warm.minRSS); grew > soakGrowth {
		t.Errorf("the daemon's RSS grew by %d KB from the warm-up to the end, more than %d KB", grew>>10, soakGrowth>>10)
	}
	// Goroutines come and go with the clients' idle connections (a reader and a writer
	// each): two connections more at the end than ever after the warm-up is the pools'
	// play; a goroutine left behind by every renewal (dozens by the end) or pass is not.
	if end.minRoutines > warm.maxRoutines+soakConnSlack {
		t.Errorf("at least %d goroutines at the end, at most %d after the warm-up: goroutines are left behind", end.minRoutines, warm.maxRoutines)
	}
}

// soakConnSlack: two idle connections' goroutines.
const soakConnSlack = 4

// soakTrendEvery: RSS is also read every this many passes, for the log.
const soakTrendEvery = 200

// soakReading is the RSS after FreeOSMemory at a pass.
type soakReading struct {
	pass int
	rss  uint64
}

func (r soakReading) String() string {
	return fmt.Sprintf("%d: %.1f MB", r.pass, float64(r.rss)/(1<<20))
}

// soakWindowStats are the readings of one window of passes.
type soakWindowStats struct {
	n                        int
	minRSS, maxRSS           uint64 // VmRSS after FreeOSMemory
	minHeap, maxHeap         uint64 // HeapInuse at the same moments
	minRoutines, maxRoutines int
}

func (w *soakWindowStats) add() {
	debug.FreeOSMemory()
	rss := vmRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	if w.n == 0 {
		w.minRSS, w.maxRSS, w.minHeap, w.maxHeap, w.minRoutines, w.maxRoutines = rss, rss, ms.HeapInuse, ms.HeapInuse, g, g
	}
	w.n++
	w.minRSS, w.maxRSS = min(w.minRSS, rss), max(w.maxRSS, rss)
	w.minHeap, w.maxHeap = min(w.minHeap, ms.HeapInuse), max(w.maxHeap, ms.HeapInuse)
	w.minRoutines, w.maxRoutines = min(w.minRoutines, g), max(w.maxRoutines, g)
}

func (w soakWindowStats) String() string {
	return fmt.Sprintf("RSS %.1f-%.1f MB, heap in use %.1f-%.1f MB, %d-%d goroutines (%d readings: after each pass and refresh)",
		float64(w.minRSS)/(1<<20), float64(w.maxRSS)/(1<<20), float64(w.minHeap)/(1<<20), float64(w.maxHeap)/(1<<20), w.minRoutines, w.maxRoutines, w.n)
}

// vmRSS is this process's resident set size (VmRSS in /proc/self/status), in bytes.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// soakClock is the daemon's clock in the soak (daemon.Options.Now and After): it moves
// only when the test fires a timer the daemon armed, to that timer's time.
type soakClock struct {
	start   time.Time
	mu      sync.Mutex
	now     time.Time
	seq     int
	pending []*soakTimer
	changed chan struct{} // a timer was armed or stopped; capacity 1, a wake-up
}

type soakTimer struct {
	at  time.Time
	seq int // the order timers were armed in
	c   chan time.Time
}

func newSoakClock(now time.Time) *soakClock {
	return &soakClock{start: now, now: now, changed: make(chan struct{}, 1)}
}

func (c *soakClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After arms a timer d from the clock's now.
func (c *soakClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	tm := &soakTimer{at: c.now.Add(d), seq: c.seq, c: make(chan time.Time, 1)}
	c.pending = append(c.pending, tm)
	c.wake()
	return tm.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.pending = slices.DeleteFunc(c.pending, func(p *soakTimer) bool { return p == tm })
		c.wake()
	}
}

func (c *soakClock) wake() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitIdle waits until the daemon's loop waits on its two timers and returns them: the
// next pass's (armed last, at the end of every turn of the loop) and the next refresh's.
// Two are pending only then: a fired timer is no longer pending, and the loop stops the
// pass's timer before a refresh and arms the next pass's after everything else.
func (c *soakClock) waitIdle(t *testing.T, within time.Duration) (next, refresh *soakTimer) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.pending) == 2 {
			a, b := c.pending[0], c.pending[1]
			c.mu.Unlock()
			if a.seq > b.seq {
				return a, b
			}
			return b, a
		}
		c.mu.Unlock()
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("the daemon's loop did not wait on its timers again within %s", within)
		}
	}
}

// fire moves the clock to tm's time and fires it.
func (c *soakClock) fire(tm *soakTimer) {
	c.mu.Lock()
	c.pending = slices.DeleteFunc(c.pending, func(p *soakTimer) bool { return p == tm })
	if tm.at.After(c.now) {
		c.now = tm.at
	}
	now := c.now
	c.mu.Unlock()
	tm.c <- now
}

// soakScrape scrapes /metrics and /healthz as a monitoring system would, reading every
// byte; the daemon must stay healthy throughout.
func soakScrape(t *testing.T, c *http.Client, addr string) {
	t.Helper()
	for _, path := range []string{"/metrics", "/healthz"} {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}

func soakMetrics(t *testing.T, c *http.Client, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fams, err := metricstest.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// soakProfile writes heap and goroutine profiles named for the moment to -soak.profiles.
func soakProfile(t *testing.T, moment string) {
	t.Helper()
	if *soakProfiles == "" {
		return
	}
	runtime.GC()
	for _, kind := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(*soakProfiles, kind+"-"+moment+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup(kind).WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// soakPlanted is a certificate from another CA, names and key type right, as an operator
// would place by hand: the next pass finds it not from the CA and replaces it.
func soakPlanted(t *testing.T) string {
	t.Helper()
	now := time.Now()
	b := certstest.NewCA(t).Bundle(t, "planted", certstest.Leaf{Domains: []string{"planted.example.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour)})
	v, err := b.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func soakSecrets(t *testing.T, info sandbox.Info) *awssm.Client {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(t.Context(), awsconfig.WithRegion(info.Region), awsconfig.WithBaseEndpoint(info.AWSEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	return awssm.NewFromConfig(cfg)
}

func plant(t *testing.T, sm *awssm.Client, secret, value string) {
	t.Helper()
	if _, err := sm.PutSecretValue(t.Context(), &awssm.PutSecretValueInput{SecretId: aws.String(secret), SecretString: aws.String(value)}); err != nil {
		t.Fatalf("plant a certificate in %s: %v", secret, err)
	}
}

// startSandboxProcess builds cmd/certferry-sandbox into the test's directory (the build
// cache makes a second build a link), starts `certferry-sandbox serve` for example.com
// with its defaults (changes INSYNC at once) and returns its JSON line; it is stopped with
// SIGTERM at the test's end.
func startSandboxProcess(t *testing.T) sandbox.Info {
	t.Helper()
	dir := t.TempDir()
	sandboxBin := filepath.Join(dir, "certferry-sandbox")
	if out, err := exec.Command("go", "build", "-o", sandboxBin, "github.com/certferry/certferry/cmd/certferry-sandbox").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/certferry-sandbox: %v\n%s", err, out)
	}
	cmd := exec.Command(sandboxBin, "serve", "--zone", "example.com", "--dir", filepath.Join(dir, "ca"), "--log-level", "error")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	lines := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadBytes('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	var info sandbox.Info
	select {
	case line := <-lines:
		if err := json.Unmarshal(line, &info); err != nil {
			t.Fatalf("certferry-sandbox's line %q: %v", line, err)
		}
	case <-time.After(testwait.For(0)):
		t.Fatal("certferry-sandbox printed no line")
	}
	return info
}

// soakCalls is what the daemon asked of the sandbox, the calls that tell the mix apart.
func soakCalls(t *testing.T, c *http.Client, info sandbox.Info) string {
	t.Helper()
	resp, err := c.Get(info.AWSEndpoint + "/_sandbox/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatalf("/_sandbox/calls: %v", err)
	}
	var parts []string
	for _, k := range []string{"secretsmanager.ListSecrets", "secretsmanager.GetSecretValue", "secretsmanager.PutSecretValue", "route53.ChangeResourceRecordSets", "acme.NewOrder", "acme.RenewalInfo"} {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
