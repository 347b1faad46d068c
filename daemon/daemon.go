// Package daemon runs certferry as a long-lived service (`certferry run`): a pass at
// start-up and on a cron schedule, /metrics and /healthz over HTTP, SIGHUP reloads of
// the configuration, a bounded clean stop, and systemd's sd_notify protocol.
//
// Concurrency rules: passes run one at a time on the loop goroutine, which alone owns
// the configuration and the Runner; a reload is applied by that goroutine between
// passes, never in the middle of one. A reload's file read and Build run on a goroutine
// of their own (one at a time) bounded by Options.ReloadTimeout, so a slow or stuck
// reload never delays a scheduled pass or a stop. Between passes the loop also refreshes
// every certificate's condition from the secrets' tags every health_refresh and on
// SIGHUP, so what other runners did shows without a pass. The health state that /healthz
// reads is guarded by Daemon.mu.
//
// The package reads no environment variable and parses no flag: cmd passes the
// configuration path, the notify socket and the watchdog period in Options. It never
// logs key material (it sees names, dates and outcomes only).
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// Defaults of Options.
const (
	// DefaultMaxPassAge: /healthz fails when no pass has succeeded for this long. Three
	// missed twice-daily passes: one failure is not an alert, a day and a half is.
	DefaultMaxPassAge = 36 * time.Hour
	// DefaultStopTimeout bounds the wait for a cancelled pass to clean up and return.
	// The systemd unit's TimeoutStopSec (150 s) leaves room for it and the HTTP
	// server's shutdown; deploy/systemd's tests tie the three together.
	DefaultStopTimeout = 2 * time.Minute
	// CleanupTimeout is the bound a daemon's Runner gives the clean-up of a stopped pass
	// (its TXT records; renew's own default is 5 minutes): with the ACME client's
	// clean-up (30 s) it fits inside DefaultStopTimeout, so a hung Route 53 at stop time
	// ends in a clean exit before systemd's kill, not in the middle of a clean-up.
	CleanupTimeout = time.Minute
	// HTTPShutdownTimeout bounds the HTTP server's shutdown after the last pass.
	HTTPShutdownTimeout = 5 * time.Second
	// DefaultReloadTimeout bounds a reload: reading the file and building its Runner. A
	// local file takes milliseconds; a minute leaves room for a slow network file system.
	DefaultReloadTimeout = time.Minute
)

// ErrConfig is wrapped by Run's error when the configuration can not be loaded, its
// schedule parsed or its Runner built at start-up (the CLI exits 2).
var ErrConfig = errors.New("bad configuration")

// Runner runs one pass; *renew.Runner implements it.
type Runner interface {
	Pass(ctx context.Context, opts renew.Options) (*renew.Summary, error)
}

