package sandbox_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	acmeapi "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(acmesim.VAGoroutine))
}

func start(t *testing.T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// TestStartCloseNoLeak is not parallel: goleak.VerifyNone sees every goroutine.
func TestStartCloseNoLeak(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Zones: []string{"example.com"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	resp, err := http.Get(sb.Info().AWSEndpoint + "/_sandbox/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := sb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction(acmesim.VAGoroutine), goleak.IgnoreCurrent())
}

func TestInfoJSON(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{Zones: []string{"Example.COM", "b.example.org."}, PrivateZones: []string{"internal.example"}})
	b, err := json.Marshal(sb.Info())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"acme_ca_bundle", "acme_directory", "aws_endpoint", "dns", "issuer_roots", "lease_table", "persist_issuer", "region", "zones"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	info := sb.Info()
	if info.PersistIssuer != acmesim.DefaultPersistIssuer {
		t.Errorf("persist_issuer = %q, want %q", info.PersistIssuer, acmesim.DefaultPersistIssuer)
	}
	if len(info.Zones) != 2 || info.Zones["example.com."] == "" || info.Zones["b.example.org."] == "" {
		t.Errorf("zones = %v, want example.com. and b.example.org.", info.Zones)
	}
	if info.Region != "us-east-1" || !strings.HasPrefix(info.AWSEndpoint, "http://127.0.0.1:") ||
		!strings.HasPrefix(info.ACMEDirectory, "https://127.0.0.1:") || !strings.HasPrefix(info.DNS, "127.0.0.1:") {
		t.Errorf("info = %+v", info)
	}
	for _, f := range []string{info.ACMECABundle, info.IssuerRoots} {
		if b, err := os.ReadFile(f); err != nil || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The private zone exists through the API.
	out, err := route53.NewFromConfig(sb.AWSConfig(t.Context())).ListHostedZonesByName(t.Context(),
		&route53.ListHostedZonesByNameInput{DNSName: aws.String("internal.example")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.HostedZones) == 0 || aws.ToString(out.HostedZones[0].Name) != "internal.example." ||
		out.HostedZones[0].Config == nil || !out.HostedZones[0].Config.PrivateZone {
		t.Errorf("private zone not listed: %+v", out.HostedZones)
	}
}

func TestUnknownService(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, sb.Info().AWSEndpoint+"/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %s, want 404", resp.Status)
	}
}

func TestSecretsManagerRoundTrip(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{})
	ctx := t.Context()
	sm := secretsmanager.NewFromConfig(sb.AWSConfig(ctx))
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("certificate"), SecretString: aws.String(`{"cert":"one"}`),
	})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if !strings.HasPrefix(aws.ToString(created.ARN), "arn:aws:secretsmanager:us-east-1:") {
		t.Errorf("ARN = %s", aws.ToString(created.ARN))
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("certificate"), SecretString: aws.String(`{"cert":"two"}`),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000002"),
	}); err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("certificate")})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(got.SecretString) != `{"cert":"two"}` {
		t.Errorf("AWSCURRENT = %s", aws.ToString(got.SecretString))
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String("certificate"), VersionStage: aws.String("AWSPREVIOUS"),
	})
	if err != nil {
		t.Fatalf("GetSecretValue AWSPREVIOUS: %v", err)
	}
	if aws.ToString(prev.SecretString) != `{"cert":"one"}` {
		t.Errorf("AWSPREVIOUS = %s", aws.ToString(prev.SecretString))
	}
	c := sb.Calls()
	if c.Count("secretsmanager", "CreateSecret") != 1 || c.Count("secretsmanager", "PutSecretValue") != 1 ||
		c.Count("secretsmanager", "GetSecretValue") != 2 {
		t.Errorf("calls = %s", c)
	}
	// The control endpoint serves the same counters.
	resp, err := http.Get(sb.Info().AWSEndpoint + "/_sandbox/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	if counts["secretsmanager.GetSecretValue"] != 2 {
		t.Errorf("/_sandbox/calls = %v", counts)
	}
}

