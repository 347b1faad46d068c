package daemon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
	"github.com/certferry/certferry/metrics"
)

// TestLimitsNextPassWhenWindowFrees: the onboarding load of renew's
// TestE2ELimitsOnboarding (12 names under one registered domain, 2 under another; 4 per
// domain per W, 6 new orders per 2W: done after 4W by the arithmetic) under the daemon,
// whose schedule is an hour away: every pass after the first runs when the CA's window
// frees, with no rateLimited answer, and all are stored by the arithmetic plus a bound
// per pass.
func TestLimitsNextPassWhenWindowFrees(t *testing.T) {
	const (
		window  = 5 * time.Second
		a, b    = 12, 2
		minimum = 4 * window
		passes  = 4 // at 0, 2W, 3W, 4W
	)
	if testing.Short() {
		t.Skip("sandbox test")
	}
	opts := sandbox.Options{Zones: []string{"example.com", "example.net"}, Limits: limitsim.Limits{
		PerDomain: limitsim.Limit{N: 4, Window: window},
		NewOrders: limitsim.Limit{N: 6, Window: 2 * window},
	}}
	e := e2etest.Start(t, opts)
	var certs []string
	for i := range a {
		certs = append(certs, e2etest.CertYAML(fmt.Sprintf("a%02d", i), fmt.Sprintf("a%02d.example.com", i)))
	}
	for i := range b {
		certs = append(certs, e2etest.CertYAML(fmt.Sprintf("b%02d", i), fmt.Sprintf("b%02d.example.net", i)))
	}
	// The schedule is an hour away: the passes after the first are the CA's windows'.
	base := e2eConfig[:strings.Index(e2eConfig, "certificates:")]
	base = strings.Replace(base, `schedule: {cron: "@every 1s", min_period: 1s}`, `schedule: {cron: "@every 1h", min_period: 1s}`, 1)
	if !strings.Contains(base, `"@every 1h"`) {
		t.Fatalf("the schedule of the base configuration changed:\n%s", base)
	}
	base = strings.Replace(base, "  issuer_roots: {{issuer}}\n",
		fmt.Sprintf("  issuer_roots: {{issuer}}\n  limits: { per_registered_domain: 4/%s, new_orders: 6/%s }\n", window, 2*window), 1)
	cfgPath := e.WriteConfig(t, base+e2etest.CertsYAML(certs...))
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	began := time.Now()
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(e.SB, m, log), Metrics: m, Logger: log})
	stored := func() int {
		n := 0
		for i := range a + b {
			name := fmt.Sprintf("a%02d", i)
			if i >= a {
				name = fmt.Sprintf("b%02d", i-a)
			}
			if r.value(t, "certferry_renewals_total", map[string]string{"name": name, "result": "success"}) >= 1 {
				n++
			}
		}
		return n
	}
	eventually(t, minimum+sandboxPasses(opts, passes), "every certificate stored", func() bool { return stored() == a+b })
	took := time.Since(began)
	if n := e.SB.Calls().Count("acme", "RateLimited"); n != 0 {
		t.Errorf("%d rateLimited answers, want none", n)
	}
	if took < minimum {
		t.Errorf("all stored after %s, sooner than the CA's windows allow (%s)", took, minimum)
	}
	if v := r.value(t, "certferry_certificates_waiting", nil); v != 0 {
		t.Errorf("certferry_certificates_waiting = %v after the last pass", v)
	}
	if code, h := r.health(t); code != 200 {
		t.Errorf("/healthz = %d %+v", code, h)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("all %d stored in %s; arithmetic minimum %s", a+b, took.Round(time.Millisecond), minimum)
}
