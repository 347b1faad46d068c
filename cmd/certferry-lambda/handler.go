package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/renew"
)

// DefaultSafetyMargin is how long before the invocation's deadline the pass stops
// starting new work, leaving time to remove TXT records, deactivate abandoned
// authorizations and record the backoff state.
const DefaultSafetyMargin = 60 * time.Second

// cleanupTimeout is the bound of the DNS-01 records' clean-up of a pass the safety margin
// stopped. Both it and the ACME client's deactivation of the abandoned order
// (acme.AbandonTimeout), which comes first, run inside the margin: three quarters of what
// the deactivation leaves, so that a CA and a Route 53 hung together at the deadline still
// end before the invocation's timeout. A margin too short to hold the deactivation gets a
// quarter of itself: the deactivation is cut short by the invocation rather than the
// records, which the challenge journal lets a later run find either way.
func cleanupTimeout(margin time.Duration) time.Duration {
	if rest := margin - acme.AbandonTimeout; rest > margin/3 {
		return rest * 3 / 4
	}
	return margin / 4
}

// EnvSafetyMargin overrides DefaultSafetyMargin (a Go duration, "90s").
const EnvSafetyMargin = "CERTFERRY_SAFETY_MARGIN"

// EnvMinOrderTime names the least time left before the pass's deadline for an order to
// begin (default DefaultMinOrderTime).
const EnvMinOrderTime = "CERTFERRY_MIN_ORDER_TIME"

// Response is what an invocation that ran a pass returns (and logs): the pass summary,
// the number of certificates that failed in this pass, the number failing or expired
// (those that failed earlier and wait in backoff included), and the configuration's
// warnings.
type Response struct {
	*renew.Summary
	Failed   int      `json:"failed"`
	Failing  int      `json:"failing"`
	Warnings []string `json:"warnings,omitempty"`
}

// PassFailedError is returned while any certificate is failing or expired, on every
// invocation until it is fixed (not only on the one whose attempt failed: the next ones
// skip it in backoff), after the summary and the metrics were logged, so the function's
// Errors metric and its alarm stay up. Lambda reports it with errorType
// "PassFailedError".
type PassFailedError struct {
	Failed, Total int // Failed counts the certificates named: see passFailed
	Names         []string
	Details       []string
}

func (e *PassFailedError) Error() string {
	return fmt.Sprintf("certferry: %d of %d certificate(s) failing: %s (%s)", e.Failed, e.Total,
		strings.Join(e.Names, ", "), strings.Join(e.Details, "; "))
}

// passFailed lists the certificates that are failing or expired, failed in this pass
// (one cut off by the deadline included) or had a hook fail, as `certferry renew` counts
// them for its exit code; nil when there are none.
func passFailed(sum *renew.Summary) *PassFailedError {
	pf := &PassFailedError{Total: len(sum.Results)}
	for _, r := range sum.Results {
		failing := r.Condition == renew.ConditionFailing || r.Condition == renew.ConditionExpired
		if r.Err() == nil && r.HookError == "" && !failing {
			continue
		}
		pf.Failed++
		pf.Names = append(pf.Names, r.Name)
		pf.Details = append(pf.Details, r.Name+": "+failureDetail(r))
	}
	if pf.Failed == 0 {
		return nil
	}
	return pf
}

// failureDetail says why r is failing: this pass's error, or the recorded one with the
// attempts so far and when the next is allowed.
func failureDetail(r *renew.Result) string {
	msg := r.Error
	if msg == "" {
		msg = r.LastError
	}
	if msg == "" && r.HookError != "" {
		msg = "hook failed: " + r.HookError
	}
	if r.Condition == renew.ConditionExpired {
		msg = strings.TrimSuffix("expired "+r.NotAfter.UTC().Format(time.RFC3339)+"; "+msg, "; ")
	}
	if msg == "" {
		msg = string(r.Condition)
	}
	msg = truncate(msg, 300)
	if r.Attempts > 0 {
		msg += fmt.Sprintf(" [%d failed attempt(s)", r.Attempts)
		if !r.NextAttempt.IsZero() {
			msg += ", next at " + r.NextAttempt.UTC().Format(time.RFC3339)
		}
		msg += "]"
	}
	return msg
}

