package bench

// The benchmarks (make bench, scripts/bench.sh). Each scenario runs `certferry renew` as a subprocess (so
// its peak RSS can be read from rusage) against a sandbox in this process, with Route
// 53 as it behaves since July 2026: changes INSYNC after 5 s, 10 requests/s with a
// burst of 50. The sandbox counts every call, so each result carries Route 53, Secrets
// Manager and ACME calls by operation.
//
// Tuning. Two configurations are measured:
//
//   - defaults: config.DefaultConcurrency (50) and the per-endpoint pacing
//     (acme.rate_limits at their defaults, Let's Encrypt's per-IP limits less 20 %;
//     docs/pacing.md). The targets apply to these.
//   - previous: the defaults before per-endpoint pacing, concurrency 10 and one cap of 50
//     requests/s (acme.requests_per_second), for comparison.
//
// Beside them, the same certificates issued by a lego loop and a certbot loop
// (tools_test.go), the daemon's idle RSS and the Lambda function's cold start.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox"
)

const (
	benchInsync   = 5 * time.Second
	benchR53Rate  = 10
	benchR53Burst = 50
)

func benchSandbox(b *testing.B) *sandbox.Sandbox {
	return startSandbox(b, benchInsync, benchR53Rate, benchR53Burst)
}

// row is one measured run, appended as JSON to CERTFERRY_BENCH_OUT for benchtable.
type row struct {
	Scenario    string         `json:"scenario"`
	Tool        string         `json:"tool"` // certferry | lego | certbot
	Tuning      string         `json:"tuning,omitempty"`
	Concurrency int            `json:"concurrency,omitempty"`
	RPS         float64        `json:"rps,omitempty"`
	Certs       int            `json:"certs"`
	Names       int            `json:"names"`
	Zones       int            `json:"zones"`
	WallS       float64        `json:"wall_s"`
	PassS       float64        `json:"pass_s,omitempty"`
	Estimated   bool           `json:"estimated,omitempty"`
	Route53     map[string]int `json:"route53"`
	SM          map[string]int `json:"secretsmanager"`
	ACME        map[string]int `json:"acme"`
	PeakRSSMB   float64        `json:"peak_rss_mb"`
	Failed      int            `json:"failed"`
	IdleRSSMB   float64        `json:"idle_rss_mb,omitempty"`  // daemon-idle: resident memory once idle
	WarmS       float64        `json:"warm_s,omitempty"`       // lambda-cold: the second (warm) invoke
	InitMS      float64        `json:"init_ms,omitempty"`      // lambda-cold: the emulator's Init Duration
	ArithmeticS float64        `json:"arithmetic_s,omitempty"` // onboard70: when the CA's limits let the last order through
	Runs        int            `json:"runs,omitempty"`         // onboard70: `certferry renew` runs
}

var outMu sync.Mutex

