package faults_test

// What the CA can do wrong, and what certferry must do about it. Every test
// injects one fault, checks the behaviour, and checks that nothing was lost: AWSCURRENT
// holds a valid certificate whose key matches (e.stored), no _acme-challenge record is
// left (e.pass), no issued certificate is thrown away, the CA is not hammered (counts of
// acme.NewOrder), and the debug log holds no key material (loggedApp).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// newACMEEnv is newEnv for the ACME scenarios, whose certificates set their own
// issuance guard (acmeCert): the pass-wide configuration leaves it out.
func newACMEEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	e := newEnv(t, opts)
	e.Base = strings.Replace(configYAML, "issuance_guard: 0s\n", "", 1)
	return e
}

// loggedApp builds an app with the pass clock now (nil: the real clock) that logs at
// debug level into the returned buffer, checked for key material when the test ends.
func (e *env) loggedApp(t *testing.T, cfg *config.Config, now func() time.Time) (*app.App, *e2etest.LogBuffer) {
	t.Helper()
	buf, log := e2etest.DebugLog(t)
	t.Cleanup(func() {
		if buf.String() == "" {
			t.Errorf("no log output captured")
		}
	})
	return e.AppWith(t, cfg, now, log), buf
}

// tagTime parses a time tag.
func tagTime(t *testing.T, tags map[string]string, k string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, tags[k])
	if err != nil {
		t.Fatalf("tag %s = %q: %v", k, tags[k], err)
	}
	return v
}

// acmeCert is the certificate of the ACME scenarios, with its issuance guard and profile.
const acmeCert = `issuance_guard: %s
certificates:
  - name: web
    domains: [www.example.com]
    profile: %s
    sinks:
      secretsmanager: { secret: certferry/web }
`

// 1. A badNonce storm: Pebble rejects 90 % of good nonces. acme signs a rejected request
// again at once with the nonce of the answer (lego's own retry, 20 s of sleeps for about
// ten attempts, is exhausted by such a storm); the pass succeeds with one certificate.
func TestFaultBadNonceStorm(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{NonceRejectPercent: 90})
	a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")), nil)
	start := time.Now()
	wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	took := time.Since(start)
	e.Stored(t, "certferry/web", "AWSCURRENT")
	if n := e.VersionCount(t, "certferry/web"); n != 1 {
		t.Errorf("%d secret versions, want 1", n)
	}
	retried := len(logs.Lines("signed again with the nonce it sent"))
	if retried == 0 {
		t.Errorf("no badNonce retry logged: is the storm on? calls: %s", e.SB.Calls())
	}
	t.Logf("90%% badNonce: pass took %s, %d requests signed again", took, retried)
	// lego alone sleeps up to 20 s per rejected request, minutes for this storm; a pass
	// that signs again at once takes what any pass against this sandbox takes.
	if took > e.PassBound() {
		t.Errorf("the pass took %s under the storm, more than a pass's bound %s: is the request signed again at once?", took, e.PassBound())
	}
}

// 2. rateLimited on newOrder, Retry-After as seconds and as an HTTP date: the certificate
// waits for the CA's limit until Retry-After (due, not failing: docs/pacing.md): a pass
// before it places no order, a pass after it one.
func TestFaultRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		retryAfter func(now time.Time) string
		want       time.Duration
	}{
		{"seconds", func(time.Time) string { return "7200" }, 2 * time.Hour},
		{"http-date", func(now time.Time) string { return now.Add(3 * time.Hour).UTC().Format(http.TimeFormat) }, 3 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newACMEEnv(t, sandbox.Options{})
			clk := e2etest.NewClock(time.Now().Truncate(time.Second))
			a, _ := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")), clk.Now)
			// An HTTP date is counted from the real clock when the answer arrives (the pass
			// clock is fixed): allow for the real time the pass took, and for the date's and
			// the tag's whole seconds.
			sent := time.Now()
			e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Code: "rateLimited", Status: 429,
				Message: "too many certificates", RetryAfter: tc.retryAfter(sent)})

			r := result(t, e.Pass(t, a, renew.Options{}), "web")
			least := tc.want - time.Since(sent) - 2*time.Second
			// The CA's rateLimited answer holds the certificate back: waiting until its
			// Retry-After, due, not failing, and no backoff recorded against it.
			if r.Action != renew.ActionWait || r.Condition != renew.ConditionDue || r.Err() != nil {
				t.Fatalf("pass 1: action %q condition %q error %v, want waiting", r.Action, r.Condition, r.Err())
			}
			if wait := r.WaitingUntil.Sub(clk.Now()); wait < least || wait > tc.want || !strings.Contains(r.Message, "too many certificates") {
				t.Errorf("waits %s (%q), want about %s (at least %s)", wait, r.Message, tc.want, least)
			}
			orders := e.SB.Calls().Count("acme", "NewOrder")

			// This process sends no new order to the CA until the Retry-After ends.
			clk.Set(r.WaitingUntil.Add(-time.Minute))
			r = result(t, e.Pass(t, a, renew.Options{}), "web")
			if r.Action != renew.ActionWait || e.SB.Calls().Count("acme", "NewOrder") != orders {
				t.Fatalf("a minute before Retry-After ends: %q, %d new orders", r.Action, e.SB.Calls().Count("acme", "NewOrder")-orders)
			}
			clk.Set(r.WaitingUntil.Add(time.Second))
			wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
			if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 1 {
				t.Errorf("after Retry-After: %d orders, want 1", n)
			}
			e.Stored(t, "certferry/web", "AWSCURRENT")
			if tags := e.Tags(t, "certferry/web"); tags[smsink.TagFailures] != "" || tags[smsink.TagNextAttempt] != "" {
				t.Errorf("backoff tags left after success: %v", tags)
			}
		})
	}
}

