package renew_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The onboarding scenario at test scale. The issue's shape (60 names under one
// registered domain and 10 under another, 20 per domain per 30 s, 30 new orders per
// 60 s: done after 120 s) is scaled by a fifth in counts and windows, so that it fits
// the suite on a loaded 2-core machine: 12 names under example.com and 2 under
// example.net, 4 per registered domain per window W and 6 new orders per 2W. The
// arithmetic: 6 at 0 (4 + 2), 4 at 2W, 2 at 3W, 2 at 4W: done after 4W plus the
// passes. W is long against a pass of 6 orders (a few seconds), so every pass but the
// last holds certificates back.
const (
	onboardWindow = 5 * time.Second
	onboardA      = 12
	onboardB      = 2
)

var onboardLimits = limitsim.Limits{
	PerDomain: limitsim.Limit{N: 4, Window: onboardWindow},
	NewOrders: limitsim.Limit{N: 6, Window: 2 * onboardWindow},
}

// onboardArithmetic is when the last certificate is ordered, by the arithmetic above.
const onboardArithmetic = 4 * onboardWindow

// limitsConfig is configYAML with acme.limits (empty: none) and no issuance guard.
func limitsConfig(limits string) string {
	base := strings.Replace(configYAML, "  issuer_roots: {{issuer}}\n", "  issuer_roots: {{issuer}}\n"+limits, 1)
	return base + "issuance_guard: 0s\n"
}

func onboardCerts() string {
	var entries []string
	for i := range onboardA {
		entries = append(entries, certYAML(fmt.Sprintf("a%02d", i), fmt.Sprintf("a%02d.example.com", i)))
	}
	for i := range onboardB {
		entries = append(entries, certYAML(fmt.Sprintf("b%02d", i), fmt.Sprintf("b%02d.example.net", i)))
	}
	return certsYAML(entries...)
}

// waitUntil polls the clock until t, bounded by the wait itself plus a step.
func waitUntil(t *testing.T, until time.Time) {
	t.Helper()
	e2etest.Eventually(t, testwait.For(time.Until(until)), "the CA's window to free", func() bool { return !time.Now().Before(until) })
}

// onboard runs one-shot passes (each with an app of its own, as `certferry renew` runs
// are) until every certificate is stored, each pass starting when the last one says
// the window frees. It returns the passes' summaries.
func onboard(t *testing.T, e *env, cfg *config.Config) []*renew.Summary {
	t.Helper()
	total := onboardA + onboardB
	stored := 0
	var sums []*renew.Summary
	for pass := 0; stored < total; pass++ {
		if pass > total {
			t.Fatalf("%d passes and only %d of %d stored", pass, stored, total)
		}
		sum := e.Pass(t, e.App(t, cfg), renew.Options{})
		sums = append(sums, sum)
		if sum.Failing() != 0 {
			t.Fatalf("pass %d: %d failing: %v", pass, sum.Failing(), sum.Err())
		}
		for _, r := range sum.Results {
			switch r.Action {
			case renew.ActionIssue:
				stored++
			case renew.ActionWait:
				if r.Condition != renew.ConditionDue || r.WaitingUntil.IsZero() || !strings.Contains(r.Message, "waiting for the CA's limit until") {
					t.Errorf("pass %d: %s waits as %s until %v: %q", pass, r.Name, r.Condition, r.WaitingUntil, r.Message)
				}
			}
		}
		if stored < total {
			if sum.Waiting() == 0 {
				t.Fatalf("pass %d: %d of %d stored and none waiting", pass, stored, total)
			}
			waitUntil(t, sum.WaitUntil())
		}
	}
	return sums
}

// TestE2ELimitsOnboarding: with acme.limits set to the CA's limits, the certificates
// issue over successive one-shot passes with no rateLimited answer, each pass ordering
// no more than the windows allow and the others waiting (not failing, exit 0), all
// stored by the time the arithmetic says (plus a pass bound per pass).
func TestE2ELimitsOnboarding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Limits: onboardLimits})
	e.Base = limitsConfig(fmt.Sprintf("  limits: { per_registered_domain: 4/%s, new_orders: 6/%s }\n", onboardWindow, 2*onboardWindow))
	cfg := e.Config(t, onboardCerts())
	start := time.Now()
	sums := onboard(t, e, cfg)
	took := time.Since(start)
	if n := e.SB.Calls().Count("acme", "RateLimited"); n != 0 {
		t.Errorf("%d rateLimited answers, want none", n)
	}
	if len(sums) < 3 {
		t.Errorf("%d passes: the limits held nothing back", len(sums))
	}
	for i, s := range sums {
		issued := 0
		for _, r := range s.Results {
			if r.Action == renew.ActionIssue {
				issued++
			}
		}
		if issued > onboardLimits.NewOrders.N {
			t.Errorf("pass %d ordered %d, more than the %d new orders a window allows", i, issued, onboardLimits.NewOrders.N)
		}
	}
	if bound := onboardArithmetic + time.Duration(len(sums))*e.PassBound(); took > bound {
		t.Errorf("took %s over %d passes; the arithmetic says %s (bound %s)", took, len(sums), onboardArithmetic, bound)
	}
	t.Logf("%d passes in %s; arithmetic minimum %s", len(sums), took.Round(time.Millisecond), onboardArithmetic)
}

