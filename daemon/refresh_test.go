package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// refreshEvery is the tests' health_refresh (the smallest the configuration takes).
const refreshEvery = time.Second

func failingSummary(name string) func(context.Context) (*renew.Summary, error) {
	return func(context.Context) (*renew.Summary, error) {
		return &renew.Summary{Started: time.Now(), Results: []*renew.Result{{
			Name: name, Action: renew.ActionFailed, Reason: scheduler.ReasonMissing, Condition: renew.ConditionFailing,
			FailingSince: time.Now(), Attempts: 1, LastError: "no hosted zone holds www.example.com",
		}}}, nil
	}
}

// TestRefreshFollowsSharedState: a certificate failing after the daemon's pass, then
// fixed by another runner, turns the daemon healthy within health_refresh and a step,
// with no pass; the metrics follow.
func TestRefreshFollowsSharedState(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+"health_refresh: 1s\n")
	var fixed atomic.Bool
	ok := okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))
	runner := &fakeRunner{pass: failingSummary("web"), refresh: func(ctx context.Context) (*renew.Summary, error) {
		if fixed.Load() {
			return ok(ctx)
		}
		return failingSummary("web")(ctx)
	}}
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	// The runner counts the pass before the daemon has taken in its summary: wait for
	// the 503 rather than read it the moment the count moves.
	eventually(t, step, "the first pass, failing", func() bool {
		code, _ := r.health(t)
		return runner.passes.Load() == 1 && code == 503
	})
	fixed.Store(true) // another runner fixed and renewed it
	// /healthz and the metrics follow the same refresh one after the other: wait for both.
	eventually(t, testwait.For(refreshEvery), "/healthz 200 and ready_status True after the fix", func() bool {
		code, _ := r.health(t)
		return code == 200 && r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "True"}) == 1
	})
	if n := runner.passes.Load(); n != 1 {
		t.Errorf("passes = %d, want 1: the health followed without a pass", n)
	}
}

// TestRefreshOutageTurnsUnknown: when the shared state cannot be read, refresh after
// refresh, /healthz turns 503 within three refreshes and ready_status turns Unknown;
// once it reads again, it is healthy again.
func TestRefreshOutageTurnsUnknown(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+"health_refresh: 1s\n")
	var down atomic.Bool
	// failed counts the refreshes that returned the outage's error. A fourth one waits
	// until the test has looked (or the daemon stops), so "503 within three refreshes"
	// does not depend on how soon a loaded machine lets the test look.
	var failed atomic.Int32
	looked := make(chan struct{})
	ok := okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))
	runner := &fakeRunner{pass: ok, refresh: func(ctx context.Context) (*renew.Summary, error) {
		if down.Load() {
			if failed.Load() >= 3 {
				select {
				case <-looked:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			failed.Add(1)
			return nil, errors.New("renew: secretsmanager: inventory: ServiceUnavailable")
		}
		return ok(ctx)
	}}
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	firstPass(t, r, runner, 200)
	down.Store(true)
	eventually(t, testwait.For(3*refreshEvery), "/healthz 503 and ready_status Unknown during the outage", func() bool {
		code, _ := r.health(t)
		return code == 503 && r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "Unknown"}) == 1
	})
	if n := failed.Load(); n > 3 {
		t.Errorf("503 after %d failed refreshes, want at most 3", n)
	}
	_, h := r.health(t)
	if len(h.Reasons) == 0 || !strings.Contains(h.Reasons[0], "conditions are unknown") || !strings.Contains(h.Reasons[0], "ServiceUnavailable") {
		t.Errorf("reasons = %q", h.Reasons)
	}
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "Unknown"}); v != 1 {
		t.Errorf("ready_status{condition=Unknown} = %v, want 1", v)
	}
	down.Store(false)
	close(looked)
	eventually(t, testwait.For(refreshEvery), "/healthz 200 after the outage", func() bool {
		code, _ := r.health(t)
		return code == 200
	})
	if n := runner.passes.Load(); n != 1 {
		t.Errorf("passes = %d, want 1", n)
	}
}