// Options configure Run. Load and Build are required.
type Options struct {
	// ConfigPath is handed to Load at start-up and at every reload.
	ConfigPath string
	// Load reads and validates the configuration.
	Load func(path string) (*config.Config, error)
	// Build makes the Runner for a configuration (for example with internal/app). On a
	// reload it runs while the current Runner may be in a pass.
	Build func(ctx context.Context, cfg *config.Config) (Runner, error)
	// Listen overrides the configuration's listen address (tests: "127.0.0.1:0").
	Listen string
	// Logger; nil discards.
	Logger *zap.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Rand is the schedule's jitter source in [0,1); nil is math/rand.
	Rand func() float64
	// HostID seeds the default schedule (a minute and hour per machine): the machine ID,
	// else the host name (README.md, "Run on a bastion with systemd").
	HostID string
	// Metrics; nil makes a fresh set.
	Metrics *metrics.Metrics
	// MaxPassAge: /healthz fails when no pass has succeeded for longer (default 36h).
	MaxPassAge time.Duration
	// StopTimeout bounds the wait for the pass in flight after ctx is done (default 2m).
	StopTimeout time.Duration
	// ReloadTimeout bounds a reload's Load and Build (default 1m). A Load still running
	// then is abandoned: the reload fails, and its result is dropped when it comes.
	ReloadTimeout time.Duration
	// NotifySocket is $NOTIFY_SOCKET ("" : no sd_notify).
	NotifySocket string
	// WatchdogInterval: send WATCHDOG=1 this often (half of $WATCHDOG_USEC); 0: never.
	WatchdogInterval time.Duration
	// Reload, when not nil, triggers reloads instead of SIGHUP (tests).
	Reload <-chan struct{}
	// Ready, when not nil, is called with the HTTP address once the daemon serves.
	Ready func(addr string)
	// Next, when not nil, stands in for the schedule's answer (tests: a schedule library
	// that answers a time in the past, or the zero time). The floor
	// (schedule.min_period) holds whatever it answers.
	Next func(now time.Time) time.Time
	// After, when not nil, stands in for the timers the loop waits on between passes
	// (the next scheduled pass, the next health refresh): it returns a channel that
	// receives once d has passed on Now's clock, and a function that stops it. A soak
	// test drives thousands of passes with it, each when its timer is due on a clock it
	// moves, instead of waiting out schedule.min_period in real time; the floor still
	// holds on Now's time. Only code that calls Run sets it: no configuration key or
	// flag reaches it. Nil: real timers.
	After func(d time.Duration) (c <-chan time.Time, stop func())
}

// Daemon is one running `certferry run`. Make it with Run.
type Daemon struct {
	opts   Options
	log    *zap.Logger
	m      *metrics.Metrics
	notify notifier
	start  time.Time

	// Owned by the loop goroutine.
	cfg       *config.Config
	runner    Runner
	sched     *scheduler.Schedule
	spec      string
	minPeriod time.Duration
	lastStart time.Time // when the last pass started
	rl        reloading

	mu          sync.Mutex               // guards the fields below
	names       []string                 // configured certificate names
	certs       map[string]*renew.Result // each certificate as the last pass left it
	lastPass    time.Time
	lastSuccess time.Time
	lastStatus  string
	shared      sharedRead // reads of the certificates' shared state (passes and refreshes)
	// waitUntil: the last pass held certificates back for the CA's limit; the next pass
	// runs when the first fits, if that is before the schedule's next (docs/pacing.md).
	waitUntil time.Time
	// revoked: a refresh found a certificate revoked since the last pass (certferry
	// revoke on another host, without --renew): the next pass runs now (still no sooner
	// than the floor) instead of at the schedule's next tick, up to half a day with a
	// certificate clients may refuse, or a compromised key, served meanwhile.
	revoked []string
}

// sharedRead is how the daemon's reads of the certificates' shared state (the secrets'
// tags, by a pass or a refresh) have gone lately.
type sharedRead struct {
	last     time.Time     // the last read that worked (zero: none yet)
	failures int           // consecutive reads that failed since
	err      error         // the last failure
	every    time.Duration // health_refresh
	reading  time.Time     // when the refresh in flight began (zero: none)
}

// minRefreshTimeout bounds a refresh (one ListSecrets page per 100 certificates) when
// health_refresh is shorter: a slow answer is not an outage.
const minRefreshTimeout = 30 * time.Second

// staleAfter is how many reads of the shared state in a row (refreshes every
// health_refresh, or passes) may fail before the conditions are no longer vouched for:
// they turn Unknown and /healthz fails.
const staleAfter = 3

// stale reports whether the shared state has been unreadable for too long at now:
// staleAfter reads failed in a row, or a read failed or is still in flight and
// staleAfter x health_refresh have passed since the last one that worked (from start
// when none has). The second counts time, not failures: a read that hangs fails only at
// its timeout, which may be many refresh periods away. A pass in flight is no failed
// read, however long it takes.
func (s sharedRead) stale(now, start time.Time) bool {
	if s.failures >= staleAfter {
		return true
	}
	return (s.failures > 0 || !s.reading.IsZero()) && now.Sub(lastOrStart(s.last, start)) >= staleAfter*s.every
}

