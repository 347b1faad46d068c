package hooks_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/sandbox/asgsim"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/ecssim"
)

// clock is a settable clock; with step set, every reading advances it by step.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type awsEnv struct {
	calls *calls.Registry
	clock *clock
	asg   *asgsim.Service
	ecs   *ecssim.Service
	deps  hooks.Deps
}

// newAWSEnv serves both stand-ins and gives the real SDK clients to Deps.
func newAWSEnv(t *testing.T, asgOpts asgsim.Options) *awsEnv {
	t.Helper()
	e := &awsEnv{calls: calls.New(), clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	asgOpts.Calls, asgOpts.Now = e.calls, e.clock.Now
	e.asg = asgsim.New(asgOpts)
	e.ecs = ecssim.New(ecssim.Options{Calls: e.calls, Now: e.clock.Now})
	asgSrv, ecsSrv := httptest.NewServer(e.asg), httptest.NewServer(e.ecs)
	hc := awshttp.Client()
	t.Cleanup(func() { asgSrv.Close(); ecsSrv.Close(); hc.CloseIdleConnections() })
	creds := credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox", "")
	e.deps = hooks.Deps{
		ASG: autoscaling.New(autoscaling.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(asgSrv.URL), Credentials: creds, HTTPClient: hc,
		}),
		ECS: ecs.New(ecs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(ecsSrv.URL), Credentials: creds, HTTPClient: hc,
		}),
		Now:          e.clock.Now,
		PollInterval: time.Millisecond,
	}
	return e
}

func (e *awsEnv) count(op string) int {
	svc := "autoscaling"
	if op == "UpdateService" {
		svc = "ecs"
	}
	return e.calls.Count(svc, op)
}

func asgHook(t *testing.T, e *awsEnv, group string) hooks.Hook {
	t.Helper()
	return one(t, config.Hook{ASGInstanceRefresh: &config.ASGInstanceRefresh{Name: group, MinHealthyPercentage: 75}}, e.deps)
}

func TestASGStartsRefresh(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t, asgsim.Options{})
	e.asg.CreateGroup("web")
	h := asgHook(t, e, "web")
	if h.Name() != "asg_instance_refresh:web" {
		t.Errorf("Name = %q", h.Name())
	}
	if err := h.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rs := e.asg.Refreshes("web")
	if len(rs) != 1 || rs[0].MinHealthyPercentage != 75 || rs[0].DesiredConfiguration || rs[0].SkipMatching {
		t.Errorf("refreshes = %+v", rs)
	}
	if e.count("StartInstanceRefresh") != 1 || e.calls.ServiceTotal("autoscaling") != 1 {
		t.Errorf("calls = %s", e.calls)
	}
}

// TestASGRefreshInProgress covers what the hook does with a refresh that is already running
// (InstanceRefreshInProgress), by when it started relative to the new version and by what it
// carries.
func TestASGRefreshInProgress(t *testing.T) {
	t.Parallel()
	storedAt := time.Date(2026, 3, 1, 11, 58, 0, 0, time.UTC) // the clock reads 12:00; refreshes run 10 min
	for _, tc := range []struct {
		name       string
		existing   asgsim.Refresh
		wantErr    string // "" for success
		wantStarts int    // StartInstanceRefresh calls
		wantCancel int
		wantNew    bool // a second refresh exists afterwards
	}{
		{"started after the version: counted", asgsim.Refresh{Start: storedAt.Add(time.Minute)}, "", 1, 0, false},
		{"started before: cancelled and restarted", asgsim.Refresh{Start: storedAt.Add(-time.Minute)}, "", 2, 1, true},
		{"after, but skips matching instances: cancelled and restarted", asgsim.Refresh{Start: storedAt.Add(time.Minute), SkipMatching: true}, "", 2, 1, true},
		{"before, with a desired configuration: left alone", asgsim.Refresh{Start: storedAt.Add(-time.Minute), DesiredConfiguration: true},
			"that this hook must not cancel; retrying on the next pass", 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAWSEnv(t, asgsim.Options{})
			e.asg.CreateGroup("web")
			tc.existing.Group = "web"
			oldID, err := e.asg.AddRefresh(tc.existing)
			if err != nil {
				t.Fatal(err)
			}
			ev := event
			ev.StoredAt = storedAt
			err = asgHook(t, e, "web").Run(t.Context(), ev)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || hooks.IsPermanent(err)) {
				t.Fatalf("Run = %v, want a retryable error containing %q", err, tc.wantErr)
			}
			if e.count("StartInstanceRefresh") != tc.wantStarts || e.count("CancelInstanceRefresh") != tc.wantCancel {
				t.Errorf("calls = %s", e.calls)
			}
			rs := e.asg.Refreshes("web")
			if got := len(rs) == 2; got != tc.wantNew {
				t.Errorf("refreshes = %+v", rs)
			}
			if tc.wantNew && (rs[0].ID != oldID || rs[0].Cancelled.IsZero() || !rs[1].Cancelled.IsZero()) {
				t.Errorf("want the old refresh cancelled and a new one running: %+v", rs)
			}
		})
	}
}

