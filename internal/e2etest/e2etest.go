// Package e2etest is the end-to-end test harness shared by the tests of renew, faults,
// cmd/certferry and daemon: a sandbox per test, a configuration written from its Info,
// an app built on the sandbox's AWS configuration, a pass that leaves no
// _acme-challenge record, and the checks of a stored secret.
//
// Only tests import it (it imports the sandbox); no binary may.
package e2etest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// Env is one sandbox and what a test needs to reach it.
type Env struct {
	SB   *sandbox.Sandbox
	Info sandbox.Info
	AWS  aws.Config // the sandbox's; App builds every app on it
	SM   *awssm.Client
	Dir  string          // the test's directory: the CA under ca/, {{files}} is files/
	Opts sandbox.Options // what the sandbox was started with (PassBound derives waits from it)

	// Base is the pass-wide YAML that Config puts before its extra keys.
	Base string
	// Logger is the logger of the apps App builds; nil: warnings and above to the
	// test's log.
	Logger *zap.Logger
}

// Start starts a sandbox for the test (closed at cleanup) in a temporary directory;
// opts.Dir, when empty, is ca/ in it.
func Start(t *testing.T, opts sandbox.Options) *Env {
	t.Helper()
	dir := t.TempDir()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(dir, "ca")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testwait.For(0)) // local listeners and Pebble: a step
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("sandbox.Start: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	e := &Env{SB: sb, Info: sb.Info(), Dir: dir, Opts: opts}
	e.AWS = sb.AWSConfig(t.Context())
	e.SM = awssm.NewFromConfig(e.AWS)
	return e
}

// Expand replaces the placeholders {{dir}} {{ca}} {{issuer}} {{region}} {{endpoint}}
// with the sandbox's Info and {{files}} with files/ in the test's directory.
func (e *Env) Expand(yaml string) string {
	return strings.NewReplacer("{{dir}}", e.Info.ACMEDirectory, "{{ca}}", e.Info.ACMECABundle, "{{issuer}}", e.Info.IssuerRoots,
		"{{region}}", e.Info.Region, "{{endpoint}}", e.Info.AWSEndpoint, "{{files}}", filepath.Join(e.Dir, "files")).Replace(yaml)
}