func record(b *testing.B, r row) {
	b.Helper()
	path := os.Getenv("CERTFERRY_BENCH_OUT")
	if path == "" {
		return
	}
	data, err := json.Marshal(r)
	if err != nil {
		b.Fatalf("marshal row: %v", err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(data, '\n')); err != nil {
		b.Fatalf("write %s: %v", path, err)
	}
}

// report turns the counts of one run into b.ReportMetric lines.
func report(b *testing.B, r row) {
	b.ReportMetric(r.WallS, "wall_s/op")
	if r.PassS > 0 {
		b.ReportMetric(r.PassS, "pass_s/op")
	}
	c := callCounts{"route53": r.Route53, "secretsmanager": r.SM, "acme": r.ACME}
	b.ReportMetric(float64(c.total("route53")), "route53_calls/op")
	for op, n := range r.Route53 {
		b.ReportMetric(float64(n), "r53_"+op+"/op")
	}
	b.ReportMetric(float64(c.total("secretsmanager")), "sm_calls/op")
	if r.Certs > 0 {
		b.ReportMetric(float64(c.total("secretsmanager"))/float64(r.Certs), "sm_calls/cert")
	}
	for op, n := range r.SM {
		b.ReportMetric(float64(n), "sm_"+op+"/op")
	}
	b.ReportMetric(float64(c.total("acme")), "acme_reqs/op")
	b.ReportMetric(r.PeakRSSMB, "peak_rss_MB")
	b.ReportMetric(float64(r.Failed), "failed/op")
}

type issueScenario struct {
	name  string
	certs func(prefix string) []certSpec
}

var issueScenarios = []issueScenario{
	{"N=1", func(p string) []certSpec { return singleNames(p, 1) }},
	{"N=10", func(p string) []certSpec { return singleNames(p, 10) }},
	{"N=100", func(p string) []certSpec { return singleNames(p, 100) }},
	{"SAN50", func(p string) []certSpec { return manyNames(p, 50) }},
}

// BenchmarkIssue issues every certificate of each scenario in one `certferry renew`.
func BenchmarkIssue(b *testing.B) {
	bin := certferryBin(b)
	for _, sc := range issueScenarios {
		for _, t := range []tuning{defaults, previous} {
			b.Run(sc.name+"/"+t.Name, func(b *testing.B) {
				b.StopTimer() // only the passes are timed (ns/op), not the set-up
				sb := benchSandbox(b)
				info := sb.Info()
				// Register the ACME account outside the measurement: a pass at steady
				// state has one.
				warm := runCLI(b, bin, writeConfig(b, b.TempDir(), info, singleNames("warm-", 1), t), info)
				if warm.ExitCode != 0 {
					b.Fatalf("warm-up pass: exit %d: %s\n%s", warm.ExitCode, warm.Summary.firstError(), tail(warm.Stderr, 4000))
				}
				var sum row
				for i := range b.N {
					cs := sc.certs(fmt.Sprintf("i%d-", i))
					cfg := writeConfig(b, b.TempDir(), info, cs, t)
					sb.Calls().Reset()
					b.StartTimer()
					res := runCLI(b, bin, cfg, info)
					b.StopTimer()
					if res.ExitCode != 0 || res.Summary.count("issue") != len(cs) {
						b.Fatalf("pass: exit %d, %d of %d issued: %s\n%s", res.ExitCode, res.Summary.count("issue"), len(cs),
							res.Summary.firstError(), tail(res.Stderr, 4000))
					}
					c := splitCalls(sb.Calls().Counts())
					r := row{Scenario: sc.name, Tool: "certferry", Tuning: t.Name, Concurrency: t.Concurrency, RPS: t.RPS,
						Certs: len(cs), Names: countNames(cs), Zones: zonesOf(cs), WallS: res.Wall.Seconds(),
						PassS: time.Duration(res.Summary.DurationNS).Seconds(), Route53: c["route53"], SM: c["secretsmanager"],
						ACME: c["acme"], PeakRSSMB: float64(res.MaxRSSKB) / 1024}
					record(b, r)
					sum = addRow(sum, r)
				}
				report(b, divRow(sum, b.N))
			})
		}
	}
}

// BenchmarkIdle1000 runs a pass over 1000 stored certificates, none due.
func BenchmarkIdle1000(b *testing.B) {
	bin := certferryBin(b)
	b.StopTimer()
	sb := benchSandbox(b)
	info := sb.Info()
	cs := singleNames("idle-", 1000)
	seed(b, sb, cs)
	cfg := writeConfig(b, b.TempDir(), info, cs, defaults)
	var sum row
	for range b.N {
		sb.Calls().Reset()
		b.StartTimer()
		res := runCLI(b, bin, cfg, info)
		b.StopTimer()
		if res.ExitCode != 0 || res.Summary.count("skip") != len(cs) {
			b.Fatalf("idle pass: exit %d, %d of %d skipped: %s\n%s", res.ExitCode, res.Summary.count("skip"), len(cs),
				res.Summary.firstError(), tail(res.Stderr, 4000))
		}
		c := splitCalls(sb.Calls().Counts())
		r := row{Scenario: "idle1000", Tool: "certferry", Tuning: defaults.Name, Concurrency: defaults.Concurrency, RPS: defaults.RPS,
			Certs: len(cs), Names: len(cs), Zones: zonesOf(cs), WallS: res.Wall.Seconds(),
			PassS: time.Duration(res.Summary.DurationNS).Seconds(), Route53: c["route53"], SM: c["secretsmanager"],
			ACME: c["acme"], PeakRSSMB: float64(res.MaxRSSKB) / 1024}
		record(b, r)
		sum = addRow(sum, r)
	}
	report(b, divRow(sum, b.N))
}

// zonesOf counts the hosted zones the certificates' names fall in.
func zonesOf(cs []certSpec) int {
	seen := map[string]bool{}
	for _, c := range cs {
		for _, d := range c.Domains {
			for _, z := range zones {
				if strings.HasSuffix(d, "."+z) || d == z {
					seen[z] = true
				}
			}
		}
	}
	return len(seen)
}

func countNames(cs []certSpec) int {
	n := 0
	for _, c := range cs {
		n += len(c.Domains)
	}
	return n
}

func addRow(a, r row) row {
	if a.Route53 == nil {
		a = r
		a.Route53, a.SM, a.ACME = map[string]int{}, map[string]int{}, map[string]int{}
		a.WallS, a.PassS, a.PeakRSSMB, a.Failed = 0, 0, 0, 0
	}
	a.WallS += r.WallS
	a.PassS += r.PassS
	a.Failed += r.Failed
	a.PeakRSSMB = max(a.PeakRSSMB, r.PeakRSSMB)
	for op, n := range r.Route53 {
		a.Route53[op] += n
	}
	for op, n := range r.SM {
		a.SM[op] += n
	}
	for op, n := range r.ACME {
		a.ACME[op] += n
	}
	return a
}

// divRow averages a sum of n runs (peak RSS is already the maximum).
func divRow(a row, n int) row {
	if n <= 1 {
		return a
	}
	a.WallS /= float64(n)
	a.PassS /= float64(n)
	for _, m := range []map[string]int{a.Route53, a.SM, a.ACME} {
		for op := range m {
			m[op] /= n
		}
	}
	return a
}

// legoBin returns the lego binary, or skips.
func legoBin(b *testing.B) string {
	p := os.Getenv("CERTFERRY_BENCH_LEGO")
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache", "certferry-bench", "lego")
	}
	if _, err := os.Stat(p); err != nil {
		b.Skipf("lego binary %s: %v (scripts/bench.sh builds it)", p, err)
	}
	return p
}

