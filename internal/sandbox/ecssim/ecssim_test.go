package ecssim_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/ecssim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUpdateAndDescribe(t *testing.T) {
	t.Parallel()
	reg := calls.New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	svc := ecssim.New(ecssim.Options{Calls: reg, Now: func() time.Time { return now }, DeployFor: time.Minute})
	arn := svc.CreateService("prod", "api")
	svc.CreateService("prod", "old")
	svc.DeleteService("prod", "old")
	srv := httptest.NewServer(svc)
	hc := awshttp.Client()
	t.Cleanup(func() { srv.Close(); hc.CloseIdleConnections() })
	c := ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	ctx := t.Context()

	out, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("arn:aws:ecs:us-east-1:123456789012:cluster/prod"), Service: aws.String(arn), ForceNewDeployment: true})
	if err != nil {
		t.Fatal(err)
	}
	ds := out.Service.Deployments
	if len(ds) != 2 || aws.ToString(ds[0].Status) != "PRIMARY" || ds[0].RolloutState != types.DeploymentRolloutStateInProgress ||
		aws.ToString(ds[1].Status) != "ACTIVE" || aws.ToString(out.Service.ServiceName) != "api" {
		t.Errorf("deployments = %+v", ds)
	}
	now = now.Add(time.Minute)
	d, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api", "ghost"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Services) != 1 || len(d.Services[0].Deployments) != 1 || d.Services[0].Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted ||
		len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" || !strings.HasSuffix(aws.ToString(d.Failures[0].Arn), ":service/prod/ghost") {
		t.Errorf("DescribeServices = %+v", d)
	}

	var snf *types.ServiceNotFoundException
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("ghost"), ForceNewDeployment: true}); !errors.As(err, &snf) {
		t.Errorf("missing service: %v", err)
	}
	var cnf *types.ClusterNotFoundException
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("api"), ForceNewDeployment: true}); !errors.As(err, &cnf) {
		t.Errorf("missing default cluster: %v", err)
	}
	var sna *types.ServiceNotActiveException
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("old"), ForceNewDeployment: true}); !errors.As(err, &sna) {
		t.Errorf("inactive service: %v", err)
	}
	reg.FailNext("ecs", "UpdateService", 1, calls.Fault{Code: "ThrottlingException", Message: "Rate exceeded"})
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), ForceNewDeployment: true}); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("fault: %v", err)
	}
	if n := len(svc.Deployments("prod", "api")); n != 1 {
		t.Errorf("failed calls changed state: %d deployments", n)
	}
	if reg.Count("ecs", "UpdateService") != 5 || reg.Count("ecs", "DescribeServices") != 1 {
		t.Errorf("calls = %s", reg)
	}

	// Raw error shape.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/", strings.NewReader(`{"cluster":"prod","service":"ghost"}`))
	req.Header.Set("X-Amz-Target", ecssim.TargetPrefix+"UpdateService")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(b) != `{"__type":"ServiceNotFoundException","message":"Service not found."}` {
		t.Errorf("raw error: %d %s", resp.StatusCode, b)
	}
}