// Run runs the daemon until ctx is done (SIGTERM/SIGINT in the CLI), then cancels the
// pass in flight, waits up to StopTimeout for it (its TXT records are removed under a
// fresh context), stops the HTTP server and returns nil. Errors at start-up wrap
// ErrConfig when the configuration is at fault.
func Run(ctx context.Context, opts Options) error {
	if opts.Load == nil || opts.Build == nil {
		return errors.New("daemon: Options.Load and Options.Build are required")
	}
	opts = opts.withDefaults()
	d := &Daemon{opts: opts, log: opts.Logger.Named("daemon"), m: opts.Metrics, notify: notifier{opts.NotifySocket},
		start: opts.Now(), certs: map[string]*renew.Result{}, rl: reloading{results: make(chan loaded, 1)}}

	cfg, err := opts.Load(opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("daemon: load %s: %w: %w", opts.ConfigPath, ErrConfig, err)
	}
	if err := d.apply(ctx, cfg); err != nil {
		return fmt.Errorf("daemon: %w: %w", ErrConfig, err)
	}

	// SIGHUP is subscribed before the daemon says it is ready, so a reload sent after
	// READY=1 never hits the default action (terminate).
	var hup chan os.Signal
	if opts.Reload == nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}

	addr := opts.Listen
	if addr == "" {
		addr = cfg.Listen
	}
	ln, stop, err := d.serve(ctx, addr)
	if err != nil {
		return err
	}
	defer stop()

	d.log.Info("daemon started", zap.String("listen", ln.Addr().String()), zap.String("schedule", d.spec),
		zap.Int("certificates", len(cfg.Certificates)))
	d.sendNotify("READY=1", statusLine("started; first pass running"))
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	wdDone := make(chan struct{})
	wdStop := make(chan struct{})
	go d.watchdog(wdStop, wdDone)
	defer func() { close(wdStop); <-wdDone }()

	err = d.loop(ctx, hup)
	d.sendNotify("STOPPING=1", statusLine("stopping"))
	d.log.Info("daemon stopped")
	return err
}

// withDefaults fills in the Options left zero.
func (opts Options) withDefaults() Options {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.MaxPassAge <= 0 {
		opts.MaxPassAge = DefaultMaxPassAge
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.ReloadTimeout <= 0 {
		opts.ReloadTimeout = DefaultReloadTimeout
	}
	if opts.After == nil {
		opts.After = realAfter
	}
	return opts
}

// realAfter is a real timer, as Options.After answers.
func realAfter(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// serve starts the HTTP server (/metrics, /healthz) on addr; stop shuts it down, within
// 5 seconds, and waits for it.
func (d *Daemon) serve(ctx context.Context, addr string) (ln net.Listener, stop func(), err error) {
	ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("daemon: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("HTTP server stopped", zap.Error(err))
		}
	}()
	return ln, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HTTPShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}, nil
}

// loop runs a pass now, then at every scheduled time, and applies reloads between passes.
func (d *Daemon) loop(ctx context.Context, hup <-chan os.Signal) error {
	if err := d.runPass(ctx); err != nil {
		return err
	}
	// The refresh timer is armed again once its refresh is over: a refresh slower than
	// health_refresh is not followed by another at once.
	every := d.cfg.HealthRefresh
	refresh, stopRefresh := d.opts.After(every)
	defer func() { stopRefresh() }()
	for {
		if d.cfg.HealthRefresh != every {
			every = d.cfg.HealthRefresh
			stopRefresh()
			refresh, stopRefresh = d.opts.After(every)
		}
		now := d.opts.Now()
		next := scheduler.NextPass(scheduleFunc(d.next), d.lastStart, now, d.minPeriod)
		due, stop := d.opts.After(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-refresh:
			stop()
			d.refresh(ctx)
			refresh, stopRefresh = d.opts.After(every)
		case <-hup:
			stop()
			d.refresh(ctx)
			d.startReload(ctx)
		case <-d.opts.Reload:
			stop()
			d.refresh(ctx)
			d.startReload(ctx)
		case r := <-d.rl.results:
			stop()
			if d.loadReturned(ctx, r) {
				// A reload that adds certificates runs a pass at once: a new certificate
				// must not wait for the next scheduled pass (up to half a day).
				d.log.Info("the reload added certificates: running a pass now")
				if err := d.runPass(ctx); err != nil {
					return err
				}
			}
		case <-d.rl.deadline:
			stop()
			d.loadTimedOut()
		case <-due:
			if err := d.runPass(ctx); err != nil {
				return err
			}
		}
	}
}

