package smsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/smsim"
)

// clock is a settable clock for the service.
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

type env struct {
	svc    *smsim.Service
	calls  *calls.Registry
	clock  *clock
	client *sm.Client
	url    string
}

func newEnv(t *testing.T, maxVersions int, attempts int) *env {
	t.Helper()
	reg := calls.New()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc := smsim.New(smsim.Options{Calls: reg, Now: clk.Now, MaxVersions: maxVersions})
	srv := httptest.NewServer(svc)
	// Each env gets its own transport (a plain-HTTP httptest server's Client() shares
	// http.DefaultTransport, whose idle connections every srv.Close() closes).
	tr := &http.Transport{}
	t.Cleanup(func() { srv.Close(); tr.CloseIdleConnections() })
	if attempts == 0 {
		attempts = 1
	}
	client := sm.New(sm.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", ""),
		RetryMaxAttempts: attempts,
		HTTPClient:       &http.Client{Transport: plainBody{tr}},
	})
	return &env{svc: svc, calls: reg, clock: clk, client: client, url: srv.URL}
}

// plainBody works around a smithy-go v1.28.9 race: the request body is a
// safeWriteToReadCloser whose WriteTo returns io.EOF once the SDK has closed it, which
// the SDK does as soon as response headers arrive. net/http's writeLoop then reads the
// body once more (the extra-bytes check after a Content-Length copy), gets that EOF as
// an error and closes the connection while the response body is still being read:
// "deserialization failed ... use of closed network connection" on responses larger
// than the client's read buffer, against any fast local server. Hiding WriteTo avoids it.
type plainBody struct{ rt http.RoundTripper }

type readCloser struct{ io.ReadCloser }

func (p plainBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readCloser{req.Body}
	}
	return p.rt.RoundTrip(req)
}

func tok(n int) *string { return aws.String(fmt.Sprintf("%08d-0000-4000-8000-000000000000", n)) }

func (e *env) create(t *testing.T, name, value string, tags ...types.Tag) *sm.CreateSecretOutput {
	t.Helper()
	out, err := e.client.CreateSecret(context.Background(), &sm.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), Tags: tags,
	})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return out
}

