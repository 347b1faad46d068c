package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
)

// e2eConfig is written from the sandbox's JSON line (docs/sandbox.md), as a user would.
var e2eConfig = `acme:
  directory: {{dir}}
  email: ops@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
schedule: {cron: "@every 1s", min_period: 1s}
issuance_guard: 1s
` + e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"))

// startSandbox starts a sandbox and writes a configuration for it. The sandbox tests
// are not parallel: Pebble reads its knobs from the process environment.
func startSandbox(t *testing.T, opts sandbox.Options) (*sandbox.Sandbox, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("sandbox test")
	}
	opts.Zones = []string{"example.com"}
	e := e2etest.Start(t, opts)
	return e.SB, e.WriteConfig(t, e2eConfig)
}

// sandboxBuild builds the real Runner (internal/app) on the sandbox's AWS
// configuration, counting AWS requests in m.
// Every Runner it builds shares one renew.Memory, as `certferry run` does.
func sandboxBuild(sb *sandbox.Sandbox, m *metrics.Metrics, log *zap.Logger) func(context.Context, *config.Config) (daemon.Runner, error) {
	mem := renew.NewMemory()
	return func(ctx context.Context, cfg *config.Config) (daemon.Runner, error) {
		awsCfg := sb.AWSConfig(ctx)
		awsCfg.APIOptions = append(awsCfg.APIOptions, m.AWSAPIOption)
		a, err := app.New(ctx, cfg, log, app.Options{AWS: &awsCfg, Version: "test", OnACMERequest: m.ObserveACMERequest, OnHook: m.ObserveHook, Memory: mem})
		if err != nil {
			return nil, err
		}
		return a.Runner, nil
	}
}

