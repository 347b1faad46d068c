package renew_test

import (
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

	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestE2EHooks: on_renew hooks run once per new secret version, only after the secret
// was stored, in order; a failing hook makes the pass fail, is retried on the next pass
// without a new certificate, and is not run again once it succeeded. The webhook's
// signature verifies.
func TestE2EHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, log, fail := e2etest.HookScript(t, e.Dir)

	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if hooks.Sign(body, "s3cret") != r.Header.Get("X-Certferry-Signature") {
			t.Errorf("webhook signature %q does not verify", r.Header.Get("X-Certferry-Signature"))
		}
		// The secret must already hold the version the webhook announces.
		out, err := e.SM.GetSecretValue(r.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web")})
		if err != nil || !strings.Contains(string(body), aws.ToString(out.VersionId)) {
			t.Errorf("webhook ran before the version was current: %v %s", err, body)
		}
		// Hooks run after the pass removed its TXT records.
		for _, id := range e.Info.Zones {
			for _, rs := range e.SB.Route53().Records(id) {
				if strings.HasPrefix(rs.Name, "_acme-challenge.") {
					t.Errorf("webhook ran while %s was still published", rs.Name)
				}
			}
		}
		mu.Lock()
		bodies = append(bodies, string(body))
		mu.Unlock()
	}))
	defer hook.Close()

	cfg := e.Config(t, "issuance_guard: 0s\n"+certsYAML(certYAML("web", "www.example.com")+`    hooks:
      on_renew:
        - exec: [`+script+`]
        - webhook: { url: `+hook.URL+`/deploy, secret: s3cret }
`))
	a := e.App(t, cfg)

	// Pass 1: issued, stored, both hooks run once.
	sum := e.Pass(t, a, renew.Options{})
	r := wantOK(t, sum, "web", renew.ActionIssue, scheduler.ReasonMissing)
	if got := e2etest.HookRuns(t, log); len(got) != 1 || !strings.Contains(got[0], "run renew web "+r.VersionID+" www.example.com arn:aws:secretsmanager:") {
		t.Fatalf("exec hook runs after pass 1: %q", got)
	}
	if len(bodies) != 1 || len(r.Hooks) != 2 || r.Hooks[0].Status != hooks.StatusOK || r.Hooks[1].Status != hooks.StatusOK {
		t.Fatalf("pass 1 hooks: %d webhook calls, results %+v", len(bodies), r.Hooks)
	}

	// Pass 2: nothing due, no hook runs again.
	sum = e.Pass(t, a, renew.Options{})
	if res := result(t, sum, "web"); res.Action != renew.ActionSkip || len(res.Hooks) != 0 || len(e2etest.HookRuns(t, log)) != 1 {
		t.Fatalf("pass 2: %+v, exec runs %d", res, len(e2etest.HookRuns(t, log)))
	}

	// Pass 3: forced renewal while the exec hook fails: the secret moves on, the hook
	// fails, the webhook after it is held back, and the pass fails.
	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sum = e.Pass(t, a, renew.Options{Force: true})
	r3 := result(t, sum, "web")
	if r3.HookError == "" || !strings.Contains(r3.HookError, "exit") || sum.HookFailures() != 1 || r3.VersionID == r.VersionID {
		t.Fatalf("pass 3: %+v", r3)
	}
	if r3.Hooks[1].Status != hooks.StatusBlocked || len(bodies) != 1 {
		t.Fatalf("pass 3: webhook should be held back: %+v, %d calls", r3.Hooks, len(bodies))
	}
	orders := e.SB.Calls().Count("acme", "NewOrder")

	// Pass 4: still failing: retried, no new certificate.
	sum = e.Pass(t, a, renew.Options{})
	if res := result(t, sum, "web"); res.Action != renew.ActionHooks || res.HookError == "" {
		t.Fatalf("pass 4: %+v", res)
	}
	// Pass 5: fixed: the exec hook and then the webhook run for the version of pass 3.
	if err := os.Remove(fail); err != nil {
		t.Fatal(err)
	}
	sum = e.Pass(t, a, renew.Options{})
	r5 := result(t, sum, "web")
	if r5.Action != renew.ActionHooks || r5.HookError != "" || len(bodies) != 2 || !strings.Contains(bodies[1], r3.VersionID) {
		t.Fatalf("pass 5: %+v, webhook bodies %d", r5, len(bodies))
	}
	if got := e2etest.HookRuns(t, log); len(got) != 4 || !strings.Contains(got[3], r3.VersionID) {
		t.Fatalf("exec runs: %q", got)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != orders {
		t.Fatalf("hook retries placed %d new orders", n-orders)
	}
	// Pass 6: all done.
	sum = e.Pass(t, a, renew.Options{})
	if res := result(t, sum, "web"); res.Action != renew.ActionSkip || len(e2etest.HookRuns(t, log)) != 4 {
		t.Fatalf("pass 6: %+v", res)
	}
}