// legoN10 is the N=10 loop's wall time, for the N=100 estimate.
var legoN10 time.Duration

// BenchmarkLegoLoop issues the same N single-name certificates the way a lego user does
// today: one `lego run --dns route53` per certificate, in a loop.
func BenchmarkLegoLoop(b *testing.B) {
	bin := legoBin(b)
	limit := 15 * time.Minute
	if v := os.Getenv("CERTFERRY_BENCH_LEGO_MAX"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("CERTFERRY_BENCH_LEGO_MAX: %v", err)
		}
		limit = d
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if n == 100 {
				if legoN10 == 0 {
					b.Skip("N=100 is run or estimated from N=10, which did not run")
				}
				if est := legoN10 * 10; est > limit {
					r := row{Scenario: "N=100", Tool: "lego", Certs: 100, Names: 100, Zones: len(zones), WallS: est.Seconds(), Estimated: true}
					record(b, r)
					b.ReportMetric(r.WallS, "wall_s_estimated/op")
					b.Logf("lego N=100 not run: 10 x the N=10 loop (%s) = %s > %s; estimated", legoN10.Round(time.Second), est.Round(time.Second), limit)
					return
				}
			}
			b.StopTimer()
			sb := benchSandbox(b)
			info := sb.Info()
			path := b.TempDir()
			// lego registers its account on first use; a user's loop has one already.
			if _, _, err := legoRun(bin, info, path, "warm.example.com"); err != nil {
				b.Fatalf("lego warm-up: %v", err)
			}
			var sum row
			for i := range b.N {
				sb.Calls().Reset()
				cs := singleNames(fmt.Sprintf("i%d-", i), n)
				var rss int64
				b.StartTimer()
				start := time.Now()
				for _, c := range cs {
					r, _, err := legoRun(bin, info, path, c.Domains[0])
					if err != nil {
						b.Fatalf("lego %s: %v", c.Domains[0], err)
					}
					rss = max(rss, r)
				}
				wall := time.Since(start)
				b.StopTimer()
				c := splitCalls(sb.Calls().Counts())
				r := row{Scenario: fmt.Sprintf("N=%d", n), Tool: "lego", Certs: n, Names: n, Zones: zonesOf(cs), WallS: wall.Seconds(),
					Route53: c["route53"], SM: c["secretsmanager"], ACME: c["acme"], PeakRSSMB: float64(rss) / 1024}
				record(b, r)
				sum = addRow(sum, r)
				if n == 10 {
					legoN10 = wall
				}
			}
			report(b, divRow(sum, b.N))
		})
	}
}

// legoRun runs one `lego run` for domain and returns its peak RSS in KB.
func legoRun(bin string, info sandbox.Info, path, domain string) (int64, time.Duration, error) {
	cmd := exec.Command(bin,
		"--accept-tos", "--email", "bench@example.com", "--server", info.ACMEDirectory, "--path", path,
		"--dns", "route53", "--dns.resolvers", info.DNS, "--dns.propagation-disable-ans",
		"-d", domain, "run")
	cmd.Env = append(awsEnv(info, path), "LEGO_CA_CERTIFICATES="+info.ACMECABundle)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return 0, wall, fmt.Errorf("%w\n%s", err, tail(string(out), 3000))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return rss, wall, nil
}
