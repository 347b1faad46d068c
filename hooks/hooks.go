// Package hooks runs what a certificate's configuration asks for after it was renewed
// (on_renew) or after it failed (on_failure): docs/hooks.md.
//
// Four kinds: exec (an argv run without a shell, in its own process group, killed as a group
// on timeout), webhook (an HTTPS POST of the event as JSON, signed with HMAC-SHA256), Auto
// Scaling instance refresh and ECS service redeployment. FromConfig builds them from
// config.Hook values; RunAll runs a list in order.
//
// An Event never carries the private key, and this package never logs secret values (the
// key, a webhook's HMAC secret). Hooks never decide whether they are due: the caller keeps,
// per secret version, which hooks already succeeded (by Hook.Name) and passes that to RunAll,
// so a failed hook is retried on the next pass without re-issuing the certificate.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
)

// Event kinds.
const (
	KindRenew   = "renew"   // on_renew hooks: a new secret version was stored
	KindFailure = "failure" // on_failure hooks: the certificate could not be renewed
)

// Event is what a hook is told. It has no key field, by design: nothing a hook receives can
// leak the private key.
type Event struct {
	Name      string    // the certificate's name in the configuration
	Domains   []string  // the names on the certificate, in the configured order
	SecretARN string    // the Secrets Manager secret holding it (empty without that sink)
	VersionID string    // the secret version that was written
	NotAfter  time.Time // the certificate's expiry
	// StoredAt is when the sink wrote VersionID. asg_instance_refresh uses it to tell an
	// instance refresh that started after the write (it launches instances that read the new
	// version) from one that started before. Zero means unknown: the hook then treats every
	// running refresh as older than the version (the safe side).
	StoredAt time.Time
	Error    string // on_failure only: what went wrong
	Kind     string // KindRenew or KindFailure
}

// Hook is one configured hook.
type Hook interface {
	// Name is a stable identifier for logs, metrics (the hook label of
	// certferry_hook_runs_total) and the run summary:
	//
	//	exec:<argv[0]>                 "exec:/usr/local/bin/redeploy" (never the arguments)
	//	webhook:<scheme>://<host>      "webhook:https://hooks.example.org" (never the path,
	//	                               query or user info: Slack and Discord put tokens in the path)
	//	asg_instance_refresh:<group>   "asg_instance_refresh:web"
	//	ecs_redeploy:<cluster>/<svc>   "ecs_redeploy:prod/api"
	//
	// Names hold no secret: config expands ${VAR} in exec arguments and webhook URLs, so
	// those parts are left out. Names are unique within the list FromConfig returns: a
	// repeated name gets a "#2", "#3" suffix in list order (two exec hooks running the same
	// program with different arguments are "exec:/usr/bin/curl" and "exec:/usr/bin/curl#2").
	Name() string
	// Run runs the hook once, bounded by its configured timeout and by ctx.
	Run(ctx context.Context, ev Event) error
}

// Deps are what hooks need from outside. Logger and HTTPClient may be nil (a no-op logger and
// a client with its own transport); ASG and ECS are required only when such a hook is
// configured.
type Deps struct {
	Logger     *zap.Logger
	ASG        ASGAPI
	ECS        ECSAPI
	HTTPClient *http.Client
	Now        func() time.Time // default time.Now

	// BaseEnv is the environment every exec hook starts from, before the CERTFERRY_*
	// variables ("KEY=value"). Nil means DefaultBaseEnv. The daemon's own environment is
	// never inherited (it may hold AWS credentials): cmd passes PassThroughEnv of it, the
	// fixed PATH plus an allowlist (AWS region/profile/endpoint settings, TZ, LANG, LC_*).
	BaseEnv []string

	// RetryBase is the first webhook retry delay, doubled per attempt (default 1s).
	RetryBase time.Duration
	// MaxRetryAfter caps a webhook receiver's Retry-After (default 30s).
	MaxRetryAfter time.Duration
	// PollInterval is how often asg_instance_refresh polls a cancelled instance refresh
	// until it has stopped (default 5s).
	PollInterval time.Duration
}

// DefaultBaseEnv is the environment of exec hooks when Deps.BaseEnv is nil: a fixed PATH and
// nothing else, so a hook behaves the same under systemd, in a Lambda and from a shell.
var DefaultBaseEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BaseEnv == nil {
		d.BaseEnv = DefaultBaseEnv
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if d.RetryBase <= 0 {
		d.RetryBase = time.Second
	}
	if d.MaxRetryAfter <= 0 {
		d.MaxRetryAfter = 30 * time.Second
	}
	if d.PollInterval <= 0 {
		d.PollInterval = 5 * time.Second
	}
	return d
}