// Handler runs one pass per invocation. It keeps the built App (and with it the
// Runner's memory of issued-but-unstored certificates) across warm invocations while
// the configuration is unchanged, failed certificates included. A changed configuration
// or a pass that could not run rebuilds it, and the new Runner adopts the old one's
// memory.
type Handler struct {
	log     *zap.Logger
	level   zap.AtomicLevel
	src     source
	margin  time.Duration
	metrics io.Writer // EMF lines (stdout on Lambda)
	clients clients
	appOpts app.Options
	// base is the context the App's lazily opened ACME account lives under: it must
	// outlive any one invocation.
	base context.Context

	mu     sync.Mutex
	app    *app.App
	digest [32]byte
	stale  bool // rebuild app at the next invocation, adopting its Runner's memory
}

// HandlerOptions build a Handler.
type HandlerOptions struct {
	Logger *zap.Logger
	Level  zap.AtomicLevel
	Source source
	Margin time.Duration
	// App is passed to app.New (tests: the sandbox's AWS configuration).
	App app.Options
	// Clients fetch the configuration; zero uses the default AWS credential chain.
	Clients clients
	// Metrics receives the CloudWatch EMF lines of every pass (main: os.Stdout, which
	// Lambda sends to the log group); nil discards them.
	Metrics io.Writer
}

// DefaultMinOrderTime is the least time left before the pass's deadline for an order to
// begin.
const DefaultMinOrderTime = 2 * time.Minute

func newHandler(opts HandlerOptions) *Handler {
	h := &Handler{log: opts.Logger, level: opts.Level, src: opts.Source, margin: opts.Margin, appOpts: opts.App,
		clients: opts.Clients, metrics: opts.Metrics, base: context.Background()}
	if h.metrics == nil {
		h.metrics = io.Discard
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.margin <= 0 {
		h.margin = DefaultSafetyMargin
	}
	if h.appOpts.CleanupTimeout == 0 {
		h.appOpts.CleanupTimeout = cleanupTimeout(h.margin)
	}
	if h.appOpts.Memory == nil {
		// One Memory for every App this handler builds: a certificate issued but not
		// stored survives a configuration change and is stored, not ordered again.
		h.appOpts.Memory = renew.NewMemory()
	}
	if h.appOpts.MinOrderTime == 0 {
		// An order needs Begin, one Route 53 INSYNC wait, validation and finalize: do not
		// begin one that the invocation's deadline would cut off.
		h.appOpts.MinOrderTime = DefaultMinOrderTime
	}
	if h.clients.ssm == nil || h.clients.secrets == nil {
		def := defaultClients()
		if h.clients.ssm == nil {
			h.clients.ssm = def.ssm
		}
		if h.clients.secrets == nil {
			h.clients.secrets = def.secrets
		}
	}
	return h
}

// defaultClients reads the configuration with the function's own credentials and region
// (AWS_ENDPOINT_URL is honoured by the SDK).
func defaultClients() clients {
	load := func(ctx context.Context) (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithHTTPClient(awshttp.Client()))
	}
	return clients{
		ssm: func(ctx context.Context) (ssmAPI, error) {
			cfg, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return ssm.NewFromConfig(cfg), nil
		},
		secrets: func(ctx context.Context) (secretsAPI, error) {
			cfg, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return awssm.NewFromConfig(cfg), nil
		},
	}
}

