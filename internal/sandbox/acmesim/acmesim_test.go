package acmesim_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
)

// Tests in this package start Pebble, which reads the process environment while it is
// constructed; acmesim serialises that itself, so the tests may run in parallel.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(acmesim.VAGoroutine))
}

type user struct {
	key crypto.PrivateKey
	reg *registration.Resource
}

func (u *user) GetEmail() string                        { return "" }
func (u *user) GetRegistration() *registration.Resource { return u.reg }
func (u *user) GetPrivateKey() crypto.PrivateKey        { return u.key }

type noopDNS struct{}

func (noopDNS) Present(domain, token, keyAuth string) error { return nil }
func (noopDNS) CleanUp(domain, token, keyAuth string) error { return nil }

// Timeout shortens lego's propagation polling interval (2 s by default).
func (noopDNS) Timeout() (timeout, interval time.Duration) {
	return 10 * time.Second, 50 * time.Millisecond
}

func startCA(t *testing.T, opts acmesim.Options) *acmesim.CA {
	t.Helper()
	ca, err := acmesim.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := ca.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ca
}

func newLego(t *testing.T, ca *acmesim.CA) *lego.Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = ca.DirectoryURL()
	cfg.HTTPClient = ca.HTTPClient()
	cfg.Certificate.KeyType = certcrypto.EC256
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatalf("lego.NewClient: %v", err)
	}
	if err := client.Challenge.SetDNS01Provider(noopDNS{},
		dns01.WrapPreCheck(func(string, string, string, dns01.PreCheckFunc) (bool, error) { return true, nil }),
	); err != nil {
		t.Fatal(err)
	}
	u.reg, err = client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return client
}

func leafOf(t *testing.T, bundle []byte) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	var leaf *x509.Certificate
	inter := x509.NewCertPool()
	for rest := bundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
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
		t.Fatal("no certificate in bundle")
	}
	return leaf, inter
}

func TestObtainProfiles(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true, CertValidity: 45 * 24 * time.Hour, Dir: filepath.Join(t.TempDir(), "new", "ca")})
	client := newLego(t, ca)

	rootsPEM, err := os.ReadFile(ca.IssuerRootsFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootsPEM) {
		t.Fatal("issuer roots file holds no certificate")
	}

	tests := []struct {
		profile  string
		validity time.Duration
		cn       string
	}{
		{acmesim.ProfileDefault, 45 * 24 * time.Hour, "a.example.com"},
		{acmesim.ProfileShortLived, 160 * time.Hour, ""},
		{acmesim.ProfileTLSServer, 90 * 24 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			res, err := client.Certificate.Obtain(certificate.ObtainRequest{
				Domains: []string{"a.example.com", "b.example.com"},
				Bundle:  true,
				Profile: tt.profile,
			})
			if err != nil {
				t.Fatalf("Obtain: %v", err)
			}
			leaf, inter := leafOf(t, res.Certificate)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "b.example.com"}); err != nil {
				t.Fatalf("verify against issuer roots: %v", err)
			}
			// Pebble's NotAfter is NotBefore + validity - 1s.
			if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != tt.validity {
				t.Errorf("validity = %s, want %s", got, tt.validity)
			}
			if leaf.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tt.cn)
			}
		})
	}
}

func TestIssuerRootsAndTLS(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{})
	pool, err := ca.IssuerRoots()
	if err != nil || pool == nil {
		t.Fatalf("IssuerRoots: %v", err)
	}
	// The TLS root is not an issuer root and vice versa: a plain client must fail.
	if _, err := (&http.Client{}).Get(ca.DirectoryURL()); err == nil {
		t.Fatal("GET with the system roots succeeded; want a TLS error")
	}
	resp, err := ca.HTTPClient().Get(ca.DirectoryURL())
	if err != nil {
		t.Fatalf("GET directory: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET directory: %s", resp.Status)
	}
	if _, err := os.Stat(ca.TLSRootsFile()); err != nil {
		t.Fatal(err)
	}
	dir := ca.TLSRootsFile()
	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir not removed: %v", err)
	}
}

func TestSetRenewalInfo(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	client := newLego(t, ca)
	res, err := client.Certificate.Obtain(certificate.ObtainRequest{
		Domains: []string{"ari.example.com"}, Bundle: true, Profile: acmesim.ProfileShortLived,
	})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	end := start.Add(2 * time.Hour)
	if err := ca.SetRenewalInfo(t.Context(), res.Certificate, start, end); err != nil {
		t.Fatalf("SetRenewalInfo: %v", err)
	}
	leaf, _ := leafOf(t, res.Certificate)
	info, err := client.Certificate.GetRenewalInfo(certificate.RenewalInfoRequest{Cert: leaf})
	if err != nil {
		t.Fatalf("GetRenewalInfo: %v", err)
	}
	if !info.SuggestedWindow.Start.Equal(start) || !info.SuggestedWindow.End.Equal(end) {
		t.Errorf("window = %s..%s, want %s..%s", info.SuggestedWindow.Start, info.SuggestedWindow.End, start, end)
	}

	// A certificate the CA never issued is refused.
	other := startCA(t, acmesim.Options{AlwaysValid: true})
	if err := other.SetRenewalInfo(t.Context(), res.Certificate, start, end); err == nil {
		t.Error("SetRenewalInfo of a foreign certificate succeeded")
	}
}

func TestNonceRejectRetried(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true, NonceRejectPercent: 50})
	client := newLego(t, ca)
	if _, err := client.Certificate.Obtain(certificate.ObtainRequest{
		Domains: []string{"nonce.example.com"}, Profile: acmesim.ProfileDefault,
	}); err != nil {
		t.Fatalf("Obtain with 50%% bad nonces: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts acmesim.Options
		want string
	}{
		{"nonce", acmesim.Options{NonceRejectPercent: 100}, "acmesim: NonceRejectPercent must be 0-99, got 100"},
		{"reuse", acmesim.Options{AuthzReusePercent: -1}, "acmesim: AuthzReusePercent must be 0-100, got -1"},
		{"profile", acmesim.Options{Profiles: map[string]acmesim.Profile{"x": {}}}, `acmesim: profile "x": Validity must be at least 1s, got 0s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := acmesim.Start(context.Background(), tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEnvRestored(t *testing.T) {
	// Not parallel: it reads the environment that Start changes for a moment.
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "7")
	startCA(t, acmesim.Options{})
	if got := os.Getenv("PEBBLE_WFE_NONCEREJECT"); got != "7" {
		t.Errorf("PEBBLE_WFE_NONCEREJECT = %q after Start, want 7", got)
	}
	if _, set := os.LookupEnv("PEBBLE_VA_ALWAYS_VALID"); set {
		t.Error("PEBBLE_VA_ALWAYS_VALID left set after Start")
	}
}