// TestRefreshOnReload: with a refresh period far away, a reload (SIGHUP) refreshes the
// conditions at once.
func TestRefreshOnReload(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+"health_refresh: 24h\n")
	var fixed atomic.Bool
	ok := okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))
	runner := &fakeRunner{pass: failingSummary("web"), refresh: func(ctx context.Context) (*renew.Summary, error) {
		if fixed.Load() {
			return ok(ctx)
		}
		return failingSummary("web")(ctx)
	}}
	reload := make(chan struct{})
	r := start(t, daemon.Options{ConfigPath: cfgPath, Reload: reload, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	firstPass(t, r, runner, 503)
	fixed.Store(true)
	reload <- struct{}{}
	eventually(t, step, "/healthz 200 after SIGHUP", func() bool {
		code, _ := r.health(t)
		return code == 200
	})
	if n := runner.passes.Load(); n != 1 {
		t.Errorf("passes = %d, want 1", n)
	}
}

// TestRefreshHangTurnsUnknown: Secrets Manager stops answering at all (a refresh hangs
// until its timeout, which is longer than health_refresh): /healthz turns 503 and
// ready_status Unknown once 3 x health_refresh have passed since the last read that
// worked, while the refresh still hangs, not after three timeouts; once it answers, the
// daemon is healthy again.
func TestRefreshHangTurnsUnknown(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+"health_refresh: 1s\n")
	clk := &clock{t: time.Now()}
	ok := okSummary("web", clk.Now().Add(60*24*time.Hour), clk.Now().Add(40*24*time.Hour))
	var hang atomic.Bool
	release := make(chan struct{})
	runner := &fakeRunner{pass: ok, refresh: func(ctx context.Context) (*renew.Summary, error) {
		if hang.Load() {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return ok(ctx)
	}}
	r := start(t, daemon.Options{ConfigPath: cfgPath, Now: clk.Now,
		Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	firstPass(t, r, runner, 200)
	hang.Store(true)
	from := runner.refreshes.Load()
	eventually(t, testwait.For(refreshEvery), "a refresh hanging", func() bool { return runner.refreshes.Load() > from })
	if code, _ := r.health(t); code != 200 {
		t.Fatalf("/healthz = %d at once, want 200: one slow read is not an outage", code)
	}
	clk.Add(3 * refreshEvery)
	code, h := r.health(t)
	if code != 503 || len(h.Reasons) == 0 || !strings.Contains(h.Reasons[0], "conditions are unknown") {
		t.Errorf("/healthz = %d %q after 3 x health_refresh without a read, want 503, conditions unknown", code, h.Reasons)
	}
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "Unknown"}); v != 1 {
		t.Errorf("ready_status{condition=Unknown} = %v, want 1", v)
	}
	hang.Store(false)
	close(release)
	eventually(t, testwait.For(refreshEvery), "/healthz 200 once a read works", func() bool {
		code, _ := r.health(t)
		return code == 200
	})
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "True"}); v != 1 {
		t.Errorf("ready_status{condition=True} = %v, want 1", v)
	}
}

// TestRefreshFindsRevokedRunsAPass: a certificate revoked on another host (certferry
// revoke without --renew) is found by the next refresh, and the daemon runs a pass
// within health_refresh and min_period to replace it, not at the schedule's next tick an
// hour (by default up to half a day) away; once replaced, no further pass until then.
func TestRefreshFindsRevokedRunsAPass(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	cfg := strings.Replace(fmt.Sprintf(fakeConfig, "web", "web"), `schedule: "@every 1h"`, `schedule: {cron: "@every 1h", min_period: 1s}`, 1)
	if !strings.Contains(cfg, "min_period: 1s") {
		t.Fatalf("the schedule of fakeConfig changed:\n%s", cfg)
	}
	writeFile(t, cfgPath, cfg+"health_refresh: 1s\n")
	var revoked atomic.Bool
	ok := okSummary("web", time.Now().Add(60*24*time.Hour), time.Now().Add(40*24*time.Hour))
	runner := &fakeRunner{
		pass: func(ctx context.Context) (*renew.Summary, error) {
			revoked.Store(false) // replaced
			return ok(ctx)
		},
		refresh: func(ctx context.Context) (*renew.Summary, error) {
			if !revoked.Load() {
				return ok(ctx)
			}
			return &renew.Summary{Started: time.Now(), Results: []*renew.Result{{
				Name: "web", Action: renew.ActionPlan, Reason: scheduler.ReasonRevoked, Condition: renew.ConditionFailing,
				FailingSince: time.Now(), LastError: "serial 01 was revoked (keyCompromise): its key is compromised; failing until a replacement is stored",
			}}}, nil
		},
	}
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	firstPass(t, r, runner, 200)
	revoked.Store(true)
	eventually(t, testwait.For(2*refreshEvery), "a pass after a refresh found the certificate revoked", func() bool { return runner.passes.Load() == 2 })
	eventually(t, testwait.For(refreshEvery), "/healthz 200 once replaced", func() bool {
		code, _ := r.health(t)
		return code == 200
	})
	after := runner.refreshes.Load()
	eventually(t, testwait.For(2*refreshEvery), "two more refreshes", func() bool { return runner.refreshes.Load() >= after+2 })
	if n := runner.passes.Load(); n != 2 {
		t.Errorf("passes = %d after the replacement, want 2: the next is the schedule's", n)
	}
}

