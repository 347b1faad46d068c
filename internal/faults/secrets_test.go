package faults_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

func webWithFailureHook(script string) string {
	return webCert + "    hooks:\n      on_failure:\n        - exec: [" + script + "]\n"
}

// Scenario 4: the first write of an issued certificate fails (InternalServiceError on
// every attempt the SDK makes): the pass fails loudly (on_failure hook, an error naming
// the secret in the summary the Lambda returns), the certificate stays in memory, and
// the next pass stores that same certificate without a new order.
func TestSecretPutFailsAfterIssue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, hookLog, _ := e2etest.HookScript(t, e.Dir)
	a := e.App(t, e.Config(t, webWithFailureHook(script)))
	// The ACME account secret is created first, so that the faults hit the certificate's.
	if _, err := a.ACME(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The journal of the pass's DNS-01 records creates the secret (without a value)
	// before the order, so the first write of the certificate is a PutSecretValue.
	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 3, calls.Fault{Code: "InternalServiceError", Status: 500, Message: "internal error"})
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if r.Action != renew.ActionFailed || sum.Failed() != 1 || !strings.Contains(sum.Err().Error(), "certferry/web") {
		t.Fatalf("pass 1: %+v; summary error %v", r, sum.Err())
	}
	if got := e2etest.HookRuns(t, hookLog); len(got) != 1 || !strings.HasPrefix(got[0], "run failure web ") {
		t.Errorf("on_failure runs: %q", got)
	}
	orders := e.orders()

	sum = e.Pass(t, a, renew.Options{})
	r = result(t, sum, "web")
	if r.Err() != nil || r.Action != renew.ActionStore || r.Reason != renew.ReasonUnstored {
		t.Fatalf("pass 2: %+v", r)
	}
	if e.orders() != orders {
		t.Errorf("pass 2 placed %d orders", e.orders()-orders)
	}
	cur := e.Stored(t, "certferry/web", "AWSCURRENT")
	// The certificate stored is the one issued (and logged) by pass 1.
	if !strings.Contains(e.logs.String(), `"msg":"issued","cert":"web","domains":["www.example.com"],"not_after":`) ||
		strings.Count(e.logs.String(), `"serial":"`+cur.Serial+`"`) < 2 {
		t.Errorf("stored serial %s is not the one issued by pass 1", cur.Serial)
	}
}

// Scenario 4, renewal: PutSecretValue answers EncryptionFailure (not retried by the
// SDK); the old certificate stays current, and the next pass stores the new one
// without a new order.
func TestSecretPutEncryptionFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, hookLog, _ := e2etest.HookScript(t, e.Dir)
	a := e.App(t, e.Config(t, webWithFailureHook(script)))
	e.Pass(t, a, renew.Options{})
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 1, calls.Fault{Code: "EncryptionFailure", Status: 400, Message: "KMS key disabled"})
	sum := e.Pass(t, a, renew.Options{Force: true})
	if r := result(t, sum, "web"); r.Action != renew.ActionFailed || !strings.Contains(r.Error, "certferry/web") || !strings.Contains(r.Error, "EncryptionFailure") {
		t.Fatalf("pass 2: %+v", r)
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial {
		t.Fatalf("AWSCURRENT moved after a failed write")
	}
	if got := e2etest.HookRuns(t, hookLog); len(got) != 1 {
		t.Errorf("on_failure runs: %q", got)
	}
	orders := e.orders()
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Err() != nil || r.Action != renew.ActionStore {
		t.Fatalf("pass 3: %+v", r)
	}
	if e.orders() != orders {
		t.Errorf("pass 3 placed %d orders", e.orders()-orders)
	}
	if prev := e.Stored(t, "certferry/web", "AWSPREVIOUS"); prev.Serial != old.Serial {
		t.Errorf("AWSPREVIOUS is not the old certificate")
	}
	if n := len(e.versions(t, "certferry/web")); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
}