// route53Provider is a minimal DNS-01 provider: one UPSERT per challenge through the real
// SDK client, then GetChange until INSYNC.
type route53Provider struct {
	ctx    context.Context
	insync time.Duration // the sandbox's InsyncAfter: GetChange polls give up after 100 times it
	client *route53.Client
	zoneID string
}

func (p *route53Provider) change(action r53types.ChangeAction, domain, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	out, err := p.client.ChangeResourceRecordSets(p.ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(p.zoneID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
			Action: action,
			ResourceRecordSet: &r53types.ResourceRecordSet{
				Name:            aws.String(info.EffectiveFQDN),
				Type:            r53types.RRTypeTxt,
				TTL:             aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"` + info.Value + `"`)}},
			},
		}}},
	})
	if err != nil {
		return fmt.Errorf("route53 %s %s: %w", action, info.EffectiveFQDN, err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 100*p.insync)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := p.client.GetChange(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id})
		if err != nil {
			return fmt.Errorf("route53 GetChange: %w", err)
		}
		if got.ChangeInfo.Status == r53types.ChangeStatusInsync {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("route53 wait for INSYNC: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *route53Provider) Present(domain, _, keyAuth string) error {
	return p.change(r53types.ChangeActionUpsert, domain, keyAuth)
}

func (p *route53Provider) CleanUp(domain, _, keyAuth string) error {
	return p.change(r53types.ChangeActionDelete, domain, keyAuth)
}

// Timeout makes lego's propagation check poll the sandbox DNS quickly (its default
// interval is 2 s).
func (p *route53Provider) Timeout() (timeout, interval time.Duration) {
	return 30 * time.Second, 50 * time.Millisecond
}

type user struct {
	key crypto.PrivateKey
	reg *registration.Resource
}

func (u *user) GetEmail() string                        { return "" }
func (u *user) GetRegistration() *registration.Resource { return u.reg }
func (u *user) GetPrivateKey() crypto.PrivateKey        { return u.key }

// TestIssueEndToEnd is the whole DNS-01 path: lego asks Pebble for an order, the
// provider writes TXT records through the Route 53 API, Pebble validates them through
// the sandbox DNS (over TCP), and the issued chain verifies against the issuer roots.
// It is the only test in this package that sets lego's (global) recursive nameservers.
func TestIssueEndToEnd(t *testing.T) {
	t.Parallel()
	const insync = 300 * time.Millisecond
	sb := start(t, sandbox.Options{
		Zones:        []string{"example.com"},
		InsyncAfter:  insync,
		CertValidity: 30 * 24 * time.Hour,
	})
	ctx := t.Context()
	info := sb.Info()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = info.ACMEDirectory
	cfg.HTTPClient = sb.CA().HTTPClient()
	cfg.Certificate.KeyType = certcrypto.EC256
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatalf("lego.NewClient: %v", err)
	}
	provider := &route53Provider{ctx: ctx, insync: insync, client: route53.NewFromConfig(sb.AWSConfig(ctx)), zoneID: info.Zones["example.com."]}
	if err := client.Challenge.SetDNS01Provider(provider,
		dns01.AddRecursiveNameservers([]string{info.DNS}),
		dns01.DisableAuthoritativeNssPropagationRequirement(),
	); err != nil {
		t.Fatal(err)
	}
	if u.reg, err = client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	res, err := client.Certificate.Obtain(certificate.ObtainRequest{
		Domains: []string{"example.com", "www.example.com"},
		Bundle:  true,
		Profile: acmesim.ProfileDefault,
	})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}

	rootsPEM, err := os.ReadFile(info.IssuerRoots)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootsPEM) {
		t.Fatal("no certificate in issuer roots file")
	}
	leaf, inter := parseBundle(t, res.Certificate)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "www.example.com"}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != 30*24*time.Hour {
		t.Errorf("validity = %s, want 720h", got)
	}

	c := sb.Calls()
	if n := c.Count("route53", "ChangeResourceRecordSets"); n != 4 { // two UPSERTs, two DELETEs
		t.Errorf("ChangeResourceRecordSets calls = %d, want 4 (%s)", n, c)
	}
	if c.Count("route53", "GetChange") < 4 {
		t.Errorf("GetChange calls = %d, want >= 4 (%s)", c.Count("route53", "GetChange"), c)
	}
	if c.Count("acme", "NewOrder") != 1 || c.Count("acme", "Finalize") != 1 || c.Count("acme", "Challenge") != 2 {
		t.Errorf("ACME calls = %s", c)
	}
	for _, rs := range sb.Route53().Records(info.Zones["example.com."]) {
		if rs.Type == "TXT" {
			t.Errorf("TXT record left after CleanUp: %+v", rs)
		}
	}

	// ARI through the sandbox control endpoint.
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	body, _ := json.Marshal(map[string]any{
		"certificate": string(res.Certificate), "start": start, "end": start.Add(time.Hour),
	})
	resp, err := http.Post(info.AWSEndpoint+"/_sandbox/renewal-info", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_sandbox/renewal-info: %s", resp.Status)
	}
	ri, err := client.Certificate.GetRenewalInfo(certificate.RenewalInfoRequest{Cert: leaf})
	if err != nil {
		t.Fatalf("GetRenewalInfo: %v", err)
	}
	if !ri.SuggestedWindow.Start.Equal(start) {
		t.Errorf("ARI window start = %s, want %s", ri.SuggestedWindow.Start, start)
	}

	// An injected ACME fault reaches the client as a typed problem.
	c.FailNext("acme", "NewOrder", 1, calls.Fault{Code: "rateLimited", Message: "too many certificates", Status: http.StatusTooManyRequests})
	_, err = client.Certificate.Obtain(certificate.ObtainRequest{Domains: []string{"example.com"}, Profile: acmesim.ProfileDefault})
	var rl *acmeapi.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != "1" {
		t.Errorf("Obtain after a rateLimited fault: err = %v, want RateLimitedError with Retry-After 1", err)
	}
}

func parseBundle(t *testing.T, bundle []byte) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	var leaf *x509.Certificate
	inter := x509.NewCertPool()
	for rest := bundle; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if leaf == nil {
			leaf = c
		} else {
			inter.AddCert(c)
		}
	}
	if leaf == nil {
		t.Fatal(errors.New("no certificate in bundle"))
	}
	return leaf, inter
}

func TestRoute53ThrottlingAndFaults(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{Zones: []string{"example.com"}, Route53Rate: 0.001, Route53Burst: 2})
	ctx := t.Context()
	cfg := sb.AWSConfig(ctx)
	cfg.RetryMaxAttempts = 1
	r53 := route53.NewFromConfig(cfg)
	list := func() error {
		_, err := r53.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
		return err
	}
	for i := range 2 {
		if err := list(); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	if err := list(); err == nil || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("third call: err = %v, want Throttling", err)
	}

	// A fault injected through the control endpoint reaches the SDK.
	smCfg := sb.AWSConfig(ctx)
	smCfg.RetryMaxAttempts = 1
	sm := secretsmanager.NewFromConfig(smCfg)
	body := `{"service":"secretsmanager","operation":"ListSecrets","code":"InternalServiceError","status":500}`
	resp, err := http.Post(sb.Info().AWSEndpoint+"/_sandbox/faults", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_sandbox/faults: %s", resp.Status)
	}
	if _, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err == nil || !strings.Contains(err.Error(), "InternalServiceError") {
		t.Fatalf("ListSecrets: err = %v, want InternalServiceError", err)
	}
	if _, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets after the fault: %v", err)
	}
}
