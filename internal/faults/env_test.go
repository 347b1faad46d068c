package faults_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
)

// env is one sandbox (the shared harness), the Route 53 client a test checks it with,
// and the debug log of every runner the test built (checked for key material at
// cleanup: scenario 11).
type env struct {
	*e2etest.Env
	r53  *awsroute53.Client
	logs *e2etest.LogBuffer
}

// fastRetries is the SDK's standard retryer (3 attempts, the same retryable errors)
// with millisecond backoff and no retry quota, so faults cost no wall-clock time.
func fastRetries() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.NewExponentialJitterBackoff(20 * time.Millisecond)
		o.RateLimiter = ratelimit.None
	})
}

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("sandbox test")
	}
	if opts.Zones == nil {
		opts.Zones = []string{"example.com"}
	}
	if opts.InsyncAfter == 0 {
		opts.InsyncAfter = 100 * time.Millisecond
	}
	e := &env{Env: e2etest.Start(t, opts)}
	e.Base = configYAML
	e.AWS.Retryer = fastRetries
	e.SM = awssm.NewFromConfig(e.AWS)
	e.r53 = awsroute53.NewFromConfig(e.AWS)
	// Every runner the test builds logs at debug level, as JSON, into e.logs, which must
	// hold no key material when the test ends (scenario 11).
	e.logs, e.Logger = e2etest.DebugLog(t)
	t.Cleanup(func() {
		// The key-material check must have seen debug lines, if anything was logged.
		if out := e.logs.String(); out != "" && !strings.Contains(out, `"level":"debug"`) {
			t.Errorf("no debug line logged: the key-material check saw only the higher levels")
		}
	})
	return e
}

const configYAML = `acme:
  directory: {{dir}}
  email: faults@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
concurrency: 4
issuance_guard: 0s
`

// webCert is the certificate most scenarios run: web, for www.example.com.
var webCert = e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"))

// result and wantOK are the harness's (internal/e2etest).
var (
	result = e2etest.Result
	wantOK = e2etest.WantOK
)

// versions returns every version id of a secret with its stages.
func (e *env) versions(t *testing.T, secret string) map[string][]string {
	t.Helper()
	out, err := e.SM.ListSecretVersionIds(t.Context(), &awssm.ListSecretVersionIdsInput{SecretId: aws.String(secret), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, v := range out.Versions {
		m[aws.ToString(v.VersionId)] = v.VersionStages
	}
	return m
}

func (e *env) orders() int { return e.SB.Calls().Count("acme", "NewOrder") }

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}
