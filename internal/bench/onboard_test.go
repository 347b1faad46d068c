package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
)

// The onboarding scenario: more due certificates than the CA's limits allow at once, as
// when a team moves its names to certferry (README.md, "Onboarding many names"). The
// sandbox's CA enforces Let's Encrypt's limits with the windows scaled down (20
// certificates per registered domain per 30 s, 30 new orders per 60 s) and
// acme.limits says so; 60 single-name certificates under example.com and 10 under
// example.net are issued by successive `certferry renew` runs, each started when the
// previous one says the window frees. The arithmetic minimum: 30 at 0 s (20 + 10),
// 20 at 60 s, 10 at 90 s, 10 at 120 s: the last orders at 120 s. The wall time, from the
// first run's start to the last run's end, is reported beside it.
const (
	onboardDomainN, onboardOrdersN = 20, 30
	onboardDomainW, onboardOrdersW = 30 * time.Second, 60 * time.Second
	onboardA, onboardB             = 60, 10
	onboardArithmetic              = 120 * time.Second
)

// BenchmarkOnboarding times the onboarding scenario.
func BenchmarkOnboarding(b *testing.B) {
	bin := certferryBin(b)
	b.StopTimer()
	for range b.N {
		sb, err := sandbox.Start(context.Background(), sandbox.Options{
			Zones: zones, InsyncAfter: benchInsync, Route53Rate: benchR53Rate, Route53Burst: benchR53Burst,
			Dir: filepath.Join(b.TempDir(), "ca"),
			Limits: limitsim.Limits{
				PerDomain: limitsim.Limit{N: onboardDomainN, Window: onboardDomainW},
				NewOrders: limitsim.Limit{N: onboardOrdersN, Window: onboardOrdersW},
			},
		})
		if err != nil {
			b.Fatalf("start sandbox: %v", err)
		}
		r := onboard(b, bin, sb)
		_ = sb.Close()
		record(b, r)
		report(b, r)
		b.ReportMetric(onboardArithmetic.Seconds(), "arithmetic_s")
	}
}

// onboard runs the scenario on sb and returns its row.
func onboard(b *testing.B, bin string, sb *sandbox.Sandbox) row {
	info := sb.Info()
	var cs []certSpec
	for i := range onboardA {
		cs = append(cs, certSpec{Name: fmt.Sprintf("a%03d", i), Domains: []string{fmt.Sprintf("a%03d.example.com", i)}})
	}
	for i := range onboardB {
		cs = append(cs, certSpec{Name: fmt.Sprintf("b%03d", i), Domains: []string{fmt.Sprintf("b%03d.example.net", i)}})
	}
	cfg := writeConfig(b, b.TempDir(), info, cs, defaults)
	data, err := os.ReadFile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	limits := fmt.Sprintf("acme:\n  limits: { per_registered_domain: %d/%s, new_orders: %d/%s }\n", onboardDomainN, onboardDomainW, onboardOrdersN, onboardOrdersW)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(data), "acme:\n", limits, 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	issued, runs := 0, 0
	var peak int64
	for issued < len(cs) {
		if runs++; runs > len(cs) {
			b.Fatalf("%d runs and %d of %d issued", runs, issued, len(cs))
		}
		b.StartTimer()
		res := runCLI(b, bin, cfg, info)
		b.StopTimer()
		if res.ExitCode != 0 {
			b.Fatalf("run %d: exit %d: %s\n%s", runs, res.ExitCode, res.Summary.firstError(), tail(res.Stderr, 4000))
		}
		issued += res.Summary.count("issue")
		peak = max(peak, res.MaxRSSKB)
		if issued < len(cs) {
			next := res.Summary.waitUntil()
			if next.IsZero() {
				b.Fatalf("run %d: %d of %d issued and none waiting", runs, issued, len(cs))
			}
			time.Sleep(time.Until(next)) // the benchmark waits for the CA's window, as an operator's cron would
		}
	}
	wall := time.Since(start)
	c := splitCalls(sb.Calls().Counts())
	if n := c["acme"]["RateLimited"]; n != 0 {
		b.Errorf("%d rateLimited answers", n)
	}
	b.Logf("onboarding %d certificates: %d runs, %s wall; arithmetic minimum %s", len(cs), runs, wall.Round(time.Millisecond), onboardArithmetic)
	return row{Scenario: "onboard70", Tool: "certferry", Tuning: defaults.Name, Concurrency: defaults.Concurrency,
		Certs: len(cs), Names: len(cs), Zones: zonesOf(cs), WallS: wall.Seconds(), ArithmeticS: onboardArithmetic.Seconds(),
		Runs: runs, Route53: c["route53"], SM: c["secretsmanager"], ACME: c["acme"], PeakRSSMB: float64(peak) / 1024}
}
