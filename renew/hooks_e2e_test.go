package renew_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sandbox"
	"github.com/certferry/certferry/scheduler"
)

// hookScript writes an exec hook that appends its CERTFERRY_* environment to log, and
// exits 1 while the file fail exists.
func hookScript(t *testing.T, dir string) (script, log, fail string) {
	t.Helper()
	script = filepath.Join(dir, "hook.sh")
	log = filepath.Join(dir, "hook.log")
	fail = filepath.Join(dir, "hook.fail")
	body := "#!/bin/sh\n" +
		"echo \"run $CERTFERRY_EVENT $CERTFERRY_NAME $CERTFERRY_VERSION_ID $CERTFERRY_DOMAINS $CERTFERRY_SECRET_ARN\" >> " + log + "\n" +
		"env | grep -c 'PRIVATE KEY' >> " + log + "\n" +
		"if [ -e " + fail + " ]; then echo 'redeploy failed' >&2; exit 1; fi\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log, fail
}

func runs(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "run ") {
			out = append(out, l)
		} else if l != "0" {
			t.Fatalf("a hook's environment held key material: %q", l)
		}
	}
	return out
}

// TestE2EHooks: on_renew hooks run once per new secret version, only after the secret
// was stored, in order; a failing hook makes the pass fail, is retried on the next pass
// without a new certificate, and is not run again once it succeeded. The webhook's
// signature verifies.
func TestE2EHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, log, fail := hookScript(t, e.Dir)

	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !hooks.VerifySignature(body, r.Header.Get("X-Certferry-Signature"), "s3cret") {
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

	cfg := e.Config(t, `issuance_guard: 0s
certificates:
  - name: web
    domains: [www.example.com]
    profile: default
    sinks:
      secretsmanager: { secret: certferry/web }
    hooks:
      on_renew:
        - exec: [`+script+`]
        - webhook: { url: `+hook.URL+`/deploy, secret: s3cret }
`)
	a := e.App(t, cfg)

	// Pass 1: issued, stored, both hooks run once.
	sum := e.Pass(t, a, renew.Options{})
	r := wantOK(t, sum, "web", renew.ActionIssue, scheduler.ReasonMissing)
	if got := runs(t, log); len(got) != 1 || !strings.Contains(got[0], "run renew web "+r.VersionID+" www.example.com arn:aws:secretsmanager:") {
		t.Fatalf("exec hook runs after pass 1: %q", got)
	}
	if len(bodies) != 1 || len(r.Hooks) != 2 || r.Hooks[0].Status != hooks.StatusOK || r.Hooks[1].Status != hooks.StatusOK {
		t.Fatalf("pass 1 hooks: %d webhook calls, results %+v", len(bodies), r.Hooks)
	}

	// Pass 2: nothing due, no hook runs again.
	sum = e.Pass(t, a, renew.Options{})
	if res := result(t, sum, "web"); res.Action != renew.ActionSkip || len(res.Hooks) != 0 || len(runs(t, log)) != 1 {
		t.Fatalf("pass 2: %+v, exec runs %d", res, len(runs(t, log)))
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
	if got := runs(t, log); len(got) != 4 || !strings.Contains(got[3], r3.VersionID) {
		t.Fatalf("exec runs: %q", got)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != orders {
		t.Fatalf("hook retries placed %d new orders", n-orders)
	}
	// Pass 6: all done.
	sum = e.Pass(t, a, renew.Options{})
	if res := result(t, sum, "web"); res.Action != renew.ActionSkip || len(runs(t, log)) != 4 {
		t.Fatalf("pass 6: %+v", res)
	}
}

// TestE2EFailureHookAndBackoffOfNewCertificate: a certificate that fails before it was
// ever stored runs its on_failure hooks and backs off: the next pass places no order.
// The backoff state lives in a secret created without a value.
func TestE2EFailureHookAndBackoffOfNewCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, log, _ := hookScript(t, e.Dir)
	cfg := e.Config(t, `certificates:
  - name: lost
    domains: [www.example.org]
    profile: default
    sinks:
      secretsmanager: { secret: certferry/lost }
    hooks:
      on_failure:
        - exec: [`+script+`]
`)
	now := time.Now()
	clock := func() time.Time { return now }
	a := e.AppWith(t, cfg, clock, nil)
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "lost")
	if r.Action != renew.ActionFailed || len(r.Hooks) != 1 || r.Hooks[0].Status != hooks.StatusOK {
		t.Fatalf("pass 1: %+v", r)
	}
	if got := runs(t, log); len(got) != 1 || !strings.HasPrefix(got[0], "run failure lost") {
		t.Fatalf("on_failure runs: %q", got)
	}
	orders := e.SB.Calls().Count("acme", "NewOrder")
	desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/lost")})
	if err != nil || len(desc.VersionIdsToStages) != 0 {
		t.Fatalf("state secret: %v, versions %v", err, desc.VersionIdsToStages)
	}

	// A second runner (a new process) sees the backoff and orders nothing.
	b := e.AppWith(t, cfg, clock, nil)
	sum = e.Pass(t, b, renew.Options{})
	if r := result(t, sum, "lost"); r.Reason != scheduler.ReasonBackoff || r.Action != renew.ActionSkip {
		t.Fatalf("second runner: %+v", r)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != orders {
		t.Fatalf("backoff ignored: %d new orders", n-orders)
	}
	// After the first step (about a minute), it tries again.
	now = now.Add(2 * time.Minute)
	sum = e.Pass(t, b, renew.Options{})
	if r := result(t, sum, "lost"); r.Action != renew.ActionFailed || r.Reason != scheduler.ReasonMissing {
		t.Fatalf("after the backoff: %+v", r)
	}
}