// 3. A validation that keeps failing (the name's hosted zone is private: Route 53 takes
// the record, the DNS Pebble asks never serves it, Pebble answers unauthorized "No TXT
// records"): over simulated days the attempts back off 1 min, 10 min, 100 min, then at
// most once a day.
func TestFaultValidationBackoff(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	zoneID, err := e.SB.Route53().CreateZone("dark.example", true)
	if err != nil {
		t.Fatal(err)
	}
	script, hookLog, _ := e2etest.HookScript(t, e.Dir)
	cfg := e.Config(t, e2etest.CertsYAML(e2etest.CertYAML("dark", "www.dark.example")+`    hosted_zone_id: `+zoneID+`
    hooks:
      on_failure:
        - exec: [`+script+`]
`))
	t0 := time.Now().Truncate(time.Second)
	clk := e2etest.NewClock(t0)
	a, _ := e.loggedApp(t, cfg, clk.Now)

	var attempts []time.Time
	end := t0.Add(4 * 24 * time.Hour)
	for clk.Now().Before(end) {
		before := e.SB.Calls().Count("acme", "NewOrder")
		r := result(t, e.Pass(t, a, renew.Options{}), "dark")
		for _, rs := range e.SB.Route53().Records(zoneID) {
			if strings.HasPrefix(rs.Name, "_acme-challenge.") {
				t.Fatalf("private zone still holds %s", rs.Name)
			}
		}
		switch n := e.SB.Calls().Count("acme", "NewOrder") - before; {
		case n == 1:
			if r.Action != renew.ActionFailed || !strings.Contains(r.Error, "unauthorized") {
				t.Fatalf("attempt at +%s: %q %v, want a failed validation", clk.Now().Sub(t0), r.Action, r.Err())
			}
			attempts = append(attempts, clk.Now())
		case n > 1:
			t.Fatalf("one pass placed %d orders", n)
		default:
			if r.Reason != scheduler.ReasonBackoff {
				t.Fatalf("pass at +%s: reason %q, want backoff", clk.Now().Sub(t0), r.Reason)
			}
		}
		step := time.Minute
		if len(attempts) >= 4 {
			step = 20 * time.Minute
		}
		clk.Add(step)
	}
	if len(attempts) < 6 {
		t.Fatalf("%d attempts in 4 simulated days: %v", len(attempts), attempts)
	}
	// Each gap is the backoff step, +0-20 % jitter, + up to one simulation step.
	for i, want := range []time.Duration{time.Minute, 10 * time.Minute, 100 * time.Minute, 24 * time.Hour, 24 * time.Hour} {
		gap := attempts[i+1].Sub(attempts[i])
		step := time.Minute
		if i >= 3 {
			step = 20 * time.Minute
		}
		if gap < want || gap > want+want/5+step {
			t.Errorf("gap %d: %s, want %s (+20 %% jitter, +%s step)", i+1, gap, want, step)
		}
	}
	perDay := map[int]int{}
	for _, at := range attempts[3:] {
		perDay[int(at.Sub(attempts[3])/(24*time.Hour))]++
	}
	for d, n := range perDay {
		if n > 1 {
			t.Errorf("day %d after the daily cap began: %d attempts", d, n)
		}
	}
	if got := e2etest.HookRuns(t, hookLog); len(got) != len(attempts) {
		t.Errorf("on_failure ran %d times for %d failed attempts", len(got), len(attempts))
	}
	t.Logf("attempts at: %v", attempts)
}