// TestRenewsBeforeExpiry: with 12-second certificates and a pass every second, the
// daemon issues, then renews before the first certificate expires, with no one acting;
// /metrics and /healthz say so.
func TestRenewsBeforeExpiry(t *testing.T) {
	opts := sandbox.Options{CertValidity: 12 * time.Second}
	sb, cfgPath := startSandbox(t, opts)
	// An on_renew webhook: it must fire exactly once per new secret version, signed.
	var mu sync.Mutex
	perVersion := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if hooks.Sign(body, "s3cret") != r.Header.Get("X-Certferry-Signature") {
			t.Errorf("webhook signature %q does not verify", r.Header.Get("X-Certferry-Signature"))
		}
		var ev struct {
			VersionID string `json:"version_id"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.VersionID == "" {
			t.Errorf("webhook body %s: %v", body, err)
		}
		mu.Lock()
		perVersion[ev.VersionID]++
		mu.Unlock()
	}))
	defer hook.Close()
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fmt.Fprintf(f, "    hooks:\n      on_renew:\n        - webhook: { url: %s/deploy, secret: s3cret }\n", hook.URL)
	_ = f.Close()
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(sb, m, log), Metrics: m, Logger: log})

	web := map[string]string{"name": "web"}
	success := map[string]string{"name": "web", "result": "success"}
	eventually(t, sandboxPasses(opts, 1), "first issuance", func() bool { return r.value(t, "certferry_renewals_total", success) >= 1 })
	firstNotAfter := time.Unix(0, int64(r.value(t, "certferry_certificate_expiration_timestamp_seconds", web)*1e9))
	if left := time.Until(firstNotAfter); left <= 0 || left > 13*time.Second {
		t.Fatalf("first certificate has %s left, want (0, 12s]", left)
	}
	// Due before it expires: within its validity, then one pass.
	eventually(t, opts.CertValidity+sandboxPasses(opts, 1), "renewal", func() bool { return r.value(t, "certferry_renewals_total", success) >= 2 })
	if now := time.Now(); !now.Before(firstNotAfter) {
		t.Fatalf("renewed at %s, after the first certificate expired at %s", now, firstNotAfter)
	}

	fams := r.metrics(t)
	for _, s := range []struct {
		name   string
		labels map[string]string
	}{
		{"certferry_certificate_expiration_timestamp_seconds", web},
		{"certferry_certificate_renewal_timestamp_seconds", web},
		{"certferry_renewals_total", map[string]string{"name": "web", "result": "failure"}},
		{"certferry_pass_duration_seconds", nil},
		{"certferry_last_successful_pass_timestamp_seconds", nil},
		{"certferry_aws_requests_total", map[string]string{"service": "Secrets Manager", "operation": "ListSecrets"}},
		{"certferry_aws_requests_total", map[string]string{"service": "Route 53", "operation": "ChangeResourceRecordSets"}},
		{"certferry_acme_requests_total", map[string]string{"endpoint": "new-order", "code": "201"}},
		{"certferry_acme_request_duration_seconds", map[string]string{"endpoint": "new-order"}},
		{"certferry_aws_request_duration_seconds", map[string]string{"service": "Route 53", "operation": "ChangeResourceRecordSets"}},
	} {
		if _, ok := metricsValue(fams, s.name, s.labels); !ok {
			t.Errorf("no series %s%v", s.name, s.labels)
		}
	}
	if v, _ := metricsValue(fams, "certferry_renewals_total", map[string]string{"name": "web", "result": "failure"}); v != 0 {
		t.Errorf("%v failed renewals", v)
	}
	if code, h := r.health(t); code != 200 {
		t.Errorf("/healthz = %d %+v", code, h)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(perVersion) < 2 {
		t.Errorf("webhook saw %d version(s), want one per renewal (at least 2)", len(perVersion))
	}
	for v, n := range perVersion {
		if n != 1 {
			t.Errorf("webhook fired %d times for version %s, want exactly once", n, v)
		}
	}
	if v, ok := metricsValue(fams, "certferry_hook_runs_total", map[string]string{"name": "web", "result": "success"}); !ok || v < 1 {
		t.Errorf("certferry_hook_runs_total{name=web,result=success} = %v (present %v)", v, ok)
	}
}

// TestStopMidPassCleansUp: a stop (SIGTERM) in the middle of an order, while the pass
// waits for Route 53 (a change stays PENDING for ten minutes), returns promptly, leaves
// no _acme-challenge record and no half-written secret (faults scenario 10).
func TestStopMidPassCleansUp(t *testing.T) {
	sb, cfgPath := startSandbox(t, sandbox.Options{InsyncAfter: 10 * time.Minute})
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(sb, m, log), Metrics: m, Logger: log})

	awsCfg := sb.AWSConfig(context.Background())
	r53 := awsroute53.NewFromConfig(awsCfg)
	zone := sb.Info().Zones["example.com."]
	challenges := func() int {
		out, err := r53.ListResourceRecordSets(context.Background(), &awsroute53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rr := range out.ResourceRecordSets {
			if strings.HasPrefix(aws.ToString(rr.Name), "_acme-challenge.") {
				n++
			}
		}
		return n
	}
	eventually(t, beforeFirstWait, "TXT record published", func() bool { return challenges() > 0 })
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > stopCleanup {
		t.Errorf("stop took %s", d)
	}
	if n := challenges(); n != 0 {
		t.Errorf("%d _acme-challenge records left", n)
	}
	// No half-written secret: at most the value-less secret that holds the backoff state.
	desc, err := awssm.NewFromConfig(awsCfg).DescribeSecret(context.Background(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err == nil && len(desc.VersionIdsToStages) != 0 {
		t.Errorf("the stopped pass left secret versions %v", desc.VersionIdsToStages)
	}
}

// TestReloadKeepsUnstored: a certificate issued in a pass whose store failed is held in
// the Runner's memory; a SIGHUP (here the Reload channel) that rebuilds the Runner hands
// it over, so the next pass stores it without ordering again.
func TestReloadKeepsUnstored(t *testing.T) {
	opts := sandbox.Options{}
	sb, cfgPath := startSandbox(t, opts)
	hourly, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// Only the start-up pass runs before the reload.
	writeFile(t, cfgPath, strings.Replace(string(hourly), `schedule: {cron: "@every 1s", min_period: 1s}`, `schedule: "@every 1h"`, 1))
	// The ACME account is stored in Secrets Manager too: the certificate's store is made
	// to fail only once an order exists (the account is stored by then); the finalize
	// is held for two seconds to leave the time. Three failures beat the SDK's three
	// attempts: the store fails, the certificate stays in the Runner's memory.
	const finalizeHang = 2 * time.Second
	sb.Calls().FailNext("acme", "Finalize", 1, calls.Fault{Hang: finalizeHang})
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	reload := make(chan struct{})
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(sb, m, log), Metrics: m, Logger: log, Reload: reload})
	eventually(t, sandboxPasses(opts, 1), "an order", func() bool { return sb.Calls().Count("acme", "NewOrder") >= 1 })
	// The journal of the DNS-01 records created the secret (without a value) before the
	// records were published: the certificate's first write is a PutSecretValue.
	sb.Calls().FailNext("secretsmanager", "PutSecretValue", 3, calls.Fault{Code: "InternalServiceError", Message: "injected", Status: http.StatusInternalServerError})
	failure := map[string]string{"name": "web", "result": "failure"}
	eventually(t, finalizeHang+sandboxPasses(opts, 1), "the failed store", func() bool { return r.value(t, "certferry_renewals_total", failure) >= 1 })
	if n := sb.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Fatalf("%d orders before the reload, want 1", n)
	}

	writeFile(t, cfgPath, string(hourly)) // a pass every second from now on
	reload <- struct{}{}
	success := map[string]string{"name": "web", "result": "success"}
	eventually(t, step+sandboxPasses(opts, 1), "the certificate stored after the reload", func() bool { return r.value(t, "certferry_renewals_total", success) >= 1 })
	if n := sb.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1: the reload lost the issued certificate", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestFailingStaysVisible: a certificate whose name is in no hosted zone makes the
// daemon unhealthy (503 naming it) with ready_status False, on every pass, while a
// healthy certificate beside it stays ready; no pass counts as successful. Once the zone
// exists, the next pass issues it and every signal returns to ready, 200 and a
// successful pass.
func TestFailingStaysVisible(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox test")
	}
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	cfgPath := e.WriteConfig(t, e2eConfig+e2etest.CertYAML("lost", "www.example.org"))
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel+1))
	// The passes' clock: moved on by two minutes once the zone exists, so the provider
	// lists the zones again (it does at most once a minute).
	var mu sync.Mutex
	skew := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	mem := renew.NewMemory()
	build := func(ctx context.Context, cfg *config.Config) (daemon.Runner, error) {
		awsCfg := e.SB.AWSConfig(ctx)
		awsCfg.APIOptions = append(awsCfg.APIOptions, m.AWSAPIOption)
		a, err := app.New(ctx, cfg, log, app.Options{AWS: &awsCfg, Version: "test", Memory: mem, Now: now})
		if err != nil {
			return nil, err
		}
		return a.Runner, nil
	}
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: build, Metrics: m, Logger: log})
	passes := func() float64 { return r.value(t, "certferry_passes_total", map[string]string{"result": "failure"}) }
	eventually(t, sandboxPasses(e.Opts, 3), "three passes", func() bool { return passes() >= 3 })
	code, h := r.health(t)
	if code != http.StatusServiceUnavailable || len(h.Failing) != 1 || h.Failing[0].Name != "lost" || h.Failing[0].Condition != renew.ConditionFailing ||
		!strings.Contains(h.Failing[0].LastError, "no hosted zone") || h.Failing[0].Since.IsZero() || !h.LastSuccessfulPass.IsZero() {
		t.Fatalf("/healthz = %d %+v", code, h)
	}
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "lost", "condition": "False"}); v != 1 {
		t.Errorf("ready_status{lost,False} = %v", v)
	}
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "True"}); v != 1 {
		t.Errorf("ready_status{web,True} = %v", v)
	}
	if v := r.value(t, "certferry_passes_total", map[string]string{"result": "success"}); v != 0 {
		t.Errorf("%v successful passes while a certificate fails", v)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1 (web; never one for lost)", n)
	}

	// Fixed.
	if _, err := awsroute53.NewFromConfig(e.AWS).CreateHostedZone(t.Context(), &awsroute53.CreateHostedZoneInput{
		Name: aws.String("example.org"), CallerReference: aws.String("fix")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	skew = 2 * time.Minute
	mu.Unlock()
	eventually(t, sandboxPasses(e.Opts, 1), "healthy again", func() bool { code, _ := r.health(t); return code == http.StatusOK })
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "lost", "condition": "True"}); v != 1 {
		t.Errorf("ready_status{lost,True} = %v after the fix", v)
	}
	if v := r.value(t, "certferry_passes_total", map[string]string{"result": "success"}); v < 1 {
		t.Errorf("no successful pass after the fix")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