// scheduleFunc adapts a function to what scheduler.NextPass asks of a schedule.
type scheduleFunc func(time.Time) time.Time

func (f scheduleFunc) Next(now time.Time) time.Time { return f(now) }

// next is the schedule's next time after now (Options.Next in tests); the loop bounds
// it with scheduler.NextPass.
func (d *Daemon) next(now time.Time) time.Time {
	next := d.sched.Next(now)
	if d.opts.Next != nil {
		next = d.opts.Next(now)
	}
	d.mu.Lock()
	wait, revoked, human := d.waitUntil, len(d.revoked) > 0, d.needsHuman()
	d.mu.Unlock()
	if revoked || human {
		return now // the loop's scheduler.NextPass keeps the floor after the last pass
	}
	// The CA's window frees for certificates the last pass held back: the next pass
	// runs then rather than at the next cron tick (still no sooner than the floor).
	if !wait.IsZero() && wait.Before(next) {
		return wait
	}
	return next
}

// needsHuman reports whether a certificate is failing for a reason no wait fixes
// (renew.Result.NeedsHuman: a permission missing, a broken secret or KMS key); d.mu held.
// The next pass then runs at the floor (min_period) rather than at the schedule's next
// tick: only a pass checks again (a refresh writes nothing and asks no preflight), so a
// fix (the permission granted, the key enabled) would otherwise leave /healthz 503 for up
// to half a day. Such a pass orders nothing the fix has not made possible.
func (d *Daemon) needsHuman() bool {
	for _, r := range d.certs {
		if r.NeedsHuman && r.Condition == renew.ConditionFailing {
			return true
		}
	}
	return false
}

// runPass runs one pass. When ctx ends during the pass, it waits up to StopTimeout for
// the pass to return (cleanup included) and reports an error if it does not.
func (d *Daemon) runPass(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	d.lastStart = d.opts.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.pass(ctx)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	d.log.Info("stopping: waiting for the pass in flight to clean up", zap.Duration("bound", d.opts.StopTimeout))
	t := time.NewTimer(d.opts.StopTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("daemon: the pass in flight did not stop within %s", d.opts.StopTimeout)
	}
}

// pass runs one pass and records its outcome in metrics, health and STATUS.
func (d *Daemon) pass(ctx context.Context) {
	start := d.opts.Now()
	sum, err := d.runner.Pass(ctx, renew.Options{})
	end := d.opts.Now()
	if err != nil {
		d.m.ObservePassError(end.Sub(start))
		status := fmt.Sprintf("last pass %s: could not run: %s", start.UTC().Format(time.RFC3339), err.Error())
		d.mu.Lock()
		d.lastPass, d.lastStatus = end, status
		d.readFailed(err)
		d.mu.Unlock()
		d.log.Error("pass could not run", zap.Error(err))
		d.sendNotify(statusLine(status))
		return
	}
	d.m.ObservePass(sum)
	d.mu.Lock()
	d.waitUntil = sum.WaitUntil() // before next below: the status line names the next pass
	d.revoked = nil
	d.mu.Unlock()
	renewed, failed := 0, 0
	for _, r := range sum.Results {
		switch {
		case r.Err() != nil || r.Action == renew.ActionFailed:
			failed++
		case r.Action.Stored():
			renewed++
		}
	}
	failing := sum.Failing()
	d.mu.Lock()
	for _, r := range sum.Results {
		d.certs[r.Name] = r // before next, which reads them (needsHuman)
	}
	d.mu.Unlock()
	next := scheduler.NextPass(scheduleFunc(d.next), start, end, d.minPeriod)
	status := fmt.Sprintf("last pass %s: %d certificates, %d renewed, %d failed, %d failing; next pass %s",
		start.UTC().Format(time.RFC3339), len(sum.Results), renewed, failed, failing, next.UTC().Format(time.RFC3339))
	d.mu.Lock()
	d.lastPass, d.lastStatus = end, status
	d.shared = sharedRead{last: end, every: d.shared.every}
	// A pass that leaves a certificate failing (even one it skipped in backoff) is not
	// a successful pass.
	if failing == 0 {
		d.lastSuccess = end
	}
	d.mu.Unlock()
	if failing > 0 {
		d.log.Error("pass finished with certificates failing", zap.Int("failed", failed), zap.Int("failing", failing), zap.Int("renewed", renewed))
	}
	d.sendNotify(statusLine(status))
}

