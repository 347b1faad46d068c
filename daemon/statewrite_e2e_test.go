package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestHealthStateWriteDenied: the daemon's role loses secretsmanager:TagResource. Its
// pass asks the CA for the fresh certificate's ARI window (its ari-next time has come)
// and cannot record it: the certificate is failing, needing a human, and /healthz
// answers 503 at once, naming the permission and the secret, although the certificate
// is weeks from its renewal; ready_status is False. The daemon's Memory keeps it so,
// refreshes included, until the permission is back and a pass records the state: the
// next pass runs at the floor, not at the schedule's next tick an hour later.
func TestHealthStateWriteDenied(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox test")
	}
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	// An hourly schedule: the pass that records the state once the permission is back
	// comes at the floor (min_period), not at the next tick.
	yaml := strings.Replace(sharedConfig("www.example.com"), `schedule: "@every 1h"`, `schedule: {cron: "@every 1h", min_period: 1s}`, 1)
	cfgPath := e.WriteConfig(t, yaml)
	cfg, err := load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if sum := e.Pass(t, e.App(t, cfg), renew.Options{}); sum.Failing() != 0 {
		t.Fatalf("first issuance: %d failing", sum.Failing())
	}
	// Its ARI window is due to be asked for: a state write in every pass.
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"),
		Tags: []smtypes.Tag{{Key: aws.String(smsink.TagARINext), Value: aws.String(smsink.FormatTime(time.Now().Add(-time.Hour)))}}}); err != nil {
		t.Fatal(err)
	}
	e.SB.Calls().FailNext("secretsmanager", "TagResource", 1<<20, calls.Fault{Code: "AccessDeniedException", Status: 400,
		Message: "User: arn:aws:sts::123456789012:assumed-role/certferry is not authorized to perform: secretsmanager:TagResource"})
	m := metrics.New()
	log := zaptest.NewLogger(t, zaptest.Level(zap.FatalLevel))
	r := start(t, daemon.Options{ConfigPath: cfgPath, Build: sandboxBuild(e.SB, m, log), Metrics: m, Logger: log})
	const want = `secretsmanager:TagResource on the secret "certferry/web"`
	eventually(t, beforeFirstWait, "/healthz 503 naming the permission and the secret", func() bool {
		code, h := r.health(t)
		return code == 503 && len(h.Failing) == 1 && strings.Contains(h.Failing[0].LastError, want)
	})
	if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": "web", "condition": "False"}); v != 1 {
		t.Errorf("ready_status{condition=False} = %v, want 1", v)
	}
	// The status line names the pass at the floor, not the schedule's next tick.
	_, h := r.health(t)
	_, at, _ := strings.Cut(h.LastPassStatus, "next pass ")
	if next, err := time.Parse(time.RFC3339, at); err != nil || next.Sub(h.LastPass) > time.Minute {
		t.Errorf("last pass %s, status %q: want the next pass within the floor", h.LastPass, h.LastPassStatus)
	}
	lists := e.SB.Calls().Count("secretsmanager", "ListSecrets")
	eventually(t, testwait.For(2*refreshEvery), "two passes or refreshes", func() bool {
		return e.SB.Calls().Count("secretsmanager", "ListSecrets") >= lists+2
	})
	if code, h := r.health(t); code != 503 {
		t.Errorf("later: /healthz %d, want 503 until a state write succeeds (%+v)", code, h)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want the first issuance's only", n)
	}
	e.SB.Calls().DropFaults()
	eventually(t, testwait.For(refreshEvery), "/healthz 200 once a pass records the state", func() bool {
		code, _ := r.health(t)
		return code == 200
	})
}
