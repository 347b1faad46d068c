package faults_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sandbox"
)

// env is one sandbox, the AWS clients a test checks it with, and the debug log of every
// runner the test built (checked for key material at cleanup: scenario 11).
type env struct {
	sb   *sandbox.Sandbox
	info sandbox.Info
	aws  aws.Config
	sm   *awssm.Client
	r53  *awsroute53.Client
	dir  string
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
	dir := t.TempDir()
	opts.Dir = filepath.Join(dir, "ca")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("sandbox.Start: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	e := &env{sb: sb, info: sb.Info(), dir: dir, logs: &syncBuffer{}}
	e.aws = sb.AWSConfig(t.Context())
	e.aws.Retryer = fastRetries
	e.sm = awssm.NewFromConfig(e.aws)
	e.r53 = awsroute53.NewFromConfig(e.aws)
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

// config writes and loads a configuration: the pass-wide keys, then extra.
func (e *env) config(t *testing.T, extra string) *config.Config {
	t.Helper()
	r := strings.NewReplacer("{{dir}}", e.info.ACMEDirectory, "{{ca}}", e.info.ACMECABundle, "{{issuer}}", e.info.IssuerRoots,
		"{{region}}", e.info.Region, "{{endpoint}}", e.info.AWSEndpoint)
	f, err := os.CreateTemp(e.dir, "certferry-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(r.Replace(configYAML + extra)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	cfg, err := config.Load(f.Name(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// app builds a runner (a process) with a debug logger writing JSON into e.logs.
func (e *env) app(t *testing.T, cfg *config.Config) *app.App {
	t.Helper()
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), e.logs, zapcore.DebugLevel)
	a, err := app.New(t.Context(), cfg, zap.New(core), app.Options{AWS: &e.aws, Version: "test"})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return a
}

// pass runs one pass and checks that no _acme-challenge record is left.
func (e *env) pass(t *testing.T, a *app.App, opts renew.Options) *renew.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	sum, err := a.Runner.Pass(ctx, opts)
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	e.noChallengeLeft(t)
	return sum
}

func (e *env) noChallengeLeft(t *testing.T) {
	t.Helper()
	for zone, id := range e.info.Zones {
		for _, rs := range e.sb.Route53().Records(id) {
			if strings.HasPrefix(rs.Name, "_acme-challenge.") {
				t.Errorf("zone %s still holds %s %s %v", zone, rs.Name, rs.Type, rs.Values)
			}
		}
	}
}

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

// stored is one version of a contract 1 secret whose cert and key were checked to be a
// pair and whose chain verifies to the sandbox's roots.
type stored struct {
	Serial    string `json:"serial"`
	VersionID string `json:"-"`
	NotAfter  string `json:"not_after"`
}

// stage reads a secret at a stage and checks it (tls.X509KeyPair, chain).
func (e *env) stage(t *testing.T, secret, stage string) stored {
	t.Helper()
	out, err := e.sm.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String(secret), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue %s %s: %v", secret, stage, err)
	}
	var s struct {
		stored
		Cert  string `json:"cert"`
		Key   string `json:"key"`
		Chain string `json:"chain"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		t.Fatalf("%s %s: not JSON: %v", secret, stage, err)
	}
	pair, err := tls.X509KeyPair([]byte(s.Cert), []byte(s.Key))
	if err != nil {
		t.Fatalf("%s %s: key does not match the certificate: %v", secret, stage, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	pemRoots, err := os.ReadFile(e.info.IssuerRoots)
	if err != nil || !roots.AppendCertsFromPEM(pemRoots) {
		t.Fatalf("issuer roots: %v", err)
	}
	inter.AppendCertsFromPEM([]byte(s.Chain))
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("%s %s: chain: %v", secret, stage, err)
	}
	s.stored.VersionID = aws.ToString(out.VersionId)
	return s.stored
}

// versions returns every version id of a secret with its stages.
func (e *env) versions(t *testing.T, secret string) map[string][]string {
	t.Helper()
	out, err := e.sm.ListSecretVersionIds(t.Context(), &awssm.ListSecretVersionIdsInput{SecretId: aws.String(secret), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, v := range out.Versions {
		m[aws.ToString(v.VersionId)] = v.VersionStages
	}
	return m
}

func (e *env) orders() int { return e.sb.Calls().Count("acme", "NewOrder") }

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