// TestE2EBlockedStaysVisible: a certificate whose name is in no hosted zone is stopped
// before any order, on every pass, and stays failing until it is fixed: each pass
// reports it failing (with the time it started failing), its on_failure hooks hear of
// the problem once, no order is ever placed, and no pass "skips" it quietly. A second
// runner sees the same. Once the zone exists, the next pass issues it and it is ready.
func TestE2EBlockedStaysVisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, log, _ := e2etest.HookScript(t, e.Dir)
	cfg := e.Config(t, certsYAML(certYAML("lost", "www.example.org")+`    hooks:
      on_failure:
        - exec: [`+script+`]
`))
	now := time.Now()
	clock := func() time.Time { return now }
	logs, logger := e2etest.DebugLog(t)
	a := e.AppWith(t, cfg, clock, logger)
	var since time.Time
	for pass := 1; pass <= 3; pass++ {
		runner := a
		if pass == 2 {
			runner = e.AppWith(t, cfg, clock, logger) // a second runner sees the same
		}
		sum := e.Pass(t, runner, renew.Options{})
		r := result(t, sum, "lost")
		if r.Condition != renew.ConditionFailing || r.Reason != renew.ReasonPreflight || !strings.Contains(r.LastError, "no hosted zone") ||
			sum.Failing() != 1 || r.FailingSince.IsZero() {
			t.Fatalf("pass %d: %+v", pass, r)
		}
		if pass == 1 {
			since = r.FailingSince
		} else if !r.FailingSince.Equal(since.Truncate(time.Second)) && !r.FailingSince.Equal(since) {
			t.Errorf("pass %d: failing since %s, want %s", pass, r.FailingSince, since)
		}
		now = now.Add(25 * time.Hour) // past any backoff
	}
	if got := e2etest.HookRuns(t, log); len(got) != 1 || !strings.HasPrefix(got[0], "run failure lost") {
		t.Fatalf("on_failure runs: %q, want one for the one problem", got)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Fatalf("%d orders for a certificate that cannot be validated", n)
	}
	// Nothing was published, so nothing was "left behind".
	if l := logs.Lines("left behind"); len(l) != 0 || len(logs.Lines("not ordered", "www.example.org")) == 0 {
		t.Errorf("log: %q; want no \"left behind\" line, and the refusal naming the name", l)
	}
	// The problem is kept in a secret without a value, for every runner to see.
	desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/lost")})
	if err != nil || len(desc.VersionIdsToStages) != 0 {
		t.Fatalf("state secret: %v, versions %v", err, desc.VersionIdsToStages)
	}

	// Fixed: the zone is created. The next pass (a minute later: the zone list is
	// refreshed at most once a minute) issues it.
	r53 := awsroute53.NewFromConfig(e.AWS)
	if _, err := r53.CreateHostedZone(t.Context(), &awsroute53.CreateHostedZoneInput{Name: aws.String("example.org"), CallerReference: aws.String("fix")}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	sum := e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "lost"); r.Condition != renew.ConditionReady || r.Action != renew.ActionIssue || r.LastError != "" || sum.Failing() != 0 {
		t.Fatalf("after the fix: %+v", r)
	}
}