// 4. The CA's ARI window is in the past: the certificate is renewed with replaces (the
// CA then refuses a second replacement of the same certificate), AWSPREVIOUS keeps the
// old certificate; the 24 h issuance guard still holds a certificate issued < 24 h ago.
func TestFaultARIWindowPast(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	for _, guard := range []string{"24h", "0s"} {
		t.Run("guard-"+guard, func(t *testing.T) {
			t.Parallel()
			e := newACMEEnv(t, sandbox.Options{})
			t0 := time.Now()
			clk := e2etest.NewClock(t0)
			a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, guard, "default")), clk.Now)
			wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
			old := e.Stored(t, "certferry/web", "AWSCURRENT")
			if err := e.SB.CA().SetRenewalInfo(t.Context(), []byte(old.Cert), t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			// renew asks ARI only once certferry:ari-next (6 h after issuance) has passed.
			clk.Set(tagTime(t, e.Tags(t, "certferry/web"), smsink.TagARINext).Add(time.Minute))
			orders := e.SB.Calls().Count("acme", "NewOrder")
			sum := e.Pass(t, a, renew.Options{})
			if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 1 {
				t.Errorf("%d RenewalInfo requests, want 1", n)
			}
			if guard == "24h" {
				r := wantOK(t, sum, "web", renew.ActionSkip, scheduler.ReasonIssuanceGuard)
				if !strings.Contains(r.Message, "ARI window") || e.SB.Calls().Count("acme", "NewOrder") != orders {
					t.Errorf("guarded: message %q, %d orders", r.Message, e.SB.Calls().Count("acme", "NewOrder")-orders)
				}
				if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial {
					t.Errorf("AWSCURRENT changed under the guard")
				}
				return
			}
			wantOK(t, sum, "web", renew.ActionRenew, scheduler.ReasonARIWindow)
			if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 1 {
				t.Errorf("%d orders, want 1", n)
			}
			if got := logs.Lines(`"msg":"ordering"`, `"replaces":"`+old.ARIID+`"`); len(got) != 1 {
				t.Errorf("no order with replaces %s logged: %q", old.ARIID, logs.Lines(`"msg":"ordering"`))
			}
			cur := e.Stored(t, "certferry/web", "AWSCURRENT")
			prev := e.Stored(t, "certferry/web", "AWSPREVIOUS")
			if cur.Serial == old.Serial || prev.Serial != old.Serial || prev.Key != old.Key {
				t.Errorf("AWSCURRENT %s, AWSPREVIOUS %s; want a new one and the old %s", cur.Serial, prev.Serial, old.Serial)
			}
			// The CA marked the old certificate replaced: replacing it again is refused.
			client, err := a.ACME(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			o, err := client.Begin(t.Context(), acme.OrderRequest{Name: "probe", Domains: []string{"www.example.com"}, Replaces: old.ARIID})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = client.Abandon(context.WithoutCancel(t.Context()), o) }()
			if !o.ReplacesRefused {
				t.Errorf("a second order replacing %s was accepted: the renewal did not carry replaces", old.ARIID)
			}
		})
	}
}