// refresh re-reads every certificate's condition from shared state (the secrets' tags:
// one ListSecrets page per 100 certificates, no ACME request), so that /healthz, the
// metrics and STATUS follow what other runners did between passes. On the loop
// goroutine, bounded by health_refresh (at least minRefreshTimeout).
func (d *Daemon) refresh(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, max(d.cfg.HealthRefresh, minRefreshTimeout))
	defer cancel()
	d.mu.Lock()
	d.shared.reading = d.opts.Now()
	d.mu.Unlock()
	sum, err := d.runner.Pass(rctx, renew.Options{Refresh: true})
	if status := d.refreshed(sum, err, d.opts.Now()); status != "" {
		d.sendNotify(statusLine(status))
	}
}

// refreshed records a refresh's outcome; it returns a STATUS line when a condition
// changed outside this daemon.
func (d *Daemon) refreshed(sum *renew.Summary, err error, now time.Time) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shared.reading = time.Time{}
	if err != nil {
		d.readFailed(err)
		d.log.Warn("could not refresh the certificates' conditions from shared state", zap.Int("failures", d.shared.failures), zap.Error(err))
		if d.shared.stale(now, d.start) {
			d.m.MarkUnknown(d.names)
		}
		return ""
	}
	d.shared = sharedRead{last: now, every: d.shared.every}
	moved := false
	for _, r := range sum.Results {
		if r.Reason == scheduler.ReasonRevoked && !slices.Contains(d.revoked, r.Name) {
			d.revoked = append(d.revoked, r.Name)
			d.log.Warn("a certificate was revoked since the last pass: running a pass now to replace it", zap.String("cert", r.Name))
		}
		if prev, ok := d.certs[r.Name]; ok && changed(prev, r) {
			moved = true
			d.log.Info("condition changed outside this daemon", zap.String("cert", r.Name),
				zap.String("was", string(prev.Condition)), zap.String("now", string(r.Condition)))
		}
		d.certs[r.Name] = r
	}
	d.m.ObserveConditions(sum)
	if !moved {
		return ""
	}
	return fmt.Sprintf("%s; shared state read %s: %d certificates, %d failing",
		d.lastStatus, now.UTC().Format(time.RFC3339), len(sum.Results), sum.Failing())
}

func changed(a, b *renew.Result) bool {
	return a.Condition != b.Condition || !a.NotAfter.Equal(b.NotAfter)
}

// readFailed records a failed read of shared state; d.mu held.
func (d *Daemon) readFailed(err error) {
	d.shared.failures++
	d.shared.err = err
}

// apply makes cfg current: schedule, Runner, metric series. On error nothing changes.
func (d *Daemon) apply(ctx context.Context, cfg *config.Config) error {
	p, err := d.prepare(ctx, cfg)
	if err != nil {
		return err
	}
	d.commit(p)
	return nil
}

// prepared is a configuration made ready to apply: its schedule and its Runner.
type prepared struct {
	cfg    *config.Config
	sched  *scheduler.Schedule
	spec   string
	runner Runner
}

