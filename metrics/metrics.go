// Package metrics holds certferry's Prometheus metrics on a private registry (never the
// global one), so several daemons, or a daemon and its tests, live in one process.
//
// Series are keyed by certificate name, hook kind, AWS service and operation, or a
// fixed set of ACME endpoints: never by domain, serial or anything unbounded. The
// package never sees key material: it reads names, dates and outcomes only.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certferry/certferry/renew"
)

// Metrics is one set of certferry's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	expiration   *prometheus.GaugeVec
	renewal      *prometheus.GaugeVec
	ready        *prometheus.GaugeVec
	failures     *prometheus.GaugeVec
	hookFailures *prometheus.CounterVec
	renewals     *prometheus.CounterVec
	hookRuns     *prometheus.CounterVec
	passDuration prometheus.Histogram
	lastSuccess  prometheus.Gauge
	passes       *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	acme         *prometheus.CounterVec
	aws          *prometheus.CounterVec
	acmeDuration *prometheus.HistogramVec
	awsDuration  *prometheus.HistogramVec
	caRemaining  *prometheus.GaugeVec
	waiting      prometheus.Gauge

	mu    sync.Mutex
	names map[string]bool // certificate names with series, to drop removed ones
}

// New returns a fresh set of metrics on its own registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), names: map[string]bool{}}
	m.expiration = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "certferry_certificate_expiration_timestamp_seconds",
		Help: "Not-after of the stored certificate, in seconds since the epoch.",
	}, []string{"name"})
	m.renewal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "certferry_certificate_renewal_timestamp_seconds",
		Help: "When the stored certificate falls (or fell) due for renewal by the renewal rules, in seconds since the epoch; never a retry time, so a certificate that keeps failing stays overdue.",
	}, []string{"name"})
	m.ready = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "certferry_certificate_ready_status",
		Help: "The certificate's Ready condition, as cert-manager shows it: 1 on the series whose condition (True, False, Unknown) holds. False: failing, expired or never stored.",
	}, []string{"name", "condition"})
	m.failures = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "certferry_certificate_consecutive_failures",
		Help: "Consecutive failed attempts to obtain and store the certificate (0 once one succeeds).",
	}, []string{"name"})
	m.hookFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_hook_failures_total",
		Help: "Failed hook runs by certificate and hook kind (exec, webhook, asg_instance_refresh, ecs_redeploy).",
	}, []string{"name", "hook"})
	m.renewals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_renewals_total",
		Help: "Certificates obtained and stored (result=success) or failed (result=failure).",
	}, []string{"name", "result"})
	m.hookRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_hook_runs_total",
		Help: "Hook runs by certificate, hook kind and result (success or failure).",
	}, []string{"name", "hook", "result"})
	m.passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "certferry_pass_duration_seconds",
		Help:    "Duration of a whole pass.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800},
	})
	m.newLimitMetrics()
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "certferry_last_successful_pass_timestamp_seconds",
		Help: "End of the last pass that left no certificate failing or expired (skipped in backoff included), in seconds since the epoch.",
	})
	m.passes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_passes_total",
		Help: "Passes by result: success, failure (a certificate failed) or error (the pass could not run).",
	}, []string{"result"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by result: success or failure (the old configuration stays).",
	}, []string{"result"})
	m.acme = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_acme_requests_total",
		Help: "HTTP requests to the ACME CA, by endpoint and HTTP status code (\"error\": no answer).",
	}, []string{"endpoint", "code"})
	m.aws = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certferry_aws_requests_total",
		Help: "AWS API requests (retries included), by service and operation.",
	}, []string{"service", "operation"})
	m.acmeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "certferry_acme_request_duration_seconds",
		Help:    "Time from sending an HTTP request to the ACME CA to its answer's headers (or the error), by endpoint.",
		Buckets: requestBuckets,
	}, []string{"endpoint"})
	m.awsDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "certferry_aws_request_duration_seconds",
		Help:    "Duration of one AWS API request attempt (each retry is its own), by service and operation.",
		Buckets: requestBuckets,
	}, []string{"service", "operation"})
	m.reg.MustRegister(m.expiration, m.renewal, m.ready, m.failures, m.hookFailures, m.renewals, m.hookRuns, m.passDuration, m.lastSuccess,
		m.passes, m.reloads, m.acme, m.aws, m.acmeDuration, m.awsDuration, m.caRemaining, m.waiting,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure", "error"} {
		m.passes.WithLabelValues(r)
	}
	return m
}

