package stssim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/stssim"
)

const role = "arn:aws:iam::210987654321:role/certferry-dns"

func client(t *testing.T, reg *calls.Registry) (*sts.Client, *stssim.Service) {
	t.Helper()
	svc := stssim.New(stssim.Options{Calls: reg, DefaultAccount: "123456789012", Roles: []stssim.Role{{ARN: role, ExternalID: "ext"}}})
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return sts.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDHOME", "secret", ""), RetryMaxAttempts: 1}), svc
}

func TestAssumeRole(t *testing.T) {
	t.Parallel()
	c, svc := client(t, calls.New())
	ctx := t.Context()
	tests := []struct {
		name, arn, ext, code string
	}{
		{"good", role, "ext", ""},
		{"wrong external id", role, "other", "AccessDenied"},
		{"no external id", role, "", "AccessDenied"},
		{"unknown role", "arn:aws:iam::210987654321:role/other", "ext", "AccessDenied"},
	}
	for _, tt := range tests {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(tt.arn), RoleSessionName: aws.String("certferry")}
		if tt.ext != "" {
			in.ExternalId = aws.String(tt.ext)
		}
		out, err := c.AssumeRole(ctx, in)
		var ae smithy.APIError
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.code == "":
			if a, ok := svc.AccountOf(aws.ToString(out.Credentials.AccessKeyId)); !ok || a != "210987654321" {
				t.Errorf("%s: key of account %q", tt.name, a)
			}
			if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::210987654321:assumed-role/certferry-dns/certferry" {
				t.Errorf("%s: assumed role %s", tt.name, aws.ToString(out.AssumedRoleUser.Arn))
			}
		case !errors.As(err, &ae) || ae.ErrorCode() != tt.code:
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s"), ExternalId: aws.String("ext"), DurationSeconds: aws.Int32(60)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
		t.Errorf("60 s duration: %v, want ValidationError", err)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	reg := calls.New()
	c, _ := client(t, reg)
	reg.FailNext("sts", "AssumeRole", 1, calls.Fault{Code: "InternalFailure"})
	_, err := c.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s"), ExternalId: aws.String("ext")})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
		t.Errorf("faulted: %v, want a 500", err)
	}
	reg.FailNext("sts", "GetCallerIdentity", 1, calls.Fault{Hang: -1})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung: %v, want the client's deadline", err)
	}
	if n := reg.Count("sts", "AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole counted", n)
	}
}
