package asgsim_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/sandbox/asgsim"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) (*asgsim.Service, *autoscaling.Client, *clock, *calls.Registry, string) {
	t.Helper()
	reg := calls.New()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc := asgsim.New(asgsim.Options{Calls: reg, Now: clk.Now, PendingFor: 10 * time.Second, InProgressFor: time.Minute, CancellingFor: 5 * time.Second})
	srv := httptest.NewServer(svc)
	hc := awshttp.Client()
	t.Cleanup(func() { srv.Close(); hc.CloseIdleConnections() })
	client := autoscaling.New(autoscaling.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
	return svc, client, clk, reg, srv.URL
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	svc, c, clk, reg, _ := setup(t)
	ctx := t.Context()
	svc.CreateGroup("web")
	out, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String("web"),
		Preferences:          &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), SkipMatching: aws.Bool(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.InstanceRefreshId)
	status := func() types.InstanceRefresh {
		t.Helper()
		d, err := c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web"), InstanceRefreshIds: []string{id}})
		if err != nil || len(d.InstanceRefreshes) != 1 {
			t.Fatalf("Describe: %v %+v", err, d)
		}
		return d.InstanceRefreshes[0]
	}
	r := status()
	if r.Status != types.InstanceRefreshStatusPending || !aws.ToTime(r.StartTime).Equal(clk.Now()) ||
		aws.ToInt32(r.Preferences.MinHealthyPercentage) != 50 || !aws.ToBool(r.Preferences.SkipMatching) || r.DesiredConfiguration != nil {
		t.Errorf("pending refresh = %+v", r)
	}
	if _, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")}); code(err) != "InstanceRefreshInProgress" {
		t.Errorf("second Start: %v", err)
	}
	var inProgress *types.InstanceRefreshInProgressFault
	if _, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")}); !errors.As(err, &inProgress) {
		t.Errorf("second Start is not an *InstanceRefreshInProgressFault: %v", err)
	}
	clk.Add(40 * time.Second)
	if r := status(); r.Status != types.InstanceRefreshStatusInProgress || aws.ToInt32(r.PercentageComplete) != 50 {
		t.Errorf("after 40s: %s %d%%", r.Status, aws.ToInt32(r.PercentageComplete))
	}
	clk.Add(time.Minute)
	if r := status(); r.Status != types.InstanceRefreshStatusSuccessful || r.EndTime == nil {
		t.Errorf("after 100s: %+v", r)
	}
	if _, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")}); code(err) != "ActiveInstanceRefreshNotFound" {
		t.Errorf("Cancel with none active: %v", err)
	}
	// Start, cancel: Cancelling, then Cancelled.
	out, err = c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	id = aws.ToString(out.InstanceRefreshId)
	if co, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")}); err != nil || aws.ToString(co.InstanceRefreshId) != id {
		t.Fatalf("Cancel: %v", err)
	}
	if r := status(); r.Status != types.InstanceRefreshStatusCancelling {
		t.Errorf("after cancel: %s", r.Status)
	}
	clk.Add(5 * time.Second)
	if r := status(); r.Status != types.InstanceRefreshStatusCancelled {
		t.Errorf("5s after cancel: %s", r.Status)
	}
	// Most recent first, paginated.
	d, err := c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web"), MaxRecords: aws.Int32(1)})
	if err != nil || len(d.InstanceRefreshes) != 1 || aws.ToString(d.InstanceRefreshes[0].InstanceRefreshId) != id || d.NextToken == nil {
		t.Fatalf("page 1: %v %+v", err, d)
	}
	d, err = c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web"), MaxRecords: aws.Int32(1), NextToken: d.NextToken})
	if err != nil || len(d.InstanceRefreshes) != 1 || d.NextToken != nil {
		t.Fatalf("page 2: %v %+v", err, d)
	}
	if reg.Count("autoscaling", "StartInstanceRefresh") != 4 || reg.Count("autoscaling", "CancelInstanceRefresh") != 2 {
		t.Errorf("calls = %s", reg)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	svc, c, _, reg, _ := setup(t)
	ctx := t.Context()
	svc.CreateGroup("web")
	_, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("nope")})
	if code(err) != "ValidationError" || !strings.Contains(err.Error(), "AutoScalingGroup name not found") {
		t.Errorf("unknown group: %v", err)
	}
	_, err = c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web"), Preferences: &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(101)}})
	if code(err) != "ValidationError" {
		t.Errorf("MinHealthyPercentage 101: %v", err)
	}
	reg.FailNext("autoscaling", "StartInstanceRefresh", 1, calls.Fault{Code: "ResourceContention", Message: "busy"})
	_, err = c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	if code(err) != "ResourceContention" {
		t.Errorf("fault: %v", err)
	}
	if len(svc.Refreshes("web")) != 0 {
		t.Errorf("a faulted or invalid call changed state: %+v", svc.Refreshes("web"))
	}
}

// TestWireFormat checks the raw answers: the namespace, the ErrorResponse shape, and
// NoSuchVersion / InvalidAction for requests the SDK would not send.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	svc, _, _, _, base := setup(t)
	svc.CreateGroup("web")
	post := func(form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := post(url.Values{"Action": {"StartInstanceRefresh"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"web"}})
	if st != 200 || !strings.Contains(body, `<StartInstanceRefreshResponse xmlns="https://autoscaling.amazonaws.com/doc/2011-01-01/"><StartInstanceRefreshResult><InstanceRefreshId>`) ||
		!strings.Contains(body, "<ResponseMetadata><RequestId>") {
		t.Errorf("start: %d %s", st, body)
	}
	st, body = post(url.Values{"Action": {"StartInstanceRefresh"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"web"}})
	if st != 400 || !strings.Contains(body, `<ErrorResponse xmlns="https://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>InstanceRefreshInProgress</Code><Message>`) ||
		!strings.Contains(body, "</Error><RequestId>") {
		t.Errorf("in progress: %d %s", st, body)
	}
	if st, body = post(url.Values{"Action": {"StartInstanceRefresh"}, "Version": {"2010-08-01"}}); st != 400 || !strings.Contains(body, "<Code>NoSuchVersion</Code>") {
		t.Errorf("wrong version: %d %s", st, body)
	}
	if st, body = post(url.Values{"Action": {"DeleteAutoScalingGroup"}, "Version": {"2011-01-01"}}); st != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("unsupported action: %d %s", st, body)
	}
}