// 5. The ARI answer is malformed, or a 500: the lifetime rule applies, nothing crashes,
// and ARI is asked again an hour later, not on every pass.
func TestFaultARIBroken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(e *env, certPEM string) error
	}{
		{"malformed", func(e *env, certPEM string) error {
			return e.SB.CA().SetRenewalInfoRaw(context.Background(), []byte(certPEM), `{"suggestedWindow": "soon"`)
		}},
		{"server-error", func(e *env, _ string) error {
			e.SB.Calls().FailNext("acme", "RenewalInfo", 1, calls.Fault{Code: "serverInternal", Status: 500, Message: "ARI is down"})
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newACMEEnv(t, sandbox.Options{})
			clk := e2etest.NewClock(time.Now())
			a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")), clk.Now)
			wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
			old := e.Stored(t, "certferry/web", "AWSCURRENT")
			if err := tc.fault(e, old.Cert); err != nil {
				t.Fatal(err)
			}
			clk.Set(tagTime(t, e.Tags(t, "certferry/web"), smsink.TagARINext).Add(time.Minute))
			r := wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
			if !strings.Contains(r.Message, "lifetime") {
				t.Errorf("message %q: want the lifetime rule", r.Message)
			}
			if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 1 {
				t.Fatalf("%d RenewalInfo requests, want 1", n)
			}
			if len(logs.Lines("ARI check failed")) != 1 {
				t.Errorf("the failed ARI check was not logged once")
			}
			next := tagTime(t, e.Tags(t, "certferry/web"), smsink.TagARINext)
			if d := next.Sub(clk.Now()); d < time.Hour-time.Second || d > time.Hour+time.Second {
				t.Errorf("ari-next moved %s ahead, want 1h", d)
			}
			// Half an hour later: not asked again.
			clk.Add(30 * time.Minute)
			wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
			if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 1 {
				t.Errorf("asked ARI again before the hour was up: %d requests", n)
			}
			// After the hour: asked again.
			clk.Add(31 * time.Minute)
			e.Pass(t, a, renew.Options{})
			if n := e.SB.Calls().Count("acme", "RenewalInfo"); n != 2 {
				t.Errorf("after the hour: %d RenewalInfo requests, want 2", n)
			}
			if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
				t.Errorf("%d orders, want only the first issuance", n)
			}
			if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial {
				t.Errorf("AWSCURRENT changed")
			}
		})
	}
}

