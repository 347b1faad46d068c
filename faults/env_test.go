package faults_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sandbox"
)

// env is one sandbox (the shared harness), the Route 53 client a test checks it with,
// and the debug log of every runner the test built (checked for key material at
// cleanup: scenario 11).
type env struct {
	*e2etest.Env
	r53  *awsroute53.Client
	logs *syncBuffer
}

// syncBuffer is the log sink shared by a test's runners.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	e := &env{Env: e2etest.Start(t, opts), logs: &syncBuffer{}}
	e.Base = configYAML
	e.AWS.Retryer = fastRetries
	e.SM = awssm.NewFromConfig(e.AWS)
	e.r53 = awsroute53.NewFromConfig(e.AWS)
	// Every runner the test builds logs at debug level, as JSON, into e.logs.
	e.Logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), e.logs, zapcore.DebugLevel))
	t.Cleanup(func() {
		out := e.logs.String()
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("the debug log holds key material")
		}
		if !strings.Contains(out, `"level":"debug"`) {
			t.Errorf("no debug line logged: the key-material check saw nothing")
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

const webCert = `certificates:
  - name: web
    domains: [www.example.com]
    profile: default
    sinks:
      secretsmanager: { secret: certferry/web }
`

func result(t *testing.T, sum *renew.Summary, name string) *renew.Result {
	t.Helper()
	for _, r := range sum.Results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %q", name)
	return nil
}

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

// eventually polls cond every 10ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hookScript writes an exec hook that appends "<event> <name>" to a log, and fails
// while the file fail exists.
func hookScript(t *testing.T, dir string) (script, log, fail string) {
	t.Helper()
	script = filepath.Join(dir, "hook.sh")
	log = filepath.Join(dir, "hook.log")
	fail = filepath.Join(dir, "hook.fail")
	body := "#!/bin/sh\necho \"$CERTFERRY_EVENT $CERTFERRY_NAME\" >> " + log + "\n" +
		"if [ -e " + fail + " ]; then echo 'redeploy failed' >&2; exit 3; fi\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log, fail
}

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