// TestASGWaitsForCancelling: a cancel that takes time (Cancelling) is polled until done.
func TestASGWaitsForCancelling(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t, asgsim.Options{CancellingFor: time.Minute})
	e.asg.CreateGroup("web")
	if _, err := e.asg.AddRefresh(asgsim.Refresh{Group: "web", Start: e.clock.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Time moves on while the hook polls: every reading of the stand-in's clock is 5s later.
	e.clock.step = 5 * time.Second
	err := asgHook(t, e, "web").Run(t.Context(), event) // StoredAt zero: any running refresh is stale
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e.count("CancelInstanceRefresh") != 1 || e.count("StartInstanceRefresh") != 2 || e.count("DescribeInstanceRefreshes") < 2 {
		t.Errorf("calls = %s", e.calls)
	}
}

func TestASGErrors(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t, asgsim.Options{})
	err := asgHook(t, e, "missing").Run(t.Context(), event)
	if !hooks.IsPermanent(err) || !strings.Contains(err.Error(), `group "missing"`) ||
		!strings.Contains(err.Error(), "AutoScalingGroup name not found") {
		t.Errorf("unknown group: Run = %v, want a permanent error naming it", err)
	}

	// An injected ResourceContention (500) is retried by the SDK; the hook then succeeds.
	e.asg.CreateGroup("web")
	e.calls.FailNext("autoscaling", "StartInstanceRefresh", 1, calls.Fault{Code: "ResourceContention", Message: "busy"})
	if err := asgHook(t, e, "web").Run(t.Context(), event); err != nil {
		t.Errorf("after one ResourceContention: Run = %v", err)
	}
	if n := e.count("StartInstanceRefresh"); n != 3 { // 1 (missing) + 2 (fault, retry)
		t.Errorf("StartInstanceRefresh calls = %d, want 3", n)
	}

	// Faults on every attempt surface, with the AWS code, as a retryable error.
	e.asg.CreateGroup("api")
	e.calls.FailNext("autoscaling", "StartInstanceRefresh", 10, calls.Fault{Code: "AccessDenied", Message: "not authorized", Status: 403})
	err = asgHook(t, e, "api").Run(t.Context(), event)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || hooks.IsPermanent(err) {
		t.Errorf("AccessDenied: Run = %v", err)
	}
}

func ecsHook(t *testing.T, e *awsEnv, cluster, service string) hooks.Hook {
	t.Helper()
	return one(t, config.Hook{ECSRedeploy: &config.ECSRedeploy{Cluster: cluster, Service: service}}, e.deps)
}

func TestECSRedeploy(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t, asgsim.Options{})
	e.ecs.CreateService("prod", "api")
	before := e.ecs.Deployments("prod", "api")
	h := ecsHook(t, e, "prod", "api")
	if h.Name() != "ecs_redeploy:prod/api" {
		t.Errorf("Name = %q", h.Name())
	}
	if err := h.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	after := e.ecs.Deployments("prod", "api")
	if len(before) != 1 || len(after) != 2 || after[1] != before[0] || !strings.HasPrefix(after[0], "ecs-svc/") {
		t.Errorf("deployments before %q, after %q", before, after)
	}
	if e.count("UpdateService") != 1 {
		t.Errorf("calls = %s", e.calls)
	}
	// Once the new deployment completed, the old one is drained.
	e.clock.Add(10 * time.Minute)
	if d := e.ecs.Deployments("prod", "api"); len(d) != 1 || d[0] != after[0] {
		t.Errorf("deployments after completion = %q", d)
	}
}

func TestECSErrors(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t, asgsim.Options{})
	e.ecs.CreateService("prod", "api")
	e.ecs.CreateService("prod", "old")
	e.ecs.DeleteService("prod", "old")
	for _, tc := range []struct {
		cluster, service, code string
	}{
		{"prod", "missing", "ServiceNotFoundException"},
		{"staging", "api", "ClusterNotFoundException"},
		{"prod", "old", "ServiceNotActiveException"},
	} {
		err := ecsHook(t, e, tc.cluster, tc.service).Run(t.Context(), event)
		var ae smithy.APIError
		if !hooks.IsPermanent(err) || !errors.As(err, &ae) || ae.ErrorCode() != tc.code ||
			!strings.Contains(err.Error(), `update service "`+tc.service+`" in cluster "`+tc.cluster+`"`) {
			t.Errorf("%s/%s: Run = %v, want permanent %s naming the service", tc.cluster, tc.service, err, tc.code)
		}
	}
	// A server fault is retried by the SDK (3 attempts) and then surfaces as retryable.
	e.calls.FailNext("ecs", "UpdateService", 3, calls.Fault{Code: "ServerException", Message: "boom"})
	before := e.count("UpdateService")
	err := ecsHook(t, e, "prod", "api").Run(t.Context(), event)
	if err == nil || hooks.IsPermanent(err) {
		t.Errorf("ServerException: Run = %v, want a retryable error", err)
	}
	if n := e.count("UpdateService") - before; n != 3 {
		t.Errorf("UpdateService attempts = %d, want 3", n)
	}
}

func TestFromConfigNeedsClients(t *testing.T) {
	t.Parallel()
	_, err := hooks.FromConfig([]config.Hook{
		{Exec: []string{"/bin/true"}},
		{ECSRedeploy: &config.ECSRedeploy{Cluster: "c", Service: "s"}},
	}, hooks.Deps{})
	if err == nil || err.Error() != "hooks: hook 1: ecs_redeploy: no ECS client (Deps.ECS)" {
		t.Errorf("FromConfig = %v", err)
	}
	_, err = hooks.FromConfig([]config.Hook{{}}, hooks.Deps{})
	if err == nil || !strings.Contains(err.Error(), "hook 0: exactly one of") {
		t.Errorf("FromConfig(empty hook) = %v", err)
	}
}