// WriteConfig writes yaml, its placeholders expanded, to a new file in the test's
// directory and returns its path.
func (e *Env) WriteConfig(t *testing.T, yaml string) string {
	t.Helper()
	f, err := os.CreateTemp(e.Dir, "certferry-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(e.Expand(yaml)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	return f.Name()
}

// Config writes and loads a configuration: Base, then extra (top-level keys and the
// certificates list), placeholders expanded.
func (e *Env) Config(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Load(e.WriteConfig(t, e.Base+extra), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// App builds an app on the sandbox's AWS configuration with e.Logger.
func (e *Env) App(t *testing.T, cfg *config.Config) *app.App {
	t.Helper()
	return e.AppWith(t, cfg, nil, nil)
}

// AppWith builds an app with a clock (nil: time.Now) and a logger (nil: e.Logger).
func (e *Env) AppWith(t *testing.T, cfg *config.Config, now func() time.Time, log *zap.Logger) *app.App {
	t.Helper()
	if log == nil {
		log = e.Logger
	}
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	a, err := app.New(t.Context(), cfg, log, app.Options{AWS: &e.AWS, Version: "test", Now: now})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return a
}

// Pass runs one pass and checks what must hold after every pass: no _acme-challenge
// record is left in any zone.
func (e *Env) Pass(t *testing.T, a *app.App, opts renew.Options) *renew.Summary {
	t.Helper()
	// A safety net, twice the bound of a pass against this sandbox: a wedged pass fails
	// here with its own error instead of at go test's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 2*e.PassBound())
	defer cancel()
	sum, err := a.Runner.Pass(ctx, opts)
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	e.NoChallengeLeft(t)
	return sum
}

// NoChallengeLeft fails the test when a zone still holds an _acme-challenge record.
func (e *Env) NoChallengeLeft(t *testing.T) {
	t.Helper()
	for zone, id := range e.Info.Zones {
		for _, rs := range e.SB.Route53().Records(id) {
			if rs.Type == "TXT" && strings.HasPrefix(rs.Name, "_acme-challenge.") { // a CNAME there is the operator's delegation
				t.Errorf("zone %s still holds %s %s %v", zone, rs.Name, rs.Type, rs.Values)
			}
		}
	}
}

// Secret is one version of a stored secret (docs/secret-format.md).
type Secret struct {
	Cert      string   `json:"cert"`
	Key       string   `json:"key"`
	Chain     string   `json:"chain"`
	Domains   []string `json:"domains"`
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Serial    string   `json:"serial"`
	Issuer    string   `json:"issuer"`
	ARIID     string   `json:"ari_id"`

	VersionID string            `json:"-"`
	Leaf      *x509.Certificate `json:"-"`
	// Roots are the sandbox's issuer roots, Intermediates the certificates of Chain.
	Roots, Intermediates *x509.CertPool `json:"-"`
}

// Stored reads a version of a secret ("AWSCURRENT", "AWSPREVIOUS") and checks what a
// server relies on: cert and key load as a pair (tls.X509KeyPair), cert is the leaf and
// the chain, the chain verifies to the sandbox's issuer roots for every stored name, and
// the metadata (serial, ari_id) matches the certificate.
func (e *Env) Stored(t *testing.T, name, stage string) *Secret {
	t.Helper()
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue %s %s: %v", name, stage, err)
	}
	var s Secret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		t.Fatalf("secret %s %s: not JSON: %v", name, stage, err)
	}
	s.VersionID = aws.ToString(out.VersionId)
	pair, err := tls.X509KeyPair([]byte(s.Cert), []byte(s.Key))
	if err != nil {
		t.Fatalf("secret %s %s: tls.X509KeyPair: %v", name, stage, err)
	}
	if s.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		t.Fatal(err)
	}
	s.Roots, s.Intermediates = x509.NewCertPool(), x509.NewCertPool()
	rootsPEM, err := os.ReadFile(e.Info.IssuerRoots)
	if err != nil || !s.Roots.AppendCertsFromPEM(rootsPEM) {
		t.Fatalf("issuer roots %s: %v", e.Info.IssuerRoots, err)
	}
	if !s.Intermediates.AppendCertsFromPEM([]byte(s.Chain)) {
		t.Fatalf("secret %s %s: chain holds no certificate", name, stage)
	}
	if _, err := s.Leaf.Verify(x509.VerifyOptions{Roots: s.Roots, Intermediates: s.Intermediates}); err != nil {
		t.Fatalf("secret %s %s: chain: %v", name, stage, err)
	}
	if n := strings.Count(s.Cert, "BEGIN CERTIFICATE"); n != 1+strings.Count(s.Chain, "BEGIN CERTIFICATE") {
		t.Errorf("secret %s %s: cert holds %d certificates, want the leaf and the chain", name, stage, n)
	}
	for _, d := range s.Domains {
		if _, err := s.Leaf.Verify(x509.VerifyOptions{Roots: s.Roots, Intermediates: s.Intermediates, DNSName: d}); err != nil {
			t.Errorf("secret %s %s: verify for %s: %v", name, stage, d, err)
		}
	}
	if got := fmt.Sprintf("%x", s.Leaf.SerialNumber); !strings.EqualFold(strings.TrimLeft(s.Serial, "0"), got) {
		t.Errorf("secret %s %s: serial %q, leaf has %s", name, stage, s.Serial, got)
	}
	if s.ARIID == "" {
		t.Errorf("secret %s %s: no ari_id", name, stage)
	}
	if block, _ := pem.Decode([]byte(s.Key)); block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		t.Errorf("secret %s %s: key is not a PEM private key", name, stage)
	}
	return &s
}

// Result returns the pass's result for name.
func Result(t *testing.T, sum *renew.Summary, name string) *renew.Result {
	t.Helper()
	for _, r := range sum.Results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %q in %+v", name, sum.Results)
	return nil
}

// WantOK returns the pass's result for name, and fails the test unless it succeeded
// with action and reason.
func WantOK(t *testing.T, sum *renew.Summary, name string, action renew.Action, reason scheduler.Reason) *renew.Result {
	t.Helper()
	r := Result(t, sum, name)
	if r.Err() != nil || r.Action != action || r.Reason != reason {
		t.Fatalf("%s: got action %q reason %q error %v; want action %q reason %q, no error", name, r.Action, r.Reason, r.Err(), action, reason)
	}
	return r
}

// VersionCount returns how many versions a secret has (DescribeSecret's
// VersionIdsToStages); a secret that does not exist has none.
func (e *Env) VersionCount(t *testing.T, name string) int {
	t.Helper()
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return 0
	}
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", name, err)
	}
	return len(out.VersionIdsToStages)
}