// TestE2ELimitsUnknown: with the CA's limits unknown to certferry, the same load meets
// at most one rateLimited answer per pass (new orders stop at the first, and the others
// wait until its Retry-After, not failing) and still completes.
func TestE2ELimitsUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Limits: onboardLimits})
	e.Base = limitsConfig("")
	cfg := e.Config(t, onboardCerts())
	before := 0
	total := onboardA + onboardB
	stored := 0
	for pass := 0; stored < total; pass++ {
		if pass > 2*total {
			t.Fatalf("%d passes and only %d of %d stored", pass, stored, total)
		}
		sum := e.Pass(t, e.App(t, cfg), renew.Options{})
		if sum.Failing() != 0 {
			t.Fatalf("pass %d: %d failing: %v", pass, sum.Failing(), sum.Err())
		}
		now := e.SB.Calls().Count("acme", "RateLimited")
		if now-before > 1 {
			t.Errorf("pass %d met %d rateLimited answers, want at most one", pass, now-before)
		}
		before = now
		for _, r := range sum.Results {
			if r.Action == renew.ActionIssue {
				stored++
			}
		}
		if stored < total {
			waitUntil(t, sum.WaitUntil())
		}
	}
	if before == 0 {
		t.Error("no rateLimited answer: the load never met the CA's limits")
	}
}

// TestE2ELimitsARIRenewalsPass: renewals inside the CA's ARI window (with replaces,
// exempt at the CA) are ordered while a first issuance under the same registered
// domain waits for the domain's window; the CA answers no rateLimited.
func TestE2ELimitsARIRenewalsPass(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	const window = time.Hour // nothing frees during the test
	e := newEnv(t, sandbox.Options{Limits: limitsim.Limits{PerDomain: limitsim.Limit{N: 2, Window: window}}})
	e.Base = limitsConfig("  limits: { per_registered_domain: 2/1h }\n")
	old := []string{certYAML("r1", "r1.example.com"), certYAML("r2", "r2.example.com")}
	sum := e.Pass(t, e.App(t, e.Config(t, certsYAML(old...))), renew.Options{})
	for _, name := range []string{"r1", "r2"} {
		wantOK(t, sum, name, renew.ActionIssue, "missing")
		cur := e.Stored(t, "certferry/"+name, "AWSCURRENT")
		now := time.Now()
		if err := e.SB.CA().SetRenewalInfo(t.Context(), []byte(cur.Cert), now.Add(-48*time.Hour), now.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// certferry asks ARI again once certferry:ari-next has passed (6 h after issuance).
		if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/" + name),
			Tags: []smtypes.Tag{{Key: aws.String(smsink.TagARINext), Value: aws.String(now.Add(-time.Minute).UTC().Format(time.RFC3339))}}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.Config(t, certsYAML(append(old, certYAML("n1", "n1.example.com"))...))
	sum = e.Pass(t, e.App(t, cfg), renew.Options{})
	for _, name := range []string{"r1", "r2"} {
		wantOK(t, sum, name, renew.ActionRenew, "ari-window")
	}
	r := result(t, sum, "n1")
	if r.Action != renew.ActionWait || r.Condition != renew.ConditionDue || !strings.Contains(r.Message, "(per_registered_domain)") {
		t.Errorf("n1: %s %s %q, want waiting for per_registered_domain", r.Action, r.Condition, r.Message)
	}
	if got := time.Until(r.WaitingUntil); got <= 0 || got > window {
		t.Errorf("n1 waits %s, want within the window", got)
	}
	if sum.Failing() != 0 {
		t.Errorf("%d failing", sum.Failing())
	}
	if n := e.SB.Calls().Count("acme", "RateLimited"); n != 0 {
		t.Errorf("%d rateLimited answers", n)
	}
}

// TestE2ELimitsARIRenewalsPassTheCAStop: after the CA answered a first issuance's new
// order rateLimited, the renewals inside their ARI window (exempt at the CA) are still
// ordered in the process's next pass, while the first issuance waits for the
// Retry-After; the CA answers no second rateLimited.
func TestE2ELimitsARIRenewalsPassTheCAStop(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	const window = time.Hour // nothing frees during the test
	e := newEnv(t, sandbox.Options{Limits: limitsim.Limits{PerDomain: limitsim.Limit{N: 1, Window: window}}})
	e.Base = limitsConfig("") // the CA's limits unknown to certferry
	app := e.App(t, e.Config(t, certsYAML(certYAML("r1", "r1.example.com"), certYAML("n1", "n1.example.com"))))
	sum := e.Pass(t, app, renew.Options{})
	if got := e.SB.Calls().Count("acme", "RateLimited"); got != 1 {
		t.Fatalf("%d rateLimited answers in the first pass, want 1", got)
	}
	ordered := "r1"
	if r := result(t, sum, "r1"); r.Action == renew.ActionWait {
		ordered = "n1"
	}
	cur := e.Stored(t, "certferry/"+ordered, "AWSCURRENT")
	now := time.Now()
	if err := e.SB.CA().SetRenewalInfo(t.Context(), []byte(cur.Cert), now.Add(-48*time.Hour), now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/" + ordered),
		Tags: []smtypes.Tag{{Key: aws.String(smsink.TagARINext), Value: aws.String(now.Add(-time.Minute).UTC().Format(time.RFC3339))}}}); err != nil {
		t.Fatal(err)
	}
	sum = e.Pass(t, app, renew.Options{})
	wantOK(t, sum, ordered, renew.ActionRenew, "ari-window")
	for _, r := range sum.Results {
		if r.Name != ordered && (r.Action != renew.ActionWait || r.Condition != renew.ConditionDue) {
			t.Errorf("%s: %s %s %q, want waiting for the CA's Retry-After", r.Name, r.Action, r.Condition, r.Message)
		}
	}
	if got := e.SB.Calls().Count("acme", "RateLimited"); got != 1 {
		t.Errorf("%d rateLimited answers, want 1", got)
	}
}