// FromConfig builds the hooks of one list (on_renew or on_failure), in order. It fails if a
// hook has no kind, or an AWS hook is configured without its client in deps.
func FromConfig(hs []config.Hook, deps Deps) ([]Hook, error) {
	deps = deps.withDefaults()
	out := make([]Hook, 0, len(hs))
	seen := map[string]int{}
	for i, h := range hs {
		var hook Hook
		var err error
		switch h.Kind() {
		case config.HookExec:
			hook, err = newExec(h, deps)
		case config.HookWebhook:
			hook, err = newWebhook(h, deps)
		case config.HookASGInstanceRefresh:
			hook, err = newASG(h, deps)
		case config.HookECSRedeploy:
			hook, err = newECS(h, deps)
		default:
			err = errors.New("exactly one of exec, webhook, asg_instance_refresh, ecs_redeploy must be set")
		}
		if err != nil {
			return nil, fmt.Errorf("hooks: hook %d: %w", i, err)
		}
		name := hook.Name()
		seen[name]++
		if n := seen[name]; n > 1 {
			hook = renamed{hook, name + "#" + strconv.Itoa(n)}
		}
		out = append(out, hook)
	}
	return out, nil
}

type renamed struct {
	Hook
	name string
}

func (r renamed) Name() string { return r.name }

func timeoutOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Result statuses.
const (
	StatusOK      = "ok"      // the hook ran and succeeded
	StatusFailed  = "failed"  // the hook ran and failed (Err says why)
	StatusDone    = "done"    // skipped: it already succeeded for this secret version
	StatusBlocked = "blocked" // not run: an earlier on_renew hook failed in this pass
	// StatusInterrupted: the hook was running when ctx was done (the pass was stopped)
	// and was killed with it: not its failure (Err is nil), and not done either.
	StatusInterrupted = "interrupted"
)

// Result is the outcome of one hook in RunAll.
type Result struct {
	Hook     string // Hook.Name()
	Status   string // StatusOK, StatusFailed, StatusDone, StatusBlocked or StatusInterrupted
	Err      error  // set only with StatusFailed
	Duration time.Duration
}

// RunAll runs hooks in order and returns one Result per hook, in the same order. A hook whose
// name done reports true (it already succeeded for this secret version) is skipped; done may
// be nil. The caller records every StatusOK result so the next pass skips it.
//
// For on_renew (ev.Kind KindRenew) the first failure stops the list: the order in the
// configuration is a dependency order ("copy the files", then "reload", then "notify"), so
// a later hook must not run on top of an earlier one that did not happen. The remaining hooks
// are StatusBlocked and run on the next pass, after the failed one succeeds (those already
// done are skipped then). For on_failure every hook runs: each is an independent report, and
// a broken webhook must not silence the exec hook that pages someone.
//
// RunAll stops early, marking the rest StatusBlocked, when ctx is done; an on_renew hook
// that ends in an error once ctx is done is StatusInterrupted, not StatusFailed: a clean
// stop killed it, and it is to run again, not a failure to report. on_failure hooks run
// detached from a stop, so their ctx ending is their overall bound: a hook it killed
// failed (hung), and is reported so.
func RunAll(ctx context.Context, hooks []Hook, ev Event, done func(name string) bool) []Result {
	out := make([]Result, 0, len(hooks))
	blocked := false
	for _, h := range hooks {
		name := h.Name()
		switch {
		case done != nil && done(name):
			out = append(out, Result{Hook: name, Status: StatusDone})
			continue
		case blocked || ctx.Err() != nil:
			out = append(out, Result{Hook: name, Status: StatusBlocked})
			continue
		}
		start := time.Now()
		err := h.Run(ctx, ev)
		r := Result{Hook: name, Status: StatusOK, Duration: time.Since(start)}
		switch {
		case err != nil && ctx.Err() != nil && ev.Kind != KindFailure:
			r.Status, blocked = StatusInterrupted, true
		case err != nil:
			r.Status, r.Err = StatusFailed, err
			if ev.Kind != KindFailure {
				blocked = true
			}
		}
		out = append(out, r)
	}
	return out
}

// Err joins the errors of failed results, nil if none failed.
func Err(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// PermanentError marks a failure that retrying within this pass cannot fix (a 4xx answer, a
// service or group that does not exist). The hook is still retried on the next pass, since
// the configuration or the other side may have been fixed by then.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