// Invoke implements lambda.Handler.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := parseEvent(payload)
	if err != nil {
		h.log.Error("invalid event", zap.Error(err))
		return nil, err
	}
	h.mu.Lock() // reserved concurrency 1 makes this uncontended; it guards a test's parallel calls
	defer h.mu.Unlock()

	a, warnings, err := h.prepare(ctx)
	if err != nil {
		h.log.Error("configuration unusable", zap.Stringer("source", h.src), zap.Error(err))
		return nil, err
	}
	for _, w := range warnings {
		h.log.Warn("configuration warning", zap.String("warning", w))
	}

	passCtx, cancel := h.passContext(ctx)
	defer cancel()
	if dl, ok := passCtx.Deadline(); ok {
		h.log.Info("pass deadline", zap.Time("stop_starting_work_at", dl), zap.Bool("force", ev.Force), zap.Strings("only", ev.Only), zap.Bool("dry_run", ev.DryRun))
	}

	if iv := a.Config.Schedule.Interval; iv > 0 {
		inv, err := a.Inventory(passCtx)
		if err != nil {
			h.drop()
			err = fmt.Errorf("certferry: inventory for the schedule check: %w", err)
			h.log.Error("pass not run", zap.Error(err))
			return nil, err
		}
		if probs := app.ObservedScheduleProblems(iv, a.Config.Certificates, inv); len(probs) > 0 {
			err := &ScheduleError{Problems: probs}
			h.log.Error("schedule cannot keep the stored certificates valid", zap.Strings("problems", probs),
				zap.String("fix", "shorten the schedule (rate(1 day)) and schedule.interval"))
			return nil, err
		}
	}

	sum, err := a.Runner.Pass(passCtx, renew.Options{Force: ev.Force, Only: ev.Only, Plan: ev.DryRun})
	if err != nil {
		h.drop()
		h.log.Error("pass not run", zap.Error(err))
		return nil, err
	}
	resp := Response{Summary: sum, Failed: sum.Failed(), Failing: sum.Failing(), Warnings: warnings}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("certferry: encode summary: %w", err)
	}
	// The summary and the metrics are logged before any error is returned: a failed
	// invocation's response is dropped by Lambda, the log lines are not.
	h.log.Info("pass summary", zap.Int("failed", resp.Failed), zap.Int("failing", resp.Failing), zap.Reflect("summary", json.RawMessage(out)))
	// A dry run measures the stored state as well as any pass (so the first invocation
	// after a deployment clears the no-pass alarm); a pass limited by "only" says nothing
	// of the others, so it publishes no pass-wide count.
	if err := writeEMF(h.metrics, sum, sum.Started.Add(sum.Duration), len(ev.Only) == 0); err != nil {
		h.log.Error("metrics not written", zap.Error(err))
	}
	if pf := passFailed(sum); pf != nil {
		// The App is kept: its Runner holds the certificates issued but not stored, and
		// the App caches only a successfully opened ACME account.
		return nil, pf
	}
	return out, nil
}

// passContext is the invocation's context with its deadline brought forward by the
// safety margin, so the pass stops starting new work while cleanup still has time. A
// margin over a third of the remaining time (a short test timeout) shrinks to a third.
func (h *Handler) passContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := h.margin
	if rem := time.Until(dl); margin > rem/3 {
		margin = rem / 3
	}
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// prepare reads the configuration (every invocation: an edited SSM parameter applies on
// the next run) and returns the App for it, built anew when the configuration changed.
func (h *Handler) prepare(ctx context.Context) (*app.App, []string, error) {
	data, err := h.src.fetch(ctx, h.clients)
	if err != nil {
		return nil, nil, &ConfigError{err: err}
	}
	cfg, err := config.Parse(data, os.LookupEnv)
	if err != nil {
		return nil, nil, &ConfigError{err: fmt.Errorf("config: %s: %w", h.src, err)}
	}
	if err := lambdaProblems(cfg); err != nil {
		return nil, nil, &ConfigError{err: fmt.Errorf("config: %s: not usable on Lambda: %w", h.src, err)}
	}
	if lvl, err := zapcore.ParseLevel(cfg.Log.Level); err == nil && cfg.Log.Level != "" {
		h.level.SetLevel(lvl)
	}
	warnings := append(append([]string(nil), cfg.Warnings...), app.ScheduleWarnings(cfg)...)

	digest := sha256.Sum256(data)
	if h.app != nil && digest == h.digest && !h.stale {
		return h.app, warnings, nil
	}
	a, err := app.New(h.base, cfg, h.log, h.appOpts)
	if err != nil {
		return nil, nil, &ConfigError{err: fmt.Errorf("config: %s: %w", h.src, err)}
	}
	h.app, h.digest, h.stale = a, digest, false
	return a, warnings, nil
}

// drop makes the next invocation build a new App; the old one is kept until then, for
// its Runner's memory to be adopted.
func (h *Handler) drop() { h.stale = true }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