// 6. alreadyReplaced: the order is placed again without replaces; exactly one new
// certificate.
func TestFaultAlreadyReplaced(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")), nil)
	wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Code: "alreadyReplaced", Status: 409, Message: "already has a replacement order"})
	wantOK(t, e.Pass(t, a, renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
	c := e.SB.Calls()
	if c.Count("acme", "NewOrder") != 2 || c.Count("acme", "Finalize") != 1 || c.Count("secretsmanager", "PutSecretValue") != 1 {
		t.Errorf("want 2 NewOrder (refused, then without replaces), 1 Finalize, 1 PutSecretValue; got %s", c)
	}
	if len(logs.Lines("alreadyReplaced")) == 0 {
		t.Errorf("the refused replaces was not logged")
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial == old.Serial {
		t.Errorf("not renewed")
	}
	if prev := e.Stored(t, "certferry/web", "AWSPREVIOUS"); prev.Serial != old.Serial {
		t.Errorf("AWSPREVIOUS %s, want %s", prev.Serial, old.Serial)
	}
	if n := e.VersionCount(t, "certferry/web"); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
}

// 7. 6-day certificates (Pebble's "shortlived" profile, 160 h, asked for explicitly):
// over three simulated weeks each is renewed when half its life is gone and the stored
// certificate is never expired. Pebble issues in real time, so the pass clock is set
// relative to the stored certificate: at each step, its NotBefore plus its simulated age.
func TestFaultShortLived(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	cfg := e.Config(t, fmt.Sprintf(acmeCert, "1m", acmesim.ProfileShortLived))
	cfg.ACME.ARI = false // the lifetime rule alone: renewed at half the lifetime
	clk := e2etest.NewClock(time.Now())
	a, _ := e.loggedApp(t, cfg, clk.Now)
	wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	cur := e.Stored(t, "certferry/web", "AWSCURRENT")
	life := cur.Leaf.NotAfter.Sub(cur.Leaf.NotBefore)
	if life > 7*24*time.Hour || life < 6*24*time.Hour {
		t.Fatalf("lifetime %s, want the 160 h profile", life)
	}
	step := life / 16 // 10 h
	age := time.Duration(0)
	renewals := 0
	for sim := time.Duration(0); sim < 21*24*time.Hour; sim += step {
		age += step
		clk.Set(cur.Leaf.NotBefore.Add(age))
		r := result(t, e.Pass(t, a, renew.Options{}), "web")
		if r.Err() != nil {
			t.Fatalf("age %s: %v", age, r.Err())
		}
		half := age >= life/2
		if renewed := r.Action == renew.ActionRenew; renewed != half {
			t.Fatalf("age %s of %s: action %q reason %q; want a renewal exactly once half the life is gone", age, life, r.Action, r.Reason)
		}
		s := e.Stored(t, "certferry/web", "AWSCURRENT")
		if r.Action == renew.ActionRenew {
			if r.Reason != scheduler.ReasonLifetime || s.Serial == cur.Serial {
				t.Fatalf("age %s: renewed for %q, serial %s (was %s)", age, r.Reason, s.Serial, cur.Serial)
			}
			renewals++
			cur, age = s, 0
			continue
		}
		if !cur.Leaf.NotAfter.After(clk.Now()) {
			t.Fatalf("at simulated age %s the stored certificate has expired", age)
		}
	}
	if renewals < 5 {
		t.Errorf("%d renewals in three weeks of 6-day certificates, want at least 5", renewals)
	}
}

// 8. A CAA refusal is permanent: no retry in a minute but straight to the daily cap,
// on_failure hooks alert, an error says a human is needed, and the old certificate stays.
func TestFaultCAA(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"NewOrder", "Finalize"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			e := newACMEEnv(t, sandbox.Options{})
			script, hookLog, _ := e2etest.HookScript(t, e.Dir)
			clk := e2etest.NewClock(time.Now())
			a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")+`    hooks:
      on_failure:
        - exec: [`+script+`]
`), clk.Now)
			wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
			old := e.Stored(t, "certferry/web", "AWSCURRENT")
			versions := e.VersionCount(t, "certferry/web")
			e.SB.Calls().FailNext("acme", op, 1, calls.Fault{Code: "caa", Status: 403, Message: "CAA record for example.com prevents issuance"})

			r := result(t, e.Pass(t, a, renew.Options{Force: true}), "web")
			if r.Action != renew.ActionFailed || !errors.Is(r.Err(), acme.ErrCAA) || !acme.IsPermanent(r.Err()) {
				t.Fatalf("action %q error %v, want a permanent CAA failure", r.Action, r.Err())
			}
			tags := e.Tags(t, "certferry/web")
			if next := tagTime(t, tags, smsink.TagNextAttempt); next.Before(clk.Now().Add(scheduler.MaxBackoff)) {
				t.Errorf("next attempt %s after a CAA refusal, want at least a day", next.Sub(clk.Now()))
			}
			if got := e2etest.HookRuns(t, hookLog); len(got) != 1 || !strings.HasPrefix(got[0], "run failure web") {
				t.Errorf("on_failure runs: %q", got)
			}
			if got := logs.Lines(`"level":"error"`, "needs a human"); len(got) != 1 {
				t.Errorf("error lines saying a human is needed: %q", got)
			}
			if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial || e.VersionCount(t, "certferry/web") != versions {
				t.Errorf("the stored certificate changed")
			}
			// A day minus a minute later, a pass with a changed config (due at once)
			// still waits.
			orders := e.SB.Calls().Count("acme", "NewOrder")
			clk.Add(scheduler.MaxBackoff - time.Minute)
			b, _ := e.loggedApp(t, e.Config(t, strings.Replace(fmt.Sprintf(acmeCert, "0s", "default"), "[www.example.com]", "[www.example.com, example.com]", 1)), clk.Now)
			if r := result(t, e.Pass(t, b, renew.Options{}), "web"); r.Reason != scheduler.ReasonBackoff || e.SB.Calls().Count("acme", "NewOrder") != orders {
				t.Errorf("a day later: reason %q, %d orders", r.Reason, e.SB.Calls().Count("acme", "NewOrder")-orders)
			}
		})
	}
}

// 9. A certificate whose secret would exceed 64 KiB is refused before any order, with an
// error that names it and the estimated size. A large certificate that fits is issued,
// and its secret is within the estimate.
func TestFaultSecretTooLarge(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	var big, fits []string
	long := strings.Repeat("b", 61)
	for i := range 100 {
		big = append(big, fmt.Sprintf("n%02d%s.%s.%s.example.com", i, strings.Repeat("a", 58), long, long))
	}
	for i := range 20 {
		fits = append(fits, fmt.Sprintf("f%02d%s.example.com", i, strings.Repeat("c", 50)))
	}
	const rsa4096 = "    key_type: rsa4096\n"
	a, _ := e.loggedApp(t, e.Config(t, e2etest.CertsYAML(e2etest.CertYAML("big", big...)+rsa4096, e2etest.CertYAML("fits", fits...)+rsa4096)), nil)
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "big")
	est := renew.EstimateSecretSize(big, "rsa4096")
	if r.Action != renew.ActionFailed || !strings.Contains(r.Error, `certificate "big"`) || !strings.Contains(r.Error, fmt.Sprint(est)) ||
		!strings.Contains(r.Error, "65536") {
		t.Fatalf("big: action %q error %q, want a refusal naming it and %d bytes", r.Action, r.Error, est)
	}
	wantOK(t, sum, "fits", renew.ActionIssue, scheduler.ReasonMissing)
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1 (fits only)", n)
	}
	e.Stored(t, "certferry/fits", "AWSCURRENT")
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/fits")})
	if err != nil {
		t.Fatal(err)
	}
	if size, est := len(aws.ToString(out.SecretString)), renew.EstimateSecretSize(fits, "rsa4096"); size > est {
		t.Errorf("fits: the secret is %d bytes, over its estimate %d", size, est)
	} else {
		t.Logf("fits: secret %d bytes, estimate %d; big: estimate %d", size, est, renew.EstimateSecretSize(big, "rsa4096"))
	}
}

// 10. AccessDenied on the secret is found by the preflight, before any order.
func TestFaultSecretAccessDenied(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	e.SB.SecretsManager().DenyAccess("certferry/x")
	a, _ := e.loggedApp(t, e.Config(t, e2etest.CertsYAML(e2etest.CertYAML("x", "x.example.com"))), nil)
	r := result(t, e.Pass(t, a, renew.Options{}), "x")
	if r.Action != renew.ActionFailed || !strings.Contains(r.Error, "preflight") || !strings.Contains(r.Error, "AccessDenied") {
		t.Fatalf("action %q error %q, want a preflight AccessDenied", r.Action, r.Error)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders, want 0", n)
	}
}

// 11. The pass is cancelled (SIGTERM) in the middle of an order: while Route 53's change
// is PENDING, and while finalize hangs. The pass returns promptly, removes its records,
// writes no secret version, and deactivates the pending authorizations it leaves.
func TestFaultCancelMidOrder(t *testing.T) {
	t.Parallel()
	// The pass is cancelled while it waits on something that lasts at least stuck; it must
	// return well before the wait would have ended on its own.
	const stuck = time.Minute
	for _, tc := range []struct {
		name  string
		opts  sandbox.Options
		fault func(c *calls.Registry)
		wait  func(c *calls.Registry) bool // the pass is where the test cancels it
	}{
		{"insync-pending", sandbox.Options{InsyncAfter: 10 * stuck}, func(*calls.Registry) {},
			func(c *calls.Registry) bool { return c.Count("route53", "GetChange") >= 1 }},
		{"finalize-hangs", sandbox.Options{}, func(c *calls.Registry) {
			c.FailNext("acme", "Finalize", 1, calls.Fault{Hang: stuck})
		}, func(c *calls.Registry) bool { return c.Count("acme", "Finalize") >= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newACMEEnv(t, tc.opts)
			a, logs := e.loggedApp(t, e.Config(t, fmt.Sprintf(acmeCert, "24h", "default")), nil)
			tc.fault(e.SB.Calls())
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			type out struct {
				sum *renew.Summary
				err error
			}
			done := make(chan out, 1)
			go func() {
				s, err := a.Runner.Pass(ctx, renew.Options{})
				done <- out{s, err}
			}()
			// Reaching the fault takes less than a whole pass without Route 53's wait.
			reach := e2etest.PassBound(sandbox.Options{})
			deadline := time.Now().Add(reach)
			for !tc.wait(e.SB.Calls()) {
				if time.Now().After(deadline) {
					t.Fatalf("the pass never reached the fault: %s", e.SB.Calls())
				}
				select {
				case o := <-done:
					t.Fatalf("the pass ended before the fault: %+v %v", o.sum, o.err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			cancel()
			cancelled := time.Now()
			var o out
			select {
			case o = <-done:
			case <-time.After(stuck):
				t.Fatalf("the pass did not return within %s of the cancellation: it waited out the fault", stuck)
			}
			took := time.Since(cancelled)
			if took > stuck/2 {
				t.Errorf("the pass took %s to return after the cancellation", took)
			}
			if o.err != nil {
				t.Fatalf("Pass: %v", o.err)
			}
			r := result(t, o.sum, "web")
			if r.Action != renew.ActionFailed || !errors.Is(r.Err(), context.Canceled) {
				t.Errorf("action %q error %v, want failed with context.Canceled", r.Action, r.Err())
			}
			e.NoChallengeLeft(t)
			if n := e.VersionCount(t, "certferry/web"); n != 0 {
				t.Errorf("the secret has %d versions, want none", n)
			}
			if tc.name == "insync-pending" {
				// One authorization read by Begin, one deactivation.
				if n := e.SB.Calls().Count("acme", "Authorization"); n != 2 || len(logs.Lines("deactivated pending authorizations")) != 1 {
					t.Errorf("authorizations: %d requests (want 2: read, deactivate), deactivation logged %d times", n, len(logs.Lines("deactivated pending authorizations")))
				}
			}
			t.Logf("returned %s after the cancellation; calls: %s", took, e.SB.Calls())
		})
	}
}