// minPeriod is the configuration's floor between passes, never below a second (a
// configuration built without config.Load's defaults has none).
func minPeriod(cfg *config.Config) time.Duration {
	return max(cfg.Schedule.MinPeriod, time.Second)
}

// prepare parses cfg's schedule and builds its Runner. It reads only d.opts, so a
// reload runs it off the loop, while the old Runner may be in a pass.
func (d *Daemon) prepare(ctx context.Context, cfg *config.Config) (*prepared, error) {
	spec := cfg.Schedule.Cron
	if spec == "" {
		spec = scheduler.DefaultSpec(d.opts.HostID + cfg.ACME.Email)
	}
	sched, err := scheduler.ParseSchedule(spec, cfg.Schedule.Jitter, d.opts.Rand)
	if err != nil {
		return nil, err
	}
	// Checked here as well as by validation: at the real time, the default spec included.
	if err := sched.Check(d.opts.Now(), minPeriod(cfg)); err != nil {
		return nil, fmt.Errorf("schedule.cron: %q: %w", spec, err)
	}
	runner, err := d.opts.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &prepared{cfg: cfg, sched: sched, spec: spec, runner: runner}, nil
}

// commit makes a prepared configuration current; on the loop goroutine only.
// It reports whether p configures certificates the running configuration did not.
func (d *Daemon) commit(p *prepared) (added bool) {
	cfg, runner, sched, spec := p.cfg, p.runner, p.sched, p.spec
	if d.cfg != nil && d.opts.Listen == "" && cfg.Listen != d.cfg.Listen {
		d.log.Warn("listen changed: restart certferry to apply it", zap.String("listen", cfg.Listen))
	}
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration: " + w)
	}
	names := make([]string, len(cfg.Certificates))
	for i, c := range cfg.Certificates {
		names[i] = c.Name
	}
	d.cfg, d.runner, d.sched, d.spec, d.minPeriod = cfg, runner, sched, spec, minPeriod(cfg)
	d.m.Init(names)
	d.mu.Lock()
	d.shared.every = cfg.HealthRefresh
	for _, n := range names {
		if d.names != nil && !slices.Contains(d.names, n) {
			added = true
		}
	}
	d.names = names
	for n := range d.certs {
		if !slices.Contains(names, n) {
			delete(d.certs, n)
		}
	}
	d.mu.Unlock()
	return added
}

// reloading is the state of the reload in progress, owned by the loop goroutine. At most
// one reload goroutine (Load, then prepare) runs at a time, even one abandoned after
// ReloadTimeout, so a file that never answers costs one goroutine, not one per SIGHUP.
type reloading struct {
	results  chan loaded      // the reload goroutine's answer; buffered, so it never blocks on it
	running  bool             // a reload goroutine has not returned yet
	deadline <-chan time.Time // fires at the ReloadTimeout of the Load waited for; nil: none waited for
	timer    *time.Timer
	again    bool // a reload was asked for while a Load was running
}

type loaded struct {
	p   *prepared
	err error
}

