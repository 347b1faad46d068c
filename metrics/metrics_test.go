package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/metrics/metricstest"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape fetches the handler's output and parses it as the text format.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	fams, err := metricstest.Parse(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := metricstest.Value(fams, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func TestObservePass(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Init([]string{"web", "api", "old"})
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	due := start.Add(40 * 24 * time.Hour)
	notAfter := start.Add(60 * 24 * time.Hour)
	sum := &renew.Summary{Started: start, Duration: 3 * time.Second, Results: []*renew.Result{
		{Name: "web", Action: renew.ActionSkip, Reason: scheduler.ReasonNotDue, NotAfter: notAfter, DueAt: due},
		{Name: "api", Action: renew.ActionMove, Reason: scheduler.ReasonMoved, NotAfter: notAfter, DueAt: due}, // stored, as a renewal
	}}
	m.ObservePass(sum)
	m.ObserveHook("web", "exec", nil)
	m.ObserveHook("web", "exec", errors.New("exit status 1"))
	m.ObserveReload(errors.New("bad"))
	m.Init([]string{"web", "api"}) // "old" removed by a reload

	fams := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"certferry_certificate_expiration_timestamp_seconds", map[string]string{"name": "web"}, float64(notAfter.Unix())},
		{"certferry_certificate_renewal_timestamp_seconds", map[string]string{"name": "web"}, float64(due.Unix())},
		{"certferry_renewals_total", map[string]string{"name": "web", "result": "success"}, 0},
		{"certferry_renewals_total", map[string]string{"name": "api", "result": "failure"}, 0},
		{"certferry_renewals_total", map[string]string{"name": "api", "result": "success"}, 1},
		{"certferry_hook_runs_total", map[string]string{"name": "web", "hook": "exec", "result": "success"}, 1},
		{"certferry_hook_runs_total", map[string]string{"name": "web", "hook": "exec", "result": "failure"}, 1},
		{"certferry_last_successful_pass_timestamp_seconds", nil, float64(start.Add(3 * time.Second).Unix())},
		{"certferry_pass_duration_seconds", nil, 1}, // sample count
		{"certferry_passes_total", map[string]string{"result": "success"}, 1},
		{"certferry_config_reloads_total", map[string]string{"result": "failure"}, 1},
	} {
		if got := value(t, fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := metricstest.Value(fams, "certferry_renewals_total", map[string]string{"name": "old", "result": "success"}); ok {
		t.Error("series of a removed certificate kept")
	}
}

func TestObservePassFailureKeepsLastSuccess(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObservePass(&renew.Summary{Started: time.Unix(1000, 0), Duration: time.Second})
	m.ObservePass(&renew.Summary{Started: time.Unix(5000, 0), Duration: time.Second, Results: []*renew.Result{
		failedResult(t, "web"),
	}})
	m.ObservePass(&renew.Summary{Started: time.Unix(9000, 0), Plan: true})
	fams := scrape(t, m)
	if got := value(t, fams, "certferry_last_successful_pass_timestamp_seconds", nil); got != 1001 {
		t.Errorf("last success = %v, want 1001", got)
	}
	if got := value(t, fams, "certferry_renewals_total", map[string]string{"name": "web", "result": "failure"}); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
	if got := value(t, fams, "certferry_passes_total", map[string]string{"result": "failure"}); got != 1 {
		t.Errorf("failed passes = %v, want 1", got)
	}
}

// failedResult is a failed certificate as the Runner reports it (Result.err is
// unexported: Action says it).
func failedResult(t *testing.T, name string) *renew.Result {
	t.Helper()
	return &renew.Result{Name: name, Action: renew.ActionFailed, Error: "boom", Condition: renew.ConditionFailing, Attempts: 1}
}

func TestObserveACMERequest(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	for _, r := range []struct {
		endpoint string
		status   int
	}{{"directory", 200}, {"new-nonce", 200}, {"new-order", 201}, {"new-order", 201}, {"other", 404}, {"new-order", 429}, {"finalize", 0}} {
		m.ObserveACMERequest(r.endpoint, r.status, time.Millisecond)
	}
	fams := scrape(t, m)
	for _, tt := range []struct {
		endpoint, code string
		want           float64
	}{{"directory", "200", 1}, {"new-nonce", "200", 1}, {"new-order", "201", 2}, {"new-order", "429", 1}, {"other", "404", 1}, {"finalize", "error", 1}} {
		if got := value(t, fams, "certferry_acme_requests_total", map[string]string{"endpoint": tt.endpoint, "code": tt.code}); got != tt.want {
			t.Errorf("%s %s = %v, want %v", tt.endpoint, tt.code, got, tt.want)
		}
	}
	// One duration observation per request, by endpoint, answered or not.
	for endpoint, want := range map[string]float64{"directory": 1, "new-nonce": 1, "new-order": 3, "other": 1, "finalize": 1} {
		if got := value(t, fams, "certferry_acme_request_duration_seconds", map[string]string{"endpoint": endpoint}); got != want {
			t.Errorf("duration count %s = %v, want %v", endpoint, got, want)
		}
	}
}

func TestAWSAPIOption(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0"?><ListHostedZonesResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZones></HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesResponse>`))
	}))
	defer srv.Close()
	m := metrics.New()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, HTTPClient: srv.Client()}
	cfg.APIOptions = append(cfg.APIOptions, m.AWSAPIOption)
	c := route53.NewFromConfig(cfg)
	for range 2 {
		if _, err := c.ListHostedZones(context.Background(), &route53.ListHostedZonesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Client().CloseIdleConnections()
	fams := scrape(t, m)
	if got := value(t, fams, "certferry_aws_requests_total", map[string]string{"service": "Route 53", "operation": "ListHostedZones"}); got != 2 {
		t.Errorf("ListHostedZones = %v, want 2", got)
	}
	if got := value(t, fams, "certferry_aws_request_duration_seconds", map[string]string{"service": "Route 53", "operation": "ListHostedZones"}); got != 2 {
		t.Errorf("ListHostedZones duration count = %v, want 2", got)
	}
}
