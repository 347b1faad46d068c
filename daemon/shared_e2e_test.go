package daemon_test

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
)

// sharedConfig passes once an hour (no scheduled pass during the test) and refreshes
// every second.
func sharedConfig(domain string) string {
	return `acme:
  directory: {{dir}}
  email: ops@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
schedule: "@every 1h"
issuance_guard: 1s
health_refresh: 1s
` + e2etest.CertsYAML(e2etest.CertYAML("web", domain))
}

func (r *running) passes(t *testing.T) float64 {
	t.Helper()
	n := 0.0
	for _, res := range []string{"success", "failure", "error"} {
		n += r.value(t, "certferry_passes_total", map[string]string{"result": res})
	}
	return n
}

// TestHealthFollowsOneShotFix: a certificate fails in the daemon (its name is in no
// hosted zone); the operator creates the zone and runs a one-shot renew, which issues.
// The daemon answers /healthz 200 within health_refresh and a step, without a pass.
func TestHealthFollowsOneShotFix(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox test")
	}
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	cfgPath := e.WriteConfig(t, sharedConfig("www.example.net"))
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(e.SB, m, log), Metrics: m, Logger: log})
	eventually(t, beforeFirstWait, "the failing first pass", func() bool {
		code, _ := r.health(t)
		return code == 503
	})
	passes := r.passes(t)

	// The fix, and the operator's `certferry renew` (a runner of its own).
	if _, err := e.SB.Route53().CreateZone("example.net", false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	if res := e2etest.Result(t, sum, "web"); res.Err() != nil || res.Condition != renew.ConditionReady {
		t.Fatalf("one-shot renew: %+v", res)
	}

	// /healthz and the metrics are set from the same refresh one after the other, so
	// wait for both rather than read the second the moment the first turns.
	eventually(t, testwait.For(refreshEvery), "/healthz 200 and ready_status True after the one-shot fix", func() bool {
		code, _ := r.health(t)
		return code == 200 && r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "True"}) == 1
	})
	if got := r.passes(t); got != passes {
		t.Errorf("passes went from %v to %v: the health must follow without a pass", passes, got)
	}
}

// TestHealthSecretsManagerOutage: Secrets Manager stops answering; within three
// refreshes /healthz answers 503 and ready_status is Unknown.
func TestHealthSecretsManagerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox test")
	}
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	cfgPath := e.WriteConfig(t, sharedConfig("www.example.com"))
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(e.SB, m, log), Metrics: m, Logger: log})
	eventually(t, beforeFirstWait, "the first issuance", func() bool {
		return r.value(t, "certferry_renewals_total", map[string]string{"name": "web", "result": "success"}) == 1
	})
	if code, h := r.health(t); code != 200 {
		t.Fatalf("/healthz = %d %+v", code, h)
	}
	e.SB.Calls().FailNext("secretsmanager", "ListSecrets", 1<<20, calls.Fault{Code: "ServiceUnavailable"})
	eventually(t, testwait.For(3*refreshEvery), "/healthz 503 within three refreshes", func() bool {
		code, _ := r.health(t)
		return code == 503
	})
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "Unknown"}); v != 1 {
		t.Errorf("ready_status{condition=Unknown} = %v, want 1", v)
	}
	e.SB.Calls().DropFaults()
}