// startReload starts reading the configuration again. The Load and the new Runner's
// Build run on a goroutine of their own under ReloadTimeout; the loop commits their
// answer (loadReturned) or gives up on it at ReloadTimeout (loadTimedOut), and runs
// scheduled passes meanwhile.
func (d *Daemon) startReload(ctx context.Context) {
	if d.rl.running {
		d.rl.again = true
		if d.rl.deadline == nil {
			d.log.Error("reload postponed: the previous reload (reading the configuration, building its runner) has not returned",
				zap.String("config", d.opts.ConfigPath))
		} else {
			d.log.Info("reload already in progress: reloading again after it", zap.String("config", d.opts.ConfigPath))
		}
		return
	}
	d.sendNotify("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
	d.log.Info("reloading the configuration", zap.String("config", d.opts.ConfigPath))
	d.rl.running, d.rl.again = true, false
	d.rl.timer = time.NewTimer(d.opts.ReloadTimeout)
	d.rl.deadline = d.rl.timer.C
	results := d.rl.results
	go func() {
		pctx, cancel := context.WithTimeout(ctx, d.opts.ReloadTimeout)
		defer cancel()
		var p *prepared
		cfg, err := d.opts.Load(d.opts.ConfigPath)
		if err == nil {
			err = pctx.Err() // a reload abandoned during its Load builds nothing
		}
		if err == nil {
			p, err = d.prepare(pctx, cfg)
		}
		results <- loaded{p, err}
	}()
}

// loadReturned takes a Load's answer: applied when it was waited for, dropped when it
// came after its ReloadTimeout. A reload asked for meanwhile starts now.
// It reports whether the new configuration added certificates.
func (d *Daemon) loadReturned(ctx context.Context, r loaded) (added bool) {
	d.rl.running = false
	if d.rl.deadline == nil {
		d.log.Warn("the configuration read abandoned at its timeout returned; its result is dropped",
			zap.String("config", d.opts.ConfigPath), zap.NamedError("result", r.err))
	} else {
		d.rl.timer.Stop()
		d.rl.deadline = nil
		if r.err == nil {
			added = d.commit(r.p)
			d.reported(nil, r.p.cfg)
		} else {
			d.reported(r.err, nil)
		}
	}
	if d.rl.again {
		d.startReload(ctx)
	}
	return added
}

// loadTimedOut fails the reload whose Load overran ReloadTimeout; the old configuration
// stays, and the Load's goroutine is left to return on its own.
func (d *Daemon) loadTimedOut() {
	d.rl.deadline = nil
	d.reported(fmt.Errorf("daemon: reload: loading %s took longer than %s", d.opts.ConfigPath, d.opts.ReloadTimeout), nil)
}

// reported counts a reload's outcome, logs it and tells systemd.
func (d *Daemon) reported(err error, cfg *config.Config) {
	d.m.ObserveReload(err)
	d.mu.Lock()
	status := d.lastStatus
	d.mu.Unlock()
	if err != nil {
		d.log.Error("reload failed: keeping the running configuration", zap.String("config", d.opts.ConfigPath), zap.Error(err))
		d.sendNotify("READY=1", statusLine("reload failed, old configuration kept: "+err.Error()))
		return
	}
	d.log.Info("configuration reloaded", zap.String("schedule", d.spec), zap.Int("certificates", len(cfg.Certificates)))
	d.sendNotify("READY=1", statusLine(status))
}

func (d *Daemon) watchdog(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if d.opts.WatchdogInterval <= 0 {
		return
	}
	t := time.NewTicker(d.opts.WatchdogInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.sendNotify("WATCHDOG=1")
		}
	}
}

func (d *Daemon) sendNotify(lines ...string) {
	if err := d.notify.send(lines...); err != nil {
		d.log.Warn("sd_notify failed", zap.Error(err))
	}
}

// Health is /healthz's answer.
type Health struct {
	Status string `json:"status"` // "ok" or "unhealthy"
	// Reasons say why the daemon is unhealthy, one sentence each.
	Reasons []string `json:"reasons,omitempty"`
	// Failing names the certificates that make it unhealthy.
	Failing            []FailingCert `json:"failing,omitempty"`
	LastPass           time.Time     `json:"last_pass,omitzero"`
	LastSuccessfulPass time.Time     `json:"last_successful_pass,omitzero"`
	LastPassStatus     string        `json:"last_pass_status,omitempty"`
}

// FailingCert is one certificate that makes /healthz fail.
type FailingCert struct {
	Name         string          `json:"name"`
	Condition    renew.Condition `json:"condition"`
	Since        time.Time       `json:"since,omitzero"`
	Attempts     int             `json:"attempts,omitempty"`
	LastError    string          `json:"last_error,omitempty"`
	NextAttempt  time.Time       `json:"next_attempt,omitzero"`
	NotAfter     time.Time       `json:"not_after,omitzero"`
	RenewalDueAt time.Time       `json:"renewal_due_at,omitzero"`
}