// TestNextPassWhenLeaseElsewhereEnds: a pass that leaves a certificate to another
// runner (renewing elsewhere, its lease until a moment later) is followed by a pass once
// that lease can be taken over, not at the next scheduled time an hour later: if the
// other runner died, this one takes the certificate over.
func TestNextPassWhenLeaseElsewhereEnds(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
	writeFile(t, cfgPath, strings.Replace(fmt.Sprintf(fakeConfig, "web", "web"), `schedule: "@every 1h"`,
		"schedule: { cron: \"@every 1h\", min_period: 1s }", 1))
	const leaseLeft = time.Second
	runner := &fakeRunner{pass: func(context.Context) (*renew.Summary, error) {
		return &renew.Summary{Started: time.Now(), Results: []*renew.Result{{
			Name: "web", Action: renew.ActionElsewhere, Reason: scheduler.ReasonMissing, Condition: renew.ConditionDue,
			Message: "renewing elsewhere (bastion-2/42/abcdef, until ...)", ElsewhereUntil: time.Now().Add(leaseLeft),
		}}}, nil
	}}
	start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
	eventually(t, step, "the first pass", func() bool { return runner.passes.Load() >= 1 })
	// The lease ends leaseLeft after the pass; the next pass a second after that (and
	// after min_period).
	eventually(t, testwait.For(leaseLeft+2*time.Second), "a pass once the lease elsewhere ends", func() bool { return runner.passes.Load() >= 2 })
}

// firstPass waits for the first pass and for /healthz to answer what that pass says:
// the runner counts a pass before the daemon has taken in its summary.
func firstPass(t *testing.T, r *running, runner *fakeRunner, code int) {
	t.Helper()
	eventually(t, step, fmt.Sprintf("the first pass and /healthz %d", code), func() bool {
		got, _ := r.health(t)
		return runner.passes.Load() == 1 && got == code
	})
}

// TestHealthNeedsHumanAtOnce: a certificate failing with time left (its renewal not yet
// due) pages only once it is due, unless no wait fixes the failure (renew's NeedsHuman: a
// state that cannot be recorded, a configuration the preflight refused): then /healthz
// answers 503 at once, and after every refresh.
func TestHealthNeedsHumanAtOnce(t *testing.T) {
	t.Parallel()
	for _, needsHuman := range []bool{false, true} {
		t.Run(fmt.Sprint("needs a human ", needsHuman), func(t *testing.T) {
			t.Parallel()
			cfgPath := filepath.Join(t.TempDir(), "certferry.yaml")
			writeFile(t, cfgPath, fmt.Sprintf(fakeConfig, "web", "web")+"health_refresh: 1s\n")
			sum := func(context.Context) (*renew.Summary, error) {
				now := time.Now()
				return &renew.Summary{Started: now, Results: []*renew.Result{{
					Name: "web", Action: renew.ActionFailed, Reason: scheduler.ReasonNotDue, Condition: renew.ConditionFailing,
					NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(89 * 24 * time.Hour), DueAt: now.Add(59 * 24 * time.Hour),
					FailingSince: now, Attempts: 1, NeedsHuman: needsHuman,
					LastError: `it needs a human: the role is not allowed secretsmanager:TagResource on the secret "certferry/web"`,
				}}}, nil
			}
			runner := &fakeRunner{pass: sum}
			r := start(t, daemon.Options{ConfigPath: cfgPath, Build: func(context.Context, *config.Config) (daemon.Runner, error) { return runner, nil }})
			want := 200
			if needsHuman {
				want = 503
			}
			eventually(t, step, "the first pass and a refresh", func() bool { return runner.refreshes.Load() >= 1 })
			if code, h := r.health(t); code != want {
				t.Errorf("/healthz %d, want %d (%+v)", code, want, h)
			}
			// Failing either way: the metrics say so whatever /healthz pages for.
			if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "False"}); v != 1 {
				t.Errorf("ready_status{condition=False} = %v, want 1", v)
			}
		})
	}
}
