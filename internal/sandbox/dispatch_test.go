package sandbox_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestDispatchAllServices sends each service's real SDK client through the one endpoint and
// checks that every call landed on its own stand-in (and only there).
func TestDispatchAllServices(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{Zones: []string{"example.com"}})
	ctx := t.Context()
	cfg := sb.AWSConfig(ctx)
	sb.AutoScaling().CreateGroup("web")
	sb.ECS().CreateService("prod", "api")

	if _, err := route53.NewFromConfig(cfg).ListHostedZones(ctx, &route53.ListHostedZonesInput{}); err != nil {
		t.Fatalf("route53 ListHostedZones: %v", err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("secretsmanager ListSecrets: %v", err)
	}
	asg := autoscaling.NewFromConfig(cfg)
	started, err := asg.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatalf("autoscaling StartInstanceRefresh: %v", err)
	}
	desc, err := asg.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatalf("autoscaling DescribeInstanceRefreshes: %v", err)
	}
	if len(desc.InstanceRefreshes) != 1 || aws.ToString(desc.InstanceRefreshes[0].InstanceRefreshId) != aws.ToString(started.InstanceRefreshId) {
		t.Errorf("DescribeInstanceRefreshes = %+v", desc.InstanceRefreshes)
	}
	if _, err := ecs.NewFromConfig(cfg).UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("prod"), Service: aws.String("api"), ForceNewDeployment: true,
	}); err != nil {
		t.Fatalf("ecs UpdateService: %v", err)
	}

	c := sb.Calls()
	want := map[string]int{
		"route53.ListHostedZones":               1,
		"secretsmanager.ListSecrets":            1,
		"autoscaling.StartInstanceRefresh":      1,
		"autoscaling.DescribeInstanceRefreshes": 1,
		"ecs.UpdateService":                     1,
	}
	got := c.Counts()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("calls[%s] = %d, want %d (all: %s)", k, got[k], n, c)
		}
	}
	if len(got) != len(want) {
		t.Errorf("calls = %s, want exactly %v", c, want)
	}

	// Faults injected over HTTP reach the Auto Scaling stand-in.
	c.FailNext("autoscaling", "DescribeInstanceRefreshes", 1, calls.Fault{Code: "ResourceContention", Message: "busy"})
	_, err = autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.RetryMaxAttempts = 1 }).
		DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceContention" {
		t.Errorf("faulted DescribeInstanceRefreshes: err = %v, want ResourceContention", err)
	}
}

// TestDispatchOtherQueryService: a Query-protocol request for another API version (IAM) is
// not taken by the Auto Scaling stand-in, and nothing is counted for it.
func TestDispatchOtherQueryService(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{})
	form := url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, sb.Info().AWSEndpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %s, want 404", resp.Status)
	}
	if n := sb.Calls().ServiceTotal("autoscaling"); n != 0 {
		t.Errorf("autoscaling calls = %d, want 0", n)
	}
}