func (e *env) put(t *testing.T, name, value string, token *string) *sm.PutSecretValueOutput {
	t.Helper()
	out, err := e.client.PutSecretValue(context.Background(), &sm.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value), ClientRequestToken: token,
	})
	if err != nil {
		t.Fatalf("PutSecretValue %s: %v", name, err)
	}
	return out
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestCreateGetDescribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	created, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{
		Name: aws.String("certs/example"), SecretString: aws.String(`{"cert":"x"}`),
		ClientRequestToken: tok(1), Description: aws.String("Example cert"), KmsKeyId: aws.String("alias/certs"),
		Tags: []types.Tag{{Key: aws.String("certferry:not-after"), Value: aws.String("2026-06-01T00:00:00Z")}},
	})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	arn := aws.ToString(created.ARN)
	prefix := "arn:aws:secretsmanager:us-east-1:123456789012:secret:certs/example-"
	if !strings.HasPrefix(arn, prefix) || len(arn) != len(prefix)+6 {
		t.Errorf("ARN = %q, want %s + 6 characters", arn, prefix)
	}
	if aws.ToString(created.VersionId) != *tok(1) {
		t.Errorf("VersionId = %q, want the ClientRequestToken", aws.ToString(created.VersionId))
	}
	for _, id := range []string{"certs/example", arn, strings.TrimSuffix(arn, arn[len(arn)-7:])} {
		got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if aws.ToString(got.SecretString) != `{"cert":"x"}` || aws.ToString(got.ARN) != arn ||
			!slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) || !got.CreatedDate.Equal(e.clock.Now()) {
			t.Errorf("GetSecretValue(%s) = %+v", id, got)
		}
	}
	e.clock.Add(time.Hour)
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("certs/example")})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	if aws.ToString(d.Description) != "Example cert" || aws.ToString(d.KmsKeyId) != "alias/certs" ||
		len(d.Tags) != 1 || aws.ToString(d.Tags[0].Key) != "certferry:not-after" ||
		!slices.Equal(d.VersionIdsToStages[*tok(1)], []string{"AWSCURRENT"}) ||
		!d.CreatedDate.Equal(e.clock.Now().Add(-time.Hour)) || d.DeletedDate != nil ||
		!d.LastAccessedDate.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("DescribeSecret = %+v", d)
	}

	// Binary secrets round-trip through base64.
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatalf("CreateSecret binary: %v", err)
	}
	b, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || !slices.Equal(b.SecretBinary, []byte{0, 1, 2, 255}) || b.SecretString != nil {
		t.Errorf("GetSecretValue binary = %v, %v", b, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	notFound := func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }
	exists := func(err error) bool { var e *types.ResourceExistsException; return errors.As(err, &e) }
	invalidParam := func(err error) bool { var e *types.InvalidParameterException; return errors.As(err, &e) }
	invalidReq := func(err error) bool { var e *types.InvalidRequestException; return errors.As(err, &e) }
	badToken := func(err error) bool { var e *types.InvalidNextTokenException; return errors.As(err, &e) }
	code := func(c string) func(error) bool { return func(err error) bool { return errCode(err) == c } }

	tests := []struct {
		name string
		call func(c *sm.Client) error
		want func(error) bool
		msg  string
	}{
		{"get missing", func(c *sm.Client) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("missing")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"describe missing ARN", func(c *sm.Client) error {
			_, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-abcdef")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"get unknown version", func(c *sm.Client) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionId: tok(99)})
			return err
		}, notFound, "Secrets Manager can't find the specified secret value for VersionId: " + *tok(99)},
		{"get unknown stage", func(c *sm.Client) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret value for staging label: AWSPENDING"},
		{"get secret without value", func(c *sm.Client) error {
			_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("novalue")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"},
		{"create existing", func(c *sm.Client) error {
			_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("other")})
			return err
		}, exists, "The operation failed because the secret s already exists."},
		{"create bad name", func(c *sm.Client) error {
			_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bad name")})
			return err
		}, code("ValidationException"), "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"},
		{"create string and binary", func(c *sm.Client) error {
			_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("a"), SecretBinary: []byte("b")})
			return err
		}, invalidParam, "You can't specify both a binary secret value and a string secret value in the same secret."},
		{"create short token", func(c *sm.Client) error {
			_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("tok"), SecretString: aws.String("a"), ClientRequestToken: aws.String("short")})
			return err
		}, code("ValidationException"), "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32"},
		{"create aws: tag", func(c *sm.Client) error {
			_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("t"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
			return err
		}, invalidParam, "You can't use the aws: prefix in a tag key; it is reserved for AWS use."},
		{"put without value", func(c *sm.Client) error {
			_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s")})
			return err
		}, invalidReq, "You must provide either SecretString or SecretBinary."},
		{"put missing", func(c *sm.Client) error {
			_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("missing"), SecretString: aws.String("v")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"tag key too long", func(c *sm.Client) error {
			_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}})
			return err
		}, code("ValidationException"), "1 validation error detected: Value at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"tag value bad characters", func(c *sm.Client) error {
			_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("a;b")}}})
			return err
		}, invalidParam, "Tag keys and values may contain only letters, numbers, spaces and + - = . _ : / @"},
		{"untag aws: key", func(c *sm.Client) error {
			_, err := c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"aws:x"}})
			return err
		}, invalidParam, "You can't delete tags with the aws: prefix; it is reserved for AWS use."},
		{"tag missing", func(c *sm.Client) error {
			_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("missing"), Tags: []types.Tag{}})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"delete window too short", func(c *sm.Client) error {
			_, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(6)})
			return err
		}, invalidParam, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."},
		{"delete window too long", func(c *sm.Client) error {
			_, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(31)})
			return err
		}, invalidParam, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."},
		{"delete window and force", func(c *sm.Client) error {
			_, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, invalidParam, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."},
		{"delete missing", func(c *sm.Client) error {
			_, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("missing")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"list max results 0", func(c *sm.Client) error {
			_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(0)})
			return err
		}, code("ValidationException"), "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"list max results 101", func(c *sm.Client) error {
			_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(101)})
			return err
		}, code("ValidationException"), "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{"list bad token", func(c *sm.Client) error {
			_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{NextToken: aws.String("garbage")})
			return err
		}, badToken, "The NextToken value is invalid."},
		{"list bad filter key", func(c *sm.Client) error {
			_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{Filters: []types.Filter{{Key: "nope", Values: []string{"x"}}}})
			return err
		}, code("ValidationException"), "1 validation error detected: Value 'nope' at 'filters.member.key' failed to satisfy constraint: Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]"},
		{"list versions missing", func(c *sm.Client) error {
			_, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("missing")})
			return err
		}, notFound, "Secrets Manager can't find the specified secret."},
		{"list versions bad token", func(c *sm.Client) error {
			_, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), NextToken: aws.String("!!")})
			return err
		}, badToken, "The NextToken value is invalid."},
		{"stage move without remove", func(c *sm.Client) error {
			_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2)})
			return err
		}, invalidParam, "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version " + *tok(3) + ", so you must explicitly reference that version in RemoveFromVersionId."},
		{"stage move to unknown version", func(c *sm.Client) error {
			_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("X"), MoveToVersionId: tok(42)})
			return err
		}, notFound, "Secrets Manager can't find the specified secret value for VersionId: " + *tok(42)},
		{"stage remove AWSCURRENT", func(c *sm.Client) error {
			_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: tok(3)})
			return err
		}, invalidParam, "You can't remove the staging label AWSCURRENT from a version without moving it to another version in MoveToVersionId."},
		{"stage neither move nor remove", func(c *sm.Client) error {
			_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("X")})
			return err
		}, invalidParam, "You must specify MoveToVersionId or RemoveFromVersionId."},
	}
	e := newEnv(t, 0, 1)
	for _, p := range []struct {
		v string
		n int
	}{{"v1", 1}, {"v2", 2}, {"v3", 3}} {
		if p.n == 1 {
			if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(p.v), ClientRequestToken: tok(1)}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		e.put(t, "s", p.v, tok(p.n))
	}
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("novalue")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(e.client)
			if err == nil || !tc.want(err) {
				t.Fatalf("error = %v (%T), want a different type", err, err)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorMessage() != tc.msg {
				t.Errorf("message = %q\nwant      %q", ae.ErrorMessage(), tc.msg)
			}
		})
	}
}

func TestErrorWireShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{"SecretId":"missing"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || body["__type"] != "ResourceNotFoundException" || resp.Header.Get("x-amzn-RequestId") == "" ||
		resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("status %d, headers %v, body %v", resp.StatusCode, resp.Header, body)
	}

	req, _ = http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.NoSuchOperation")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 400 || e.calls.Count("secretsmanager", "NoSuchOperation") != 1 {
		t.Errorf("unknown operation: status %d, count %d", resp2.StatusCode, e.calls.Count("secretsmanager", "NoSuchOperation"))
	}
}

func TestIdempotentToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	create := &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v1"), ClientRequestToken: tok(1)}
	first, err := e.client.CreateSecret(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	// A retried CreateSecret with the same token and value is ignored.
	again, err := e.client.CreateSecret(ctx, create)
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(first.VersionId) || aws.ToString(again.ARN) != aws.ToString(first.ARN) {
		t.Fatalf("retried CreateSecret = %+v, %v", again, err)
	}
	p1 := e.put(t, "s", "v2", tok(2))
	p2 := e.put(t, "s", "v2", tok(2))
	if aws.ToString(p1.VersionId) != *tok(2) || aws.ToString(p2.VersionId) != *tok(2) {
		t.Errorf("VersionIds %q, %q, want both %q", aws.ToString(p1.VersionId), aws.ToString(p2.VersionId), *tok(2))
	}
	vs, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(vs.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds = %+v, %v; want 2 versions", vs, err)
	}
	_, err = e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("different"), ClientRequestToken: tok(2)})
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("same token, different value: error = %v, want ResourceExistsException", err)
	}
	got, _ := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	if aws.ToString(got.SecretString) != "v2" {
		t.Errorf("current value = %q after rejected put, want v2", aws.ToString(got.SecretString))
	}
	// Without a token the SDK supplies a fresh UUID, so every put is a new version.
	a := e.put(t, "s", "v3", nil)
	b := e.put(t, "s", "v3", nil)
	if aws.ToString(a.VersionId) == aws.ToString(b.VersionId) {
		t.Errorf("puts without token shared VersionId %q", aws.ToString(a.VersionId))
	}
}

func TestStagesAcrossThreePuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v1"), ClientRequestToken: tok(1)}); err != nil {
		t.Fatal(err)
	}
	e.put(t, "s", "v2", tok(2))
	e.put(t, "s", "v3", tok(3))
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{*tok(3): {"AWSCURRENT"}, *tok(2): {"AWSPREVIOUS"}}
	if fmt.Sprint(d.VersionIdsToStages) != fmt.Sprint(want) {
		t.Errorf("VersionIdsToStages = %v, want %v (unlabelled v1 omitted)", d.VersionIdsToStages, want)
	}
	for stage, v := range map[string]string{"AWSCURRENT": "v3", "AWSPREVIOUS": "v2"} {
		got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(stage)})
		if err != nil || aws.ToString(got.SecretString) != v {
			t.Errorf("GetSecretValue(%s) = %v, %v; want %s", stage, got, err, v)
		}
	}
	// The oldest version is deprecated: still readable by id, hidden unless asked for.
	old, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionId: tok(1)})
	if err != nil || aws.ToString(old.SecretString) != "v1" || len(old.VersionStages) != 0 {
		t.Errorf("GetSecretValue(v1) = %+v, %v", old, err)
	}
	for _, inc := range []bool{false, true} {
		vs, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(inc)})
		if err != nil {
			t.Fatal(err)
		}
		wantN := map[bool]int{false: 2, true: 3}[inc]
		if len(vs.Versions) != wantN || slices.ContainsFunc(vs.Versions, func(v types.SecretVersionsListEntry) bool { return len(v.KmsKeyIds) == 0 }) {
			t.Errorf("IncludeDeprecated=%v: %d versions, want %d", inc, len(vs.Versions), wantN)
		}
	}
	// Explicit VersionStages leave AWSCURRENT where it is.
	out, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v4"), ClientRequestToken: tok(4), VersionStages: []string{"AWSPENDING"}})
	if err != nil || !slices.Equal(out.VersionStages, []string{"AWSPENDING"}) {
		t.Fatalf("put AWSPENDING = %+v, %v", out, err)
	}
	cur, _ := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	if aws.ToString(cur.SecretString) != "v3" {
		t.Errorf("AWSCURRENT = %q after AWSPENDING put, want v3", aws.ToString(cur.SecretString))
	}
}

func TestUpdateSecretVersionStageCompareAndSwap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v1"), ClientRequestToken: tok(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: tok(2), VersionStages: []string{"AWSPENDING"}}); err != nil {
		t.Fatal(err)
	}
	// Stale expectation: AWSCURRENT is on v1, not v2. Nothing changes.
	_, err := e.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2), RemoveFromVersionId: tok(2),
	})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("CAS with wrong RemoveFromVersionId: %v, want InvalidParameterException", err)
	}
	// Correct expectation: swap succeeds, AWSPREVIOUS follows.
	if _, err := e.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2), RemoveFromVersionId: tok(1),
	}); err != nil {
		t.Fatalf("CAS: %v", err)
	}
	d, _ := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	want := map[string][]string{*tok(2): {"AWSPENDING", "AWSCURRENT"}, *tok(1): {"AWSPREVIOUS"}}
	if fmt.Sprint(d.VersionIdsToStages) != fmt.Sprint(want) {
		t.Errorf("after CAS: %v, want %v", d.VersionIdsToStages, want)
	}
	// The same swap again now fails: v1 no longer holds AWSCURRENT.
	_, err = e.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2), RemoveFromVersionId: tok(1),
	})
	if !errors.As(err, &ip) {
		t.Errorf("repeated CAS: %v, want InvalidParameterException", err)
	}
	// Rollback is one call.
	if _, err := e.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(1), RemoveFromVersionId: tok(2),
	}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	// Remove a custom label.
	if _, err := e.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: tok(2),
	}); err != nil {
		t.Fatalf("remove AWSPENDING: %v", err)
	}
	d, _ = e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	want = map[string][]string{*tok(1): {"AWSCURRENT"}, *tok(2): {"AWSPREVIOUS"}}
	if fmt.Sprint(d.VersionIdsToStages) != fmt.Sprint(want) {
		t.Errorf("after rollback: %v, want %v", d.VersionIdsToStages, want)
	}
}

func TestSecretStringLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	e.create(t, "s", "v")
	for _, tc := range []struct {
		n    int
		fail bool
	}{{65536, false}, {65537, true}} {
		_, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(strings.Repeat("a", tc.n))})
		if tc.fail != (err != nil) || (tc.fail && errCode(err) != "ValidationException") {
			t.Errorf("PutSecretValue %d chars: %v", tc.n, err)
		}
		_, err = e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(fmt.Sprintf("c%d", tc.n)), SecretString: aws.String(strings.Repeat("a", tc.n))})
		if tc.fail != (err != nil) || (tc.fail && errCode(err) != "ValidationException") {
			t.Errorf("CreateSecret %d chars: %v", tc.n, err)
		}
	}
	got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil || len(aws.ToString(got.SecretString)) != 65536 {
		t.Errorf("stored value: %v", err)
	}
}

func TestListSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	for i := range 250 {
		tags := []types.Tag{{Key: aws.String("certferry:not-after"), Value: aws.String(fmt.Sprintf("2026-%02d-01", i%12+1))}}
		if i%10 == 0 {
			tags = append(tags, types.Tag{Key: aws.String("team"), Value: aws.String("edge")})
		}
		e.create(t, fmt.Sprintf("cert-%03d", i), "v", tags...)
		e.clock.Add(time.Second)
	}
	var names []string
	var pages int
	p := sm.NewListSecretsPaginator(e.client, &sm.ListSecretsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.SecretList) > 100 {
			t.Errorf("page of %d", len(out.SecretList))
		}
		for _, s := range out.SecretList {
			names = append(names, aws.ToString(s.Name))
			if len(s.Tags) == 0 || s.SecretVersionsToStages == nil || s.CreatedDate == nil {
				t.Errorf("entry %s lacks tags, stages or date", aws.ToString(s.Name))
			}
		}
	}
	if pages != 3 || len(names) != 250 || !slices.IsSorted(names) {
		t.Errorf("%d pages, %d names, sorted %v", pages, len(names), slices.IsSorted(names))
	}
	desc, _ := e.client.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(1), SortOrder: types.SortOrderTypeDesc})
	if aws.ToString(desc.SecretList[0].Name) != "cert-249" {
		t.Errorf("desc first = %s", aws.ToString(desc.SecretList[0].Name))
	}

	count := func(fs ...types.Filter) int {
		n := 0
		p := sm.NewListSecretsPaginator(e.client, &sm.ListSecretsInput{Filters: fs})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.SecretList)
		}
		return n
	}
	f := func(k types.FilterNameStringType, v ...string) types.Filter { return types.Filter{Key: k, Values: v} }
	for _, tc := range []struct {
		name string
		fs   []types.Filter
		want int
	}{
		{"tag-key exact", []types.Filter{f("tag-key", "team")}, 25},
		{"tag-key prefix", []types.Filter{f("tag-key", "certferry:")}, 250},
		{"tag-key case-sensitive", []types.Filter{f("tag-key", "TEAM")}, 0},
		{"tag-key negated", []types.Filter{f("tag-key", "!team")}, 225},
		{"tag-value", []types.Filter{f("tag-value", "edge")}, 25},
		{"tag-value prefix", []types.Filter{f("tag-value", "2026-01")}, 21},
		{"tag-value or", []types.Filter{f("tag-value", "2026-01", "2026-02")}, 42},
		{"tag-key and tag-value", []types.Filter{f("tag-key", "team"), f("tag-value", "2026-01")}, 5},
		{"name prefix", []types.Filter{f("name", "cert-01")}, 10},
		{"name negated", []types.Filter{f("name", "!cert-0")}, 150},
		{"all words", []types.Filter{f("all", "EDGE")}, 25},
	} {
		if got := count(tc.fs...); got != tc.want {
			t.Errorf("%s: %d secrets, want %d", tc.name, got, tc.want)
		}
	}
	if got := count(f("description", "x")); got != 0 {
		t.Errorf("description filter matched %d secrets without description", got)
	}
}

func TestTagLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	e.create(t, "s", "v")
	tags := func(from, n int) []types.Tag {
		var out []types.Tag
		for i := from; i < from+n; i++ {
			out = append(out, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
		}
		return out
	}
	if _, err := e.client.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: tags(0, 50)}); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	// Overwriting an existing key does not count twice.
	if _, err := e.client.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: []types.Tag{{Key: aws.String("k0"), Value: aws.String("new")}}}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	_, err := e.client.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: tags(50, 1)})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("51st tag: %v, want InvalidParameterException", err)
	}
	if _, err := e.client.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"k1", "k2", "absent"}}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	if len(d.Tags) != 48 || aws.ToString(d.Tags[0].Value) != "new" {
		t.Errorf("%d tags, first %v", len(d.Tags), d.Tags[0])
	}
}

func TestVersionQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4, 1)
	ctx := context.Background()
	e.create(t, "s", "v0")
	for i := 1; i < 4; i++ {
		e.put(t, "s", fmt.Sprintf("v%d", i), nil)
	}
	// Four versions, two of them unlabelled but younger than 24 hours: AWS keeps them.
	_, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v4")})
	var le *types.LimitExceededException
	if !errors.As(err, &le) {
		t.Fatalf("5th version within 24h: %v, want LimitExceededException", err)
	}
	// A day later the oldest unlabelled version is removed to make room.
	e.clock.Add(24 * time.Hour)
	e.put(t, "s", "v4", tok(4))
	vs, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(vs.Versions) != 4 {
		t.Fatalf("versions after pruning = %d, %v", len(vs.Versions), err)
	}
	if _, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionId: aws.String(aws.ToString(vs.Versions[0].VersionId))}); err != nil {
		t.Errorf("oldest remaining version unreadable: %v", err)
	}

	// When every version carries a label nothing can be pruned, however old.
	e2 := newEnv(t, 2, 1)
	e2.create(t, "s", "v0")
	e2.put(t, "s", "v1", nil)
	e2.clock.Add(48 * time.Hour)
	_, err = e2.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2")})
	if !errors.As(err, &le) {
		t.Fatalf("all labelled: %v, want LimitExceededException", err)
	}
	// ListSecretVersionIds paging.
	p := sm.NewListSecretVersionIdsPaginator(e.client, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(3)})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Versions)
	}
	if n != 4 {
		t.Errorf("paged %d versions, want 4", n)
	}
}

func TestDeleteSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	e.create(t, "s", "v")
	out, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || !out.DeletionDate.Equal(e.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("DeleteSecret = %+v, %v", out, err)
	}
	var ir *types.InvalidRequestException
	for name, call := range map[string]func() error{
		"get": func() error {
			_, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
			return err
		},
		"put": func() error {
			_, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("x")})
			return err
		},
		"create same name": func() error {
			_, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("x")})
			return err
		},
		"delete again": func() error {
			_, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s")})
			return err
		},
	} {
		if err := call(); !errors.As(err, &ir) {
			t.Errorf("%s on a secret pending deletion: %v, want InvalidRequestException", name, err)
		}
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil || d.DeletedDate == nil {
		t.Errorf("DescribeSecret of a deleted secret = %+v, %v", d, err)
	}
	l, _ := e.client.ListSecrets(ctx, &sm.ListSecretsInput{})
	lp, _ := e.client.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if len(l.SecretList) != 0 || len(lp.SecretList) != 1 {
		t.Errorf("ListSecrets: %d without, %d with planned deletions", len(l.SecretList), len(lp.SecretList))
	}
	// RestoreSecret undoes it.
	if _, err := e.client.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Errorf("after restore: %v", err)
	}
	// After the window the secret is gone and the name is free.
	if _, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(30 * 24 * time.Hour)
	var nf *types.ResourceNotFoundException
	if _, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")}); !errors.As(err, &nf) {
		t.Errorf("after 30 days: %v, want ResourceNotFoundException", err)
	}
	e.create(t, "s", "again")
	// Force delete is immediate, also for a secret already scheduled.
	if _, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "s", "third")
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0, 1)
	e.calls.FailNext("secretsmanager", "CreateSecret", 1, calls.Fault{Code: "InternalServiceError", Message: "boom"})
	_, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")})
	var ise *types.InternalServiceError
	if !errors.As(err, &ise) || ise.ErrorMessage() != "boom" {
		t.Fatalf("CreateSecret with fault: %v, want InternalServiceError", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Errorf("fault status: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")}); !errors.As(err, &nf) {
		t.Errorf("a faulted CreateSecret changed state: %v", err)
	}
	e.create(t, "s", "v")
	for _, tc := range []struct {
		code string
		want func(error) bool
	}{
		{"DecryptionFailure", func(err error) bool { var x *types.DecryptionFailure; return errors.As(err, &x) }},
		{"EncryptionFailure", func(err error) bool { var x *types.EncryptionFailure; return errors.As(err, &x) }},
		{"LimitExceededException", func(err error) bool { var x *types.LimitExceededException; return errors.As(err, &x) }},
	} {
		e.calls.FailNext("secretsmanager", "GetSecretValue", 1, calls.Fault{Code: tc.code})
		_, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
		if !tc.want(err) {
			t.Errorf("fault %s: %v", tc.code, err)
		}
	}

	// With the SDK's retries, two 500s are absorbed by the third attempt.
	r := newEnv(t, 0, 3)
	r.create(t, "s", "v")
	r.calls.FailNext("secretsmanager", "PutSecretValue", 2, calls.Fault{Code: "InternalServiceError"})
	out, err := r.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: tok(7)})
	if err != nil || aws.ToString(out.VersionId) != *tok(7) {
		t.Fatalf("retried PutSecretValue = %v, %v", out, err)
	}
	if n := r.calls.Count("secretsmanager", "PutSecretValue"); n != 3 {
		t.Errorf("PutSecretValue calls = %d, want 3", n)
	}
}

func TestDenyAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	arn := aws.ToString(e.create(t, "prod/db", "v").ARN)
	e.create(t, "dev/db", "v")
	e.svc.DenyAccess("prod/")
	denied := func(err error) bool { return errCode(err) == "AccessDeniedException" }
	for name, call := range map[string]func() error{
		"get by name": func() error {
			_, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("prod/db")})
			return err
		},
		"get by ARN": func() error {
			_, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(arn)})
			return err
		},
		"put": func() error {
			_, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String("x")})
			return err
		},
		"create": func() error {
			_, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("prod/new")})
			return err
		},
		"describe missing": func() error {
			_, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("prod/missing")})
			return err
		},
	} {
		if err := call(); !denied(err) {
			t.Errorf("%s: %v, want AccessDeniedException", name, err)
		}
	}
	if _, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("dev/db")}); err != nil {
		t.Errorf("dev/db: %v", err)
	}
	got, _ := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("dev/db")})
	_ = got
	// The denied put changed nothing.
	vs, _ := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("dev/db")})
	if len(vs.Versions) != 1 {
		t.Errorf("dev/db versions = %d", len(vs.Versions))
	}
}

func TestCallCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 1)
	ctx := context.Background()
	e.create(t, "s", "v")
	e.put(t, "s", "v2", nil)
	_, _ = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	_, _ = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("missing")})
	_, _ = e.client.ListSecrets(ctx, &sm.ListSecretsInput{})
	want := map[string]int{
		"secretsmanager.CreateSecret": 1, "secretsmanager.PutSecretValue": 1,
		"secretsmanager.GetSecretValue": 2, "secretsmanager.ListSecrets": 1,
	}
	if got := e.calls.Counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if n := e.calls.ServiceTotal("secretsmanager"); n != 5 {
		t.Errorf("total = %d", n)
	}
}

func TestConcurrentPuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1000, 1)
	e.create(t, "s", "v")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.client.PutSecretValue(context.Background(), &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	d, _ := e.client.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String("s")})
	if len(d.VersionIdsToStages) != 2 {
		t.Errorf("labelled versions = %d, want 2", len(d.VersionIdsToStages))
	}
}