// newLimitMetrics creates the metrics of the CA's issuance limits (docs/pacing.md).
func (m *Metrics) newLimitMetrics() {
	m.caRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "certferry_ca_limit_remaining",
		Help: "New orders that still fit the CA's limit (acme.limits: new_orders, per_registered_domain, duplicates) after the last pass; per domain and per set of names, the least over the configured names.",
	}, []string{"limit"})
	m.waiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "certferry_certificates_waiting",
		Help: "Certificates due and waiting for the CA's limit (not failing) after the last pass.",
	})
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Init creates the per-certificate counters at zero for the configured names and drops
// the series of names no longer configured (after a reload), so a rate() over them
// works from the first pass.
func (m *Metrics) Init(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
		m.renewals.WithLabelValues(n, "success")
		m.renewals.WithLabelValues(n, "failure")
		if !m.names[n] {
			m.setReady(n, "Unknown")
		}
	}
	for n := range m.names {
		if !keep[n] {
			m.expiration.DeleteLabelValues(n)
			m.renewal.DeleteLabelValues(n)
			m.failures.DeleteLabelValues(n)
			m.ready.DeletePartialMatch(prometheus.Labels{"name": n})
			m.hookFailures.DeletePartialMatch(prometheus.Labels{"name": n})
			m.renewals.DeletePartialMatch(prometheus.Labels{"name": n})
			m.hookRuns.DeletePartialMatch(prometheus.Labels{"name": n})
		}
	}
	m.names = keep
}

// ObservePass records a finished pass: per certificate its condition (ready_status),
// expiry, renewal time, consecutive failures and the outcome of any renewal; the pass's
// duration; and, when it left no certificate failing or expired, the time of the last
// successful pass. A plan-only summary is ignored.
func (m *Metrics) ObservePass(sum *renew.Summary) {
	if sum == nil || sum.Plan {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range sum.Results {
		m.setCertificate(r)
		switch {
		case failed(r):
			m.renewals.WithLabelValues(r.Name, "failure").Inc()
		case r.Action.Stored():
			m.renewals.WithLabelValues(r.Name, "success").Inc()
		}
	}
	m.waiting.Set(float64(sum.Waiting()))
	if sum.LimitRemaining != nil {
		m.caRemaining.Reset()
		for limit, n := range sum.LimitRemaining {
			m.caRemaining.WithLabelValues(limit).Set(float64(n))
		}
	}
	m.passDuration.Observe(sum.Duration.Seconds())
	if sum.Failing() == 0 {
		m.passes.WithLabelValues("success").Inc()
		m.lastSuccess.Set(unix(sum.Started.Add(sum.Duration)))
	} else {
		m.passes.WithLabelValues("failure").Inc()
	}
}

// setCertificate sets one certificate's gauges (condition, expiry, renewal time,
// consecutive failures) from its result; a pass and a refresh alike. m.mu is held.
func (m *Metrics) setCertificate(r *renew.Result) {
	m.names[r.Name] = true
	if !r.NotAfter.IsZero() {
		m.expiration.WithLabelValues(r.Name).Set(unix(r.NotAfter))
	}
	if !r.DueAt.IsZero() {
		m.renewal.WithLabelValues(r.Name).Set(unix(r.DueAt))
	}
	m.setReady(r.Name, r.Ready())
	m.failures.WithLabelValues(r.Name).Set(float64(r.Attempts))
}

// ObserveConditions records each certificate's condition, expiry, renewal time and
// consecutive failures as a refresh between passes read them from shared state (the
// daemon's health_refresh); it counts nothing, as no pass ran.
func (m *Metrics) ObserveConditions(sum *renew.Summary) {
	if sum == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range sum.Results {
		m.setCertificate(r)
	}
}

// MarkUnknown sets the named certificates' Ready condition to Unknown: their state
// could not be read for too long to vouch for it.
func (m *Metrics) MarkUnknown(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		m.names[n] = true
		m.setReady(n, "Unknown")
	}
}

