package waitlog_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/internal/waitlog"
)

// The tests' report times: short, so a hung call is reported within a test's patience.
const (
	after = 20 * time.Millisecond
	every = 40 * time.Millisecond
)

// eventually polls cond until within has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(after / 4):
		}
	}
}

// TestTransportReportsAHungRequest: a request to a CA that does not answer is reported
// after `after`, then every `every`, naming the host and path; a fast request is never
// reported.
func TestTransportReportsAHungRequest(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-release
		}
	}))
	defer srv.Close()
	core, logs := observer.New(zap.InfoLevel)
	c := &http.Client{Transport: waitlog.Transport(http.DefaultTransport, zap.New(core), "ACME CA", after, every)}
	resp, err := c.Get(srv.URL + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := c.Get(srv.URL + "/hang"); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, testwait.For(after+2*every), "two reports", func() bool { return logs.Len() >= 2 })
	close(release)
	<-done
	e := logs.All()[0]
	if e.Message != "still waiting for an answer from the ACME CA" || e.ContextMap()["path"] != "/hang" {
		t.Errorf("report %q %v", e.Message, e.ContextMap())
	}
	for _, e := range logs.All() {
		if e.ContextMap()["path"] != "/hang" {
			t.Errorf("a fast request was reported: %v", e.ContextMap())
		}
	}
}

// TestAWSOptionReportsAHungCall: an AWS operation that hangs is reported naming the
// service and the operation.
func TestAWSOptionReportsAHungCall(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	core, logs := observer.New(zap.InfoLevel)
	client := awssm.New(awssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{waitlog.AWSOption(zap.New(core), after, every)}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = client.DescribeSecret(ctx, &awssm.DescribeSecretInput{SecretId: aws.String("x")})
	}()
	eventually(t, testwait.For(after+every), "a report", func() bool { return logs.Len() >= 1 })
	cancel()
	<-done
	f := logs.All()[0].ContextMap()
	if logs.All()[0].Message != "still waiting for AWS to answer" || f["service"] != "Secrets Manager" || f["operation"] != "DescribeSecret" {
		t.Errorf("report %q %v", logs.All()[0].Message, f)
	}
}