// Scenario 5: a runner whose write was interrupted. Its tags refused (the one tag write,
// after the hooks): the certificate is stored and current, and the next runner, a fresh
// process, reads the value, orders nothing and writes the tags. Its move of AWSCURRENT
// refused: the pass fails, and the next pass finishes the write idempotently, with
// exactly one new version and no new order.
func TestSecretInterruptedWrite(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"TagResource", "UpdateSecretVersionStage"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			cfg := e.Config(t, webCert)
			a := e.App(t, cfg)
			e.Pass(t, a, renew.Options{})
			old := e.Stored(t, "certferry/web", "AWSCURRENT")
			// The first TagResource is the preflight's check that the state can be
			// written, the second journals the pass's DNS-01 records; the tag write of
			// the stored certificate comes after them. Every call after that one fails
			// (retries included, however the client spreads them), until the pass is over.
			skip := 0
			if op == "TagResource" {
				skip = 2
			}
			e.SB.Calls().FailAfter("secretsmanager", op, skip, 1000, calls.Fault{Code: "InternalServiceError", Status: 500})
			sum := e.Pass(t, e.App(t, cfg), renew.Options{Force: true})
			e.SB.Calls().DropFaults()
			orders := e.orders()
			if op == "TagResource" {
				if r := result(t, sum, "web"); r.Err() != nil || r.Action != renew.ActionRenew {
					t.Fatalf("pass 2: %+v", r)
				}
				// The value is current, the tags are stale: a new process reads the value,
				// finds nothing due, and writes the tags.
				if r := result(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web"); r.Err() != nil || r.Action != renew.ActionSkip {
					t.Fatalf("fresh runner: %+v", r)
				}
			} else {
				if r := result(t, sum, "web"); r.Action != renew.ActionFailed {
					t.Fatalf("pass 2: %+v", r)
				}
				if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial {
					t.Fatalf("AWSCURRENT moved although the swap failed")
				}
				if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Err() != nil || r.Action != renew.ActionStore {
					t.Fatalf("pass 3: %+v", r)
				}
			}
			if e.orders() != orders {
				t.Errorf("%d new orders", e.orders()-orders)
			}
			vs := e.versions(t, "certferry/web")
			if len(vs) != 2 {
				t.Errorf("versions = %v, want the old one and one new", vs)
			}
			cur := e.Stored(t, "certferry/web", "AWSCURRENT")
			if cur.Serial == old.Serial || !slices.Contains(vs[cur.VersionID], "AWSCURRENT") {
				t.Errorf("AWSCURRENT %s, stages %v", cur.Serial, vs)
			}
			inv, err := smsink.New(e.SM, nil, smsink.Options{}).Inventory(t.Context())
			if err != nil || !inv["certferry/web"].TagsCurrent || inv["certferry/web"].Serial != cur.Serial {
				t.Errorf("tags not repaired: %+v %v", inv["certferry/web"], err)
			}
		})
	}
}

// Scenario 6: two runners renew the same certificate at the same moment (--force on
// both). Both order, but only one new version is stored: the other finds an
// equivalent certificate stored since it planned, keeps it and reports the lost race.
func TestTwoRunnersRace(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, webCert)
	a, b := e.App(t, cfg), e.App(t, cfg)
	e.Pass(t, a, renew.Options{})
	old := e.Stored(t, "certferry/web", "AWSCURRENT")

	var wg sync.WaitGroup
	sums := make([]*renew.Summary, 2)
	for i, x := range []interface {
		Pass(context.Context, renew.Options) (*renew.Summary, error)
	}{a.Runner, b.Runner} {
		wg.Go(func() {
			s, err := x.Pass(t.Context(), renew.Options{Force: true})
			if err != nil {
				t.Errorf("runner %d: %v", i, err)
			}
			sums[i] = s
		})
	}
	wg.Wait()
	e.NoChallengeLeft(t)
	lost := 0
	for i, s := range sums {
		r := result(t, s, "web")
		if r.Err() != nil {
			t.Errorf("runner %d: %v", i, r.Err())
		}
		if strings.Contains(r.Message, "lost the race") {
			lost++
			// Reported as such, and the certificate is ready: the winner's is kept.
			if r.Action != renew.ActionLostRace || r.Condition != renew.ConditionReady || r.NotAfter.IsZero() {
				t.Errorf("the loser's result: %+v", r)
			}
		}
	}
	cur := e.Stored(t, "certferry/web", "AWSCURRENT")
	prev := e.Stored(t, "certferry/web", "AWSPREVIOUS")
	if lost != 1 || cur.Serial == old.Serial || prev.Serial != old.Serial {
		t.Errorf("lost races %d; AWSCURRENT %s, AWSPREVIOUS %s (old %s)", lost, cur.Serial, prev.Serial, old.Serial)
	}
	labelled := 0
	for _, st := range e.versions(t, "certferry/web") {
		if len(st) > 0 {
			labelled++
		}
		if slices.Contains(st, smsink.StagePending) {
			t.Errorf("a pending label was left: %v", st)
		}
	}
	if labelled != 2 {
		t.Errorf("%d labelled versions, want 2", labelled)
	}
	// Without a lease both runners order (see sinks/secretsmanager's package doc).
	if n := e.orders(); n != 3 {
		t.Logf("orders = %d", n)
	}
}

