package renew_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestE2ERevokedPendingVersionIsNeverPromoted: a write interrupted before its promotion
// leaves a pending version, which the next runner would finish; when that certificate
// was revoked (certferry:revoked names its serial), it is left alone, and the current
// certificate stays.
func TestE2ERevokedPendingVersionIsNeverPromoted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, "issuance_guard: 0s\n"+certsYAML(certYAML("web", "www.example.com")))
	first := e.App(t, cfg)
	v1 := wantOK(t, e.Pass(t, first, renew.Options{}), "web", renew.ActionIssue, "missing").VersionID
	e.SB.Calls().FailNext("secretsmanager", "UpdateSecretVersionStage", 20, calls.Fault{Code: "InternalServiceError", Status: 500, Message: "injected"})
	e.Pass(t, first, renew.Options{Force: true})
	e.SB.Calls().Reset()

	pending, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web"), VersionStage: aws.String(smsink.StagePending)})
	if err != nil {
		t.Fatalf("no pending version: %v", err)
	}
	var b struct{ Serial string }
	if err := json.Unmarshal([]byte(aws.ToString(pending.SecretString)), &b); err != nil || b.Serial == "" {
		t.Fatal(err)
	}
	rv := smsink.Revocation{Serial: b.Serial, Reason: "keyCompromise", At: time.Now()}
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"),
		Tags: []smtypes.Tag{{Key: aws.String(smsink.TagRevoked), Value: aws.String(rv.TagValue())}}}); err != nil {
		t.Fatal(err)
	}

	second := e.App(t, cfg)
	r := result(t, e.Pass(t, second, renew.Options{}), "web")
	if r.Action == renew.ActionStore || r.Error != "" {
		t.Fatalf("the revoked pending certificate was promoted or the pass failed: %+v", r)
	}
	if cur := e.stageVersion(t, "certferry/web", "AWSCURRENT"); cur != v1 {
		t.Fatalf("AWSCURRENT moved to %s (the revoked pending version?)", cur)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders: the current certificate is not due", n)
	}
}

// TestE2EKeyCompromiseIsFailingUntilReplaced: a certificate revoked for keyCompromise is
// failing (not ready, counted by Failing: status and renew exit 1, /healthz 503) until a
// pass stores its replacement; revoked for another reason it is only due.
func TestE2EKeyCompromiseIsFailingUntilReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	serial := wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, "missing").Serial
	revoke := func(reason string) {
		t.Helper()
		rv := smsink.Revocation{Serial: serial, Reason: reason, At: time.Now()}
		if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"),
			Tags: []smtypes.Tag{{Key: aws.String(smsink.TagRevoked), Value: aws.String(rv.TagValue())}}}); err != nil {
			t.Fatal(err)
		}
	}

	revoke("superseded")
	sum := e.Pass(t, e.App(t, cfg), renew.Options{Plan: true})
	if r := result(t, sum, "web"); r.Condition != renew.ConditionDue || r.Ready() != "True" || sum.Failing() != 0 || r.Reason != "revoked" {
		t.Fatalf("revoked (superseded), planned: %+v, %d failing", r, sum.Failing())
	}

	revoke("keyCompromise")
	sum = e.Pass(t, e.App(t, cfg), renew.Options{Plan: true})
	r := result(t, sum, "web")
	if r.Condition != renew.ConditionFailing || r.Ready() != "False" || sum.Failing() != 1 || r.NextAttempt.IsZero() ||
		!strings.Contains(r.LastError, "keyCompromise") || !strings.Contains(r.LastError, "until a replacement is stored") {
		t.Fatalf("revoked (keyCompromise), planned: %+v, %d failing", r, sum.Failing())
	}

	sum = e.Pass(t, e.App(t, cfg), renew.Options{})
	if r := result(t, sum, "web"); r.Action != renew.ActionRenew || r.Condition != renew.ConditionReady || sum.Failing() != 0 || r.Serial == serial {
		t.Fatalf("the pass that replaces it: %+v, %d failing", r, sum.Failing())
	}
	sum = e.Pass(t, e.App(t, cfg), renew.Options{Plan: true})
	if r := result(t, sum, "web"); r.Condition != renew.ConditionReady || sum.Failing() != 0 {
		t.Fatalf("after the replacement: %+v", r)
	}
}