// setReady sets name's ready_status series: 1 for cond, 0 for the others.
func (m *Metrics) setReady(name, cond string) {
	for _, c := range []string{"True", "False", "Unknown"} {
		v := 0.0
		if c == cond {
			v = 1
		}
		m.ready.WithLabelValues(name, c).Set(v)
	}
}

// ObservePassError records a pass that could not run at all (inventory unreadable).
func (m *Metrics) ObservePassError(d time.Duration) {
	m.passDuration.Observe(d.Seconds())
	m.passes.WithLabelValues("error").Inc()
}

// ObserveHook records one hook run of certificate name; hook is the hook's kind
// ("exec", "webhook", "asg_instance_refresh", "ecs_redeploy"), err its failure or nil.
func (m *Metrics) ObserveHook(name, hook string, err error) {
	result := "success"
	if err != nil {
		result = "failure"
		kind, _, _ := strings.Cut(hook, ":")
		m.hookFailures.WithLabelValues(name, kind).Inc()
	}
	m.hookRuns.WithLabelValues(name, hook, result).Inc()
}

// ObserveReload records a configuration reload.
func (m *Metrics) ObserveReload(err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// failed reports whether a result is a failure.
func failed(r *renew.Result) bool { return r.Err() != nil || r.Action == renew.ActionFailed }

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// requestBuckets are the buckets of the request duration histograms, in seconds: from
// a loopback answer to a CA or AWS endpoint that is about to time out.
var requestBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// AWSAPIOption is an aws.Config APIOptions entry that counts every AWS request
// attempt (retries included) in certferry_aws_requests_total{service,operation} and
// times it in certferry_aws_request_duration_seconds{service,operation}:
//
//	cfg.APIOptions = append(cfg.APIOptions, m.AWSAPIOption)
//
// It sits at the end of the Finalize step, after the retry middleware, so each attempt
// is one observation.
func (m *Metrics) AWSAPIOption(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("certferryMetrics",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			m.aws.WithLabelValues(service, op).Inc()
			start := time.Now()
			out, md, err := next.HandleFinalize(ctx, in)
			m.awsDuration.WithLabelValues(service, op).Observe(time.Since(start).Seconds())
			return out, md, err
		}), middleware.After)
}

// ObserveACMERequest counts a request to the ACME CA in
// certferry_acme_requests_total{endpoint,code} and times it in
// certferry_acme_request_duration_seconds{endpoint}; it is the ACME client's
// OnRequest. The endpoint label is one of the ACME client's fixed classes; code is the
// HTTP status code ("200", "400", "429": a class would hide a 429 among the 400s) or
// "error" when no answer came (status 0). Status codes are three digits, so the label
// stays bounded.
func (m *Metrics) ObserveACMERequest(endpoint string, status int, took time.Duration) {
	m.acmeDuration.WithLabelValues(endpoint).Observe(took.Seconds())
	code := "error"
	if status != 0 {
		code = statusCode(status)
	}
	m.acme.WithLabelValues(endpoint, code).Inc()
}

// statusCode is an HTTP status code as a label; anything outside 100-599 is "other".
func statusCode(c int) string {
	if c < 100 || c > 599 {
		return "other"
	}
	return strconv.Itoa(c)
}