// Health is the daemon's health at now. Unhealthy when a certificate is expired, or
// failing past the point where it was due (a certificate that failed a renewal it did
// not yet need, such as a deliberate early change, does not page) or failing for a
// reason no wait fixes (renew.Result.NeedsHuman: a broken configuration, a missing
// permission), or inside its
// emergency window; or when no pass has succeeded for MaxPassAge (counted from the start
// when none has yet).
func (d *Daemon) Health(now time.Time) Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := Health{Status: "ok", LastPass: d.lastPass, LastSuccessfulPass: d.lastSuccess, LastPassStatus: d.lastStatus}
	ref := d.lastSuccess
	if ref.IsZero() {
		ref = d.start
	}
	if age := now.Sub(ref); age > d.opts.MaxPassAge {
		what := "no pass has succeeded since the start at " + d.start.UTC().Format(time.RFC3339)
		if !d.lastSuccess.IsZero() {
			what = "the last successful pass was at " + d.lastSuccess.UTC().Format(time.RFC3339)
		}
		h.Reasons = append(h.Reasons, fmt.Sprintf("%s, more than %s ago", what, d.opts.MaxPassAge))
	}
	if d.shared.stale(now, d.start) {
		h.Reasons = append(h.Reasons, d.shared.unknown(d.start))
	}
	for _, n := range d.names {
		r, ok := d.certs[n]
		if !ok {
			continue
		}
		fc := FailingCert{Name: n, Condition: r.Condition, Since: r.FailingSince, Attempts: r.Attempts, LastError: r.LastError,
			NextAttempt: r.NextAttempt, NotAfter: r.NotAfter, RenewalDueAt: r.DueAt}
		switch {
		case !r.NotAfter.IsZero() && !now.Before(r.NotAfter):
			fc.Condition = renew.ConditionExpired
			h.Reasons = append(h.Reasons, fmt.Sprintf("certificate %q expired at %s", n, r.NotAfter.UTC().Format(time.RFC3339)))
		case r.Condition == renew.ConditionFailing && (r.NeedsHuman || r.DueAt.IsZero() || !now.Before(r.DueAt)):
			h.Reasons = append(h.Reasons, fmt.Sprintf("certificate %q is failing since %s (%d attempt(s)): %s",
				n, r.FailingSince.UTC().Format(time.RFC3339), r.Attempts, r.LastError))
		case !r.NotBefore.IsZero() && scheduler.InEmergency(r.NotBefore, r.NotAfter, now):
			h.Reasons = append(h.Reasons, fmt.Sprintf("certificate %q is in its emergency window: %s left of %s, not after %s",
				n, r.NotAfter.Sub(now).Round(time.Second), r.NotAfter.Sub(r.NotBefore).Round(time.Second), r.NotAfter.UTC().Format(time.RFC3339)))
		default:
			continue
		}
		h.Failing = append(h.Failing, fc)
	}
	if len(h.Reasons) > 0 {
		h.Status = "unhealthy"
	}
	return h
}

// unknown says why the conditions are no longer vouched for (s is stale).
func (s sharedRead) unknown(start time.Time) string {
	since := lastOrStart(s.last, start).UTC().Format(time.RFC3339)
	if s.failures == 0 {
		return fmt.Sprintf("the certificates' conditions are unknown: their shared state has not been read since %s (every %s); the read begun at %s has not answered",
			since, s.every, s.reading.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("the certificates' conditions are unknown: their shared state could not be read %d time(s) in a row (every %s) since %s: %s",
		s.failures, s.every, since, s.err)
}

func lastOrStart(last, start time.Time) time.Time {
	if last.IsZero() {
		return start
	}
	return last
}

// markStale turns the conditions' metrics Unknown when the shared state is stale at now.
func (d *Daemon) markStale(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shared.stale(now, d.start) {
		d.m.MarkUnknown(d.names)
	}
}

// Handler serves /metrics and /healthz (200 when healthy, 503 with the reasons).
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mh := d.m.Handler()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		d.markStale(d.opts.Now()) // a refresh that hangs has not marked them yet
		mh.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := d.Health(d.opts.Now())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if h.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}
