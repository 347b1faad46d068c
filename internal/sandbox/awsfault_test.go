package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestAWSFaultsEveryService injects every kind of fault into every AWS stand-in and
// reads the answer with the service's real SDK client (no retries): an error code
// surfaces with the HTTP status AWS uses for it, a hang holds the call until the
// client's context ends, and a hang with no code passes the call on.
func TestAWSFaultsEveryService(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{Zones: []string{"example.com"}})
	cfg := sb.AWSConfig(t.Context())
	cfg.RetryMaxAttempts = 1
	sb.AutoScaling().CreateGroup("web")
	sb.ECS().CreateService("prod", "api")
	r53 := route53.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	asg := autoscaling.NewFromConfig(cfg)
	ecsc := ecs.NewFromConfig(cfg)
	ddb := dynamodb.NewFromConfig(cfg)
	if got := sb.Info().LeaseTable; got != sandbox.DefaultLeaseTable {
		t.Fatalf("Info().LeaseTable = %q, want %q", got, sandbox.DefaultLeaseTable)
	}

	for _, svc := range []struct {
		service, op string
		call        func(context.Context) error
		codes       map[string]int // code -> the status the real service answers it with
	}{
		{"route53", "ListHostedZones", func(ctx context.Context) error {
			_, err := r53.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
			return err
		}, map[string]int{"Throttling": 400, "PriorRequestNotComplete": 400, "InvalidChangeBatch": 400,
			"NoSuchHostedZone": 404, "AccessDenied": 403, "InternalFailure": 500, "ServiceUnavailable": 503}},
		{"secretsmanager", "ListSecrets", func(ctx context.Context) error {
			_, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		}, map[string]int{"ThrottlingException": 400, "ResourceNotFoundException": 400, "AccessDeniedException": 400,
			"LimitExceededException": 400, "InternalServiceError": 500, "ServiceUnavailable": 503}},
		{"dynamodb", "GetItem", func(ctx context.Context) error {
			_, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(sandbox.DefaultLeaseTable),
				Key: map[string]ddbtypes.AttributeValue{sandbox.LeaseKey: &ddbtypes.AttributeValueMemberS{Value: "www"}}})
			return err
		}, map[string]int{"ThrottlingException": 400, "ProvisionedThroughputExceededException": 400, "ResourceNotFoundException": 400,
			"InternalServerError": 500, "ServiceUnavailable": 503}},
		{"autoscaling", "DescribeInstanceRefreshes", func(ctx context.Context) error {
			_, err := asg.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web")})
			return err
		}, map[string]int{"Throttling": 400, "ValidationError": 400, "ResourceContention": 500,
			"InternalFailure": 500, "ServiceUnavailable": 503}},
		{"ecs", "DescribeServices", func(ctx context.Context) error {
			_, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api"}})
			return err
		}, map[string]int{"ThrottlingException": 400, "ClientException": 400, "AccessDeniedException": 400,
			"ServerException": 500, "ServiceUnavailable": 503}},
	} {
		t.Run(svc.service, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := sb.Calls()
			for code, status := range svc.codes {
				c.FailNext(svc.service, svc.op, 1, calls.Fault{Code: code})
				assertAPIError(t, svc.call(ctx), code, status, "injected fault: "+code)
			}
			c.FailNext(svc.service, svc.op, 1, calls.Fault{Code: "Custom", Message: "teapot", Status: 418})
			assertAPIError(t, svc.call(ctx), "Custom", 418, "teapot")

			// A hang is cut by the client's deadline: the client sees its own deadline,
			// not an answer.
			c.FailNext(svc.service, svc.op, 1, calls.Fault{Hang: calls.HangForever, Code: "InternalFailure"})
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			err := svc.call(short)
			cancel()
			var ae smithy.APIError
			if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ae) {
				t.Errorf("hung %s: err = %v, want the client's deadline", svc.op, err)
			}
			// A short hang with a code answers the code after it; one with none
			// passes the call on.
			c.FailNext(svc.service, svc.op, 1, calls.Fault{Hang: time.Millisecond, Code: "Throttling"})
			assertAPIError(t, svc.call(ctx), "Throttling", 400, "injected fault: Throttling")
			c.FailNext(svc.service, svc.op, 1, calls.Fault{Hang: time.Millisecond})
			if err := svc.call(ctx); err != nil {
				t.Errorf("code-less hang on %s: %v", svc.op, err)
			}
			if n, want := c.Count(svc.service, svc.op), len(svc.codes)+4; n != want {
				t.Errorf("%s.%s calls = %d, want %d", svc.service, svc.op, n, want)
			}
		})
	}
}

func assertAPIError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Errorf("fault %s: err = %v, want an API error", code, err)
		return
	}
	if got := fmt.Sprintf("%s %d %s", ae.ErrorCode(), re.HTTPStatusCode(), ae.ErrorMessage()); got != fmt.Sprintf("%s %d %s", code, status, msg) {
		t.Errorf("fault %s: got %q, want code, status and message %s %d %s", code, got, code, status, msg)
	}
}