// Scenario 7: the version quota (LimitExceededException) refuses the write on every
// bounded attempt: an alert (on_failure hook, error log), the stored versions untouched,
// the certificate kept in memory and stored by the next pass without a new order.
func TestSecretVersionQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	script, hookLog, _ := e2etest.HookScript(t, e.Dir)
	a := e.App(t, e.Config(t, webWithFailureHook(script)))
	e.Pass(t, a, renew.Options{})
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	puts := e.SB.Calls().Count("secretsmanager", "PutSecretValue")
	// The SDK retries LimitExceededException itself (3 attempts, a throttling code);
	// the sink makes 3 such attempts: 9 refusals in all.
	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 9, calls.Fault{Code: "LimitExceededException", Status: 400,
		Message: "You have exceeded the maximum number of versions"})
	sum := e.Pass(t, a, renew.Options{Force: true})
	r := result(t, sum, "web")
	if !errors.Is(r.Err(), smsink.ErrVersionQuota) || !strings.Contains(r.Error, "certferry/web") {
		t.Fatalf("pass 2: %+v", r)
	}
	if n := e.SB.Calls().Count("secretsmanager", "PutSecretValue") - puts; n != 9 {
		t.Errorf("%d PutSecretValue attempts, want 9", n)
	}
	if got := e2etest.HookRuns(t, hookLog); len(got) != 1 || !strings.Contains(e.logs.String(), `"level":"error","ts"`) {
		t.Errorf("no alert: on_failure runs %q", got)
	}
	if vs := e.versions(t, "certferry/web"); len(vs) != 1 || e.Stored(t, "certferry/web", "AWSCURRENT").Serial != old.Serial {
		t.Errorf("versions touched: %v", vs)
	}
	orders := e.orders()
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Err() != nil || r.Action != renew.ActionStore {
		t.Fatalf("pass 3: %+v", r)
	}
	if e.orders() != orders {
		t.Errorf("%d new orders", e.orders()-orders)
	}
	if prev := e.Stored(t, "certferry/web", "AWSPREVIOUS"); prev.Serial != old.Serial {
		t.Error("AWSPREVIOUS is not the old certificate")
	}
}

// Scenario 8: a stored value that is not JSON is never silently overwritten: the pass
// fails naming the secret; with --force it is replaced and AWSPREVIOUS keeps the raw
// value. (A value whose certificate and key both parse but do not match is replaced on
// the next pass: TestSecretKeyMismatch.)
func TestSecretCorruptStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	e.Pass(t, a, renew.Options{})
	good := e.Stored(t, "certferry/web", "AWSCURRENT")
	raw := rawSecret(t, e)
	const bad = "not json at all"
	putSecret(t, e, bad)
	orders := e.orders()
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if !errors.Is(r.Err(), smsink.ErrCorruptStored) || r.Reason != renew.ReasonStoredUnreadable || !strings.Contains(sum.Err().Error(), "certferry/web") {
		t.Fatalf("corrupt value: %+v", r)
	}
	if raw() != bad || e.orders() != orders {
		t.Fatalf("the corrupt value was overwritten or an order placed")
	}
	sum = e.Pass(t, a, renew.Options{Force: true})
	if r := result(t, sum, "web"); r.Err() != nil {
		t.Fatalf("--force: %v", r.Err())
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial == good.Serial {
		t.Error("not replaced")
	}
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(out.SecretString) != bad {
		t.Errorf("AWSPREVIOUS does not keep the raw value: %v", err)
	}
}

// TestSecretKeyMismatch: a stored value whose certificate and key both parse but do not
// belong together (the stored JSON with a fresh key, as a hand edit leaves it) cannot be
// served: status shows it due with reason key-mismatch and says why, and the next pass
// replaces it with one order (AWSPREVIOUS keeps the raw value); the pass after that has
// nothing to do.
func TestSecretKeyMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	e.Pass(t, a, renew.Options{})
	good := e.Stored(t, "certferry/web", "AWSCURRENT")
	raw := rawSecret(t, e)
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw()), &doc); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	doc["key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	mismatched, _ := json.Marshal(doc)
	putSecret(t, e, string(mismatched))

	orders := e.orders()
	plan := e.Pass(t, a, renew.Options{Plan: true}) // what status shows
	if r := result(t, plan, "web"); r.Reason != scheduler.ReasonKeyMismatch || r.Condition != renew.ConditionDue || !strings.Contains(r.Message, "does not match") {
		t.Fatalf("status of a mismatched key: reason %s, condition %s, message %q", r.Reason, r.Condition, r.Message)
	}
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonKeyMismatch || r.Action != renew.ActionRenew {
		t.Fatalf("pass after the mismatched key: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial == good.Serial {
		t.Error("the mismatched value is still current")
	}
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(out.SecretString) != string(mismatched) {
		t.Errorf("AWSPREVIOUS does not keep the raw value: %v", err)
	}
	orders = e.orders()
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Reason != scheduler.ReasonNotDue || r.Condition != renew.ConditionReady {
		t.Errorf("the pass after the replacement: reason %s, condition %s", r.Reason, r.Condition)
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders after the replacement", n)
	}
}

// rawSecret returns a reader of certferry/web's current value as stored.
func rawSecret(t *testing.T, e *env) func() string {
	return func() string {
		out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecretString)
	}
}

// putSecret writes v into certferry/web by hand, as an operator would.
func putSecret(t *testing.T, e *env, v string) {
	if _, err := e.SM.PutSecretValue(t.Context(), &awssm.PutSecretValueInput{SecretId: aws.String("certferry/web"), SecretString: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
}
