package acme_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/accountstore/storetest"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/sinks/file"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(acmesim.VAGoroutine))
}

// counter is a RoundTripper that counts requests by "METHOD path" and keeps the JWS
// payloads POSTed to each path.
type counter struct {
	base http.RoundTripper

	mu       sync.Mutex
	counts   map[string]int
	payloads map[string][]string
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	var payload string
	if req.Body != nil && req.Method == http.MethodPost {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		var jws struct {
			Payload string `json:"payload"`
		}
		if json.Unmarshal(b, &jws) == nil {
			p, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
			payload = string(p)
		}
	}
	c.mu.Lock()
	key := req.Method + " " + req.URL.Path
	c.counts[key]++
	c.payloads[req.URL.Path] = append(c.payloads[req.URL.Path], payload)
	c.mu.Unlock()
	return c.base.RoundTrip(req)
}

func (c *counter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

func (c *counter) sent(path string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.payloads[path]...)
}

func startCA(t *testing.T, opts acmesim.Options) *acmesim.CA {
	t.Helper()
	ca, err := acmesim.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("acmesim.Start: %v", err)
	}
	t.Cleanup(func() { _ = ca.Close() })
	return ca
}

type clientOpts struct {
	store     acme.AccountStore
	logger    *zap.Logger
	rps       float64
	onRequest func(endpoint string, status int, took time.Duration)
}

func newClient(t *testing.T, ca *acmesim.CA, o clientOpts) (*acme.Client, *counter) {
	t.Helper()
	hc := ca.HTTPClient()
	cnt := &counter{base: hc.Transport, counts: map[string]int{}, payloads: map[string][]string{}}
	hc.Transport = cnt
	if o.store == nil {
		o.store = file.NewAccountStore(t.TempDir())
	}
	c, err := acme.New(t.Context(), acme.Config{
		DirectoryURL:      ca.DirectoryURL(),
		Email:             "ops@example.com",
		HTTPClient:        hc,
		UserAgent:         "certferry-test",
		Store:             o.store,
		Logger:            o.logger,
		RequestsPerSecond: o.rps,
		OnRequest:         o.onRequest,
	})
	if err != nil {
		t.Fatalf("acme.New: %v", err)
	}
	return c, cnt
}

// issue runs Begin and Complete; with AlwaysValid nothing needs presenting.
func issue(t *testing.T, c *acme.Client, req acme.OrderRequest) (*acme.Order, *acme.Certificate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), orderBound)
	defer cancel()
	o, err := c.Begin(ctx, req)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	cert, err := c.Complete(ctx, o)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return o, cert
}

func parseChain(t *testing.T, fullchain []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := fullchain; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) < 2 {
		t.Fatalf("fullchain holds %d certificates, want leaf + intermediates", len(out))
	}
	return out
}

func TestIssue(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	roots, err := ca.IssuerRoots()
	if err != nil {
		t.Fatal(err)
	}
	c, cnt := newClient(t, ca, clientOpts{})

	long := strings.Repeat("a", 60) + ".example.com" // 72 characters: no CN
	for _, tc := range []struct {
		name    string
		domains []string
		keyType string
		cn      string
		checkPK func(any) bool
	}{
		{"one name", []string{"one.example.com"}, "", "one.example.com", isEC(elliptic.P256())},
		{"several names", []string{"www.example.com", "example.com", "api.example.com"}, "ec256", "www.example.com", isEC(elliptic.P256())},
		{"wildcard", []string{"*.wild.example.com", "wild.example.com"}, "ec384", "*.wild.example.com", isEC(elliptic.P384())},
		{"rsa2048", []string{"rsa2048.example.com"}, "rsa2048", "rsa2048.example.com", isRSA(2048)},
		{"rsa3072", []string{"rsa3072.example.com"}, "rsa3072", "rsa3072.example.com", isRSA(3072)},
		{"rsa4096", []string{"rsa4096.example.com"}, "rsa4096", "rsa4096.example.com", isRSA(4096)},
		{"long first name", []string{long, "short.example.com"}, "ec256", "", isEC(elliptic.P256())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, cert := issue(t, c, acme.OrderRequest{Name: tc.name, Domains: tc.domains, KeyType: tc.keyType, Profile: acmesim.ProfileDefault})
			if len(o.Challenges) != len(tc.domains) {
				t.Errorf("challenges: got %d, want %d", len(o.Challenges), len(tc.domains))
			}
			for i, ch := range o.Challenges {
				base := strings.TrimPrefix(ch.Domain, "*.")
				if ch.Domain != tc.domains[i] || ch.FQDN != "_acme-challenge."+base+"." || len(ch.Value) != 43 {
					t.Errorf("challenge %d: %+v", i, ch)
				}
			}
			chain := parseChain(t, cert.FullchainPEM)
			leaf := chain[0]
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: strings.Replace(tc.domains[0], "*", "x", 1)}); err != nil {
				t.Errorf("verify: %v", err)
			}
			if !equalSets(leaf.DNSNames, tc.domains) {
				t.Errorf("DNS names %v, want %v", leaf.DNSNames, tc.domains)
			}
			csr := finalizedCSR(t, cnt, o)
			if csr.Subject.CommonName != tc.cn || !equalSets(csr.DNSNames, tc.domains) {
				t.Errorf("CSR CN %q names %v, want CN %q names %v", csr.Subject.CommonName, csr.DNSNames, tc.cn, tc.domains)
			}
			if !tc.checkPK(leaf.PublicKey) {
				t.Errorf("public key %T is not the requested %q", leaf.PublicKey, tc.keyType)
			}
			b, _ := pem.Decode(cert.Key.Bytes())
			if b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
				t.Fatalf("Key is not a PEM private key")
			}
			id, err := acme.CertID(leaf)
			if err != nil || cert.ARIID != id {
				t.Errorf("ARIID %q, want %q (%v)", cert.ARIID, id, err)
			}
			if !cert.NotAfter.Equal(leaf.NotAfter) || cert.NotAfter.Sub(cert.NotBefore) < 89*24*time.Hour {
				t.Errorf("validity %s - %s, want ~90 days", cert.NotBefore, cert.NotAfter)
			}
			if cert.URL == "" || !equalSets(cert.Domains, tc.domains) {
				t.Errorf("URL %q domains %v", cert.URL, cert.Domains)
			}
		})
	}
}

// finalizedCSR returns the CSR sent to finalize o.
func finalizedCSR(t *testing.T, cnt *counter, o *acme.Order) *x509.CertificateRequest {
	t.Helper()
	id := o.URL[strings.LastIndex(o.URL, "/")+1:]
	ps := cnt.sent("/finalize-order/" + id)
	if len(ps) != 1 {
		t.Fatalf("finalize requests for %s: %d, want 1", id, len(ps))
	}
	var msg struct {
		CSR string `json:"csr"`
	}
	if err := json.Unmarshal([]byte(ps[0]), &msg); err != nil {
		t.Fatal(err)
	}
	der, err := base64.RawURLEncoding.DecodeString(msg.CSR)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func isEC(curve elliptic.Curve) func(any) bool {
	return func(pk any) bool { k, ok := pk.(*ecdsa.PublicKey); return ok && k.Curve == curve }
}

func isRSA(bits int) func(any) bool {
	return func(pk any) bool { k, ok := pk.(*rsa.PublicKey); return ok && k.N.BitLen() == bits }
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestShortLivedProfile(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, cnt := newClient(t, ca, clientOpts{})
	_, cert := issue(t, c, acme.OrderRequest{Name: "short", Domains: []string{"short.example.com"}, Profile: acmesim.ProfileShortLived})
	if got := cert.NotAfter.Sub(cert.NotBefore); got < 159*time.Hour || got > 161*time.Hour {
		t.Errorf("lifetime %s, want ~160h", got)
	}
	if p := cnt.sent("/order-plz"); len(p) != 1 || !strings.Contains(p[0], `"profile":"shortlived"`) {
		t.Errorf("newOrder payloads %q, want the shortlived profile", p)
	}
}

// TestCachedDirectoryAndNonces checks that a Core per call costs no request: one
// directory GET for the Client's life, and nonces from the pool.
func TestCachedDirectoryAndNonces(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, cnt := newClient(t, ca, clientOpts{})
	for range 3 {
		issue(t, c, acme.OrderRequest{Name: "n", Domains: []string{"a.example.com", "b.example.com"}, Profile: acmesim.ProfileDefault})
	}
	if n := cnt.count("GET /dir"); n != 1 {
		t.Errorf("directory fetched %d times, want 1", n)
	}
	// Without the pool every Core (3 per certificate here) would ask once; with it,
	// only concurrent requests that find the pool empty ask.
	posts := 0
	cnt.mu.Lock()
	defer cnt.mu.Unlock()
	for k, n := range cnt.counts {
		if strings.HasPrefix(k, "POST ") {
			posts += n
		}
	}
	if n := cnt.counts["HEAD /nonce-plz"]; n > 4 {
		t.Errorf("newNonce asked %d times for %d signed requests, want at most 4", n, posts)
	} else {
		t.Logf("newNonce asked %d times for %d signed requests", n, posts)
	}
}

// Every request that reaches the CA is reported once, with its class: the classes of
// the requests an issuance makes, none "other".
func TestOnRequestNamesEveryRequest(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	var mu sync.Mutex
	seen := map[string]int{}
	c, cnt := newClient(t, ca, clientOpts{onRequest: func(endpoint string, status int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen[endpoint]++
		if status == 0 {
			t.Errorf("%s: no answer", endpoint)
		}
	}})
	_, cert := issue(t, c, acme.OrderRequest{Name: "n", Domains: []string{"a.example.com"}, Profile: acmesim.ProfileDefault})
	if _, err := c.RenewalInfoByID(t.Context(), cert.ARIID); err != nil {
		t.Fatalf("RenewalInfoByID: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	cnt.mu.Lock()
	defer cnt.mu.Unlock()
	total, reported := 0, 0
	for _, n := range cnt.counts {
		total += n
	}
	for _, n := range seen {
		reported += n
	}
	if reported != total {
		t.Errorf("%d requests reported, %d sent: %v", reported, total, seen)
	}
	for _, want := range []string{"directory", "new-nonce", "new-account", "new-order", "authorization", "finalize", "certificate", "renewal-info"} {
		if seen[want] == 0 {
			t.Errorf("no %q request reported: %v", want, seen)
		}
	}
	if seen["other"] != 0 {
		t.Errorf("%d requests of class other: %v (sent %v)", seen["other"], seen, cnt.counts)
	}
}

func TestRenewalInfoAndReplaces(t *testing.T) {
	if raceEnabled {
		t.Skip("Pebble v2.10.3 races on this path (see race_test.go); run without -race")
	}
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, cnt := newClient(t, ca, clientOpts{})
	req := acme.OrderRequest{Name: "ari", Domains: []string{"ari.example.com"}, Profile: acmesim.ProfileDefault}
	_, first := issue(t, c, req)
	chain := parseChain(t, first.FullchainPEM)

	start := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	end := start.Add(48 * time.Hour)
	if err := ca.SetRenewalInfo(t.Context(), first.FullchainPEM, start, end); err != nil {
		t.Fatal(err)
	}
	ri, err := c.RenewalInfo(t.Context(), chain[0], chain[1])
	if err != nil {
		t.Fatalf("RenewalInfo: %v", err)
	}
	if !ri.Start.Equal(start) || !ri.End.Equal(end) {
		t.Errorf("window [%s, %s], want [%s, %s]", ri.Start, ri.End, start, end)
	}
	if ri.RetryAfter != 6*time.Hour {
		t.Errorf("RetryAfter %s, want Pebble's 6h", ri.RetryAfter)
	}

	req.Replaces = first.ARIID
	o2, _ := issue(t, c, req)
	if o2.ReplacesRefused {
		t.Error("first renewal: ReplacesRefused, want the CA to accept replaces")
	}
	o3, _ := issue(t, c, req)
	if !o3.ReplacesRefused {
		t.Error("second renewal of the same certificate: want ReplacesRefused (alreadyReplaced, retried without)")
	}
	p := cnt.sent("/order-plz")
	// first, renewal, second renewal refused, second renewal retried
	want := []bool{false, true, true, false}
	if len(p) != len(want) {
		t.Fatalf("newOrder payloads: %q", p)
	}
	for i, w := range want {
		if got := strings.Contains(p[i], `"replaces":"`+first.ARIID+`"`); got != w {
			t.Errorf("newOrder %d: replaces sent %v, want %v (%s)", i, got, w, p[i])
		}
	}
}

func TestAccountRegisteredOnce(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	c1, cnt1 := newClient(t, ca, clientOpts{store: store})
	c2, cnt2 := newClient(t, ca, clientOpts{store: store})
	if c1.AccountURL() == "" || c1.AccountURL() != c2.AccountURL() {
		t.Errorf("account URLs %q and %q, want one", c1.AccountURL(), c2.AccountURL())
	}
	if n := cnt1.count("POST /sign-me-up") + cnt2.count("POST /sign-me-up"); n != 1 {
		t.Errorf("newAccount requests: %d, want 1", n)
	}
	issue(t, c2, acme.OrderRequest{Name: "x", Domains: []string{"x.example.com"}, Profile: acmesim.ProfileDefault})
}

func TestAccountConcurrentNewAgreeOnOne(t *testing.T) {
	if raceEnabled {
		t.Skip("Pebble v2.10.3 races on this path (see race_test.go); run without -race")
	}
	t.Parallel()
	for _, kind := range []string{"file", "secretsmanager"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ca := startCA(t, acmesim.Options{AlwaysValid: true})
			var store acme.AccountStore = file.NewAccountStore(t.TempDir())
			if kind == "secretsmanager" {
				store, _ = storetest.SecretsManager(t, "certferry/acme")
			}
			const n = 4
			clients := make([]*acme.Client, n)
			counters := make([]*counter, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { clients[i], counters[i] = newClient(t, ca, clientOpts{store: store}) })
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			registrations := 0
			for i := range n {
				if clients[i].AccountURL() != clients[0].AccountURL() {
					t.Errorf("client %d: account %q, want %q", i, clients[i].AccountURL(), clients[0].AccountURL())
				}
				registrations += counters[i].count("POST /sign-me-up")
			}
			// Every client that found no URL registers the one stored key (the CA
			// answers with the same account each time); Pebble fails some of the
			// concurrent ones with a 500, which are retried (at most 3 attempts) unless
			// the store has the URL by then.
			if registrations < 1 || registrations > 3*n {
				t.Errorf("newAccount requests %d", registrations)
			}
			t.Logf("%d runners, %d newAccount requests, one account", n, registrations)
			stored, err := store.Load(t.Context(), ca.DirectoryURL(), "")
			if err != nil || stored.URL != clients[0].AccountURL() {
				t.Errorf("stored account URL %q (%v), want %q", stored.URL, err, clients[0].AccountURL())
			}
			// A later runner registers nothing.
			_, cnt := newClient(t, ca, clientOpts{store: store})
			if n := cnt.count("POST /sign-me-up"); n != 0 {
				t.Errorf("a runner after the race registered %d times, want 0", n)
			}
		})
	}
}

func TestNonceRejection(t *testing.T) {
	// Not parallel: a Pebble knob.
	ca := startCA(t, acmesim.Options{AlwaysValid: true, NonceRejectPercent: 50})
	c, cnt := newClient(t, ca, clientOpts{})
	issue(t, c, acme.OrderRequest{Name: "nonce", Domains: []string{"a.example.com", "b.example.com", "c.example.com"}, Profile: acmesim.ProfileDefault})
	if cnt.count("POST /order-plz") < 1 {
		t.Error("no newOrder request seen")
	}
}

// stall blocks every POST whose path starts with prefix while armed, until the client
// gives up or the test ends.
type stall struct {
	prefix string
	mu     sync.Mutex
	armed  bool
	seen   chan struct{}
	done   chan struct{}
}

func (s *stall) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		armed := s.armed && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, s.prefix)
		s.mu.Unlock()
		if armed {
			select {
			case s.seen <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			http.Error(w, "stalled", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestCompleteStopsOnCancel(t *testing.T) {
	t.Parallel()
	st := &stall{prefix: "/chalZ/", seen: make(chan struct{}, 1), done: make(chan struct{})}
	ca := startCA(t, acmesim.Options{AlwaysValid: true, Middleware: st.middleware})
	t.Cleanup(func() { close(st.done) })
	c, cnt := newClient(t, ca, clientOpts{})
	o, err := c.Begin(t.Context(), acme.OrderRequest{Name: "cancel", Domains: []string{"c1.example.com", "c2.example.com"}, Profile: acmesim.ProfileDefault})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.armed = true
	st.mu.Unlock()

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := c.Complete(ctx, o); errc <- err }()
	select {
	case <-st.seen: // a challenge answer is in flight and stalled
	case <-time.After(step):
		t.Fatal("no challenge request reached the CA")
	}
	cancel()
	// The stalled request never ends by itself: Complete returns because it gave it up.
	// What it does after the cancel (deactivating the authorizations) is bounded by its
	// cleanup timeout.
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Complete: got %v, want context.Canceled", err)
		}
	case <-time.After(2 * acme.CleanupTimeout):
		t.Fatal("Complete did not return after the cancel")
	}
	// Both authorizations were pending: both deactivated, despite the cancelled ctx.
	deact := 0
	for _, ps := range allSent(cnt, "/authZ/") {
		for _, p := range ps {
			if strings.Contains(p, `"deactivated"`) {
				deact++
			}
		}
	}
	if deact != 2 {
		t.Errorf("deactivation requests: %d, want 2", deact)
	}
}

// allSent returns the payloads POSTed under a path prefix.
func allSent(c *counter, prefix string) map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for p, ps := range c.payloads {
		if strings.HasPrefix(p, prefix) {
			out[p] = append([]string(nil), ps...)
		}
	}
	return out
}

func TestAbandon(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, cnt := newClient(t, ca, clientOpts{})
	o, err := c.Begin(t.Context(), acme.OrderRequest{Name: "abandon", Domains: []string{"a.example.com", "*.a.example.com"}, Profile: acmesim.ProfileDefault})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Abandon is cleanup: it runs even when the caller's context is gone
	if err := c.Abandon(ctx, o); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	deact := 0
	for _, ps := range allSent(cnt, "/authZ/") {
		for _, p := range ps {
			if strings.Contains(p, `"deactivated"`) {
				deact++
			}
		}
	}
	if deact != 2 {
		t.Errorf("deactivation requests: %d, want 2", deact)
	}
	// Complete refuses the order without asking the CA. (Asking would also hang
	// Pebble v2.10.3: once an authorization has left "pending", displaying it leaks a
	// read lock on its challenges, and a POST to such a challenge blocks forever.)
	before := len(allSent(cnt, "/chalZ/"))
	_, err = c.Complete(t.Context(), o)
	if want := "acme: complete order abandon: the order was abandoned"; err == nil || err.Error() != want {
		t.Errorf("Complete of an abandoned order: got %v, want %s", err, want)
	}
	if after := len(allSent(cnt, "/chalZ/")); after != before {
		t.Error("Complete of an abandoned order contacted the CA")
	}
}

func TestNoKeyMaterialInLogs(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	core, logs := observer.New(zapcore.DebugLevel)
	c, _ := newClient(t, ca, clientOpts{logger: zap.New(core)})
	_, cert := issue(t, c, acme.OrderRequest{Name: "logs", Domains: []string{"logs.example.com"}, KeyType: "rsa2048", Profile: acmesim.ProfileDefault})
	chain := parseChain(t, cert.FullchainPEM)
	if _, err := c.RenewalInfo(t.Context(), chain[0], chain[1]); err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("no log entries: the test would prove nothing")
	}
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	keyBody := string(cert.Key.Bytes())[40:80]
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		if strings.Contains(line, "PRIVATE KEY") || strings.Contains(line, keyBody) {
			t.Errorf("key material logged: %s", line)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  acme.Config
		want string
	}{
		{acme.Config{Store: file.NewAccountStore(t.TempDir())}, "acme: new client: DirectoryURL is empty"},
		{acme.Config{DirectoryURL: "https://ca.example/dir"}, "acme: new client: Store is nil"},
		{acme.Config{DirectoryURL: "https://ca.example/dir", Store: file.NewAccountStore(t.TempDir()), RequestsPerSecond: -1}, "acme: new client: RequestsPerSecond must not be negative, got -1"},
	} {
		if _, err := acme.New(t.Context(), tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

func TestBeginRejectsBadRequests(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, cnt := newClient(t, ca, clientOpts{})
	for _, tc := range []struct {
		req  acme.OrderRequest
		want string
	}{
		{acme.OrderRequest{Name: "k", Domains: []string{"k.example.com"}, KeyType: "ed25519"}, `acme: begin order k: unknown key type "ed25519" (want ec256, ec384, rsa2048, rsa3072 or rsa4096)`},
		{acme.OrderRequest{Name: "d"}, "acme: begin order d: no domains"},
	} {
		if _, err := c.Begin(t.Context(), tc.req); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
	if n := cnt.count("POST /order-plz"); n != 0 {
		t.Errorf("bad requests reached the CA: %d newOrder", n)
	}
}

// TestNewNonceBoundedAtConcurrency50: 50 orders begun at once (each a newOrder and an
// authorization fetch, then the deactivation of its authorization) ask newNonce no
// more often than the newNonce burst: the transport hands on the nonces answers bring
// back instead of fetching one per concurrent request.
func TestNewNonceBoundedAtConcurrency50(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	// The account registered by an earlier client, as on every pass but the first: the
	// new client fetches nothing until the orders begin, all at once.
	store := file.NewAccountStore(t.TempDir())
	newClient(t, ca, clientOpts{store: store})
	c, cnt := newClient(t, ca, clientOpts{store: store})
	before := cnt.count("HEAD /nonce-plz")
	// Begun and abandoned, the orders wait on no Retry-After: one order's bound.
	ctx, cancel := context.WithTimeout(t.Context(), orderBound)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			o, err := c.Begin(ctx, acme.OrderRequest{Name: fmt.Sprint("c", i), Domains: []string{fmt.Sprintf("n%d.example.com", i)}, Profile: acmesim.ProfileDefault})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = c.Abandon(ctx, o)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	burst := acme.DefaultRateLimits().NewNonce.Burst
	got := cnt.count("HEAD /nonce-plz") - before
	if got > burst {
		t.Errorf("newNonce asked %d times for 50 concurrent orders, want at most the burst %d", got, burst)
	}
	if n := cnt.count("POST /order-plz"); n != 50 {
		t.Errorf("newOrder %d, want 50", n)
	}
	if n := cnt.count("GET /dir"); n != 1 {
		t.Errorf("directory fetched %d times by 50 concurrent orders, want once", n)
	}
	t.Logf("newNonce asked %d times for %d newOrder", got, cnt.count("POST /order-plz"))
}

// TestPacedPerEndpoint: newOrder limited to a burst of 2 and a rate far below one a
// minute: two orders go through, the third is refused at once as beyond the call's
// deadline, naming the endpoint class, and the CA never sees it; other endpoints are
// not held back by it.
func TestPacedPerEndpoint(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	hc := ca.HTTPClient()
	cnt := &counter{base: hc.Transport, counts: map[string]int{}, payloads: map[string][]string{}}
	hc.Transport = cnt
	limits := acme.RateLimits{NewOrder: acme.RateLimit{PerSecond: 0.001, Burst: 2}}
	c, err := acme.New(t.Context(), acme.Config{DirectoryURL: ca.DirectoryURL(), HTTPClient: hc, Store: file.NewAccountStore(t.TempDir()), RateLimits: limits})
	if err != nil {
		t.Fatalf("acme.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i := range 2 {
		issue(t, c, acme.OrderRequest{Name: "p", Domains: []string{fmt.Sprintf("p%d.example.com", i)}, Profile: acmesim.ProfileDefault})
	}
	_, err = c.Begin(ctx, acme.OrderRequest{Name: "p", Domains: []string{"p3.example.com"}, Profile: acmesim.ProfileDefault})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "new_order") {
		t.Errorf("third order: %v, want the new_order rate limit beyond the deadline", err)
	}
	if n := cnt.count("POST /order-plz"); n != 2 {
		t.Errorf("newOrder reached the CA %d times, want 2", n)
	}
}

func TestNewRejectsBadRateLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limits acme.RateLimits
		want   string
	}{
		{acme.RateLimits{NewOrder: acme.RateLimit{PerSecond: -1, Burst: 1}}, "new_order: PerSecond"},
		{acme.RateLimits{Other: acme.RateLimit{PerSecond: 5}}, "other: Burst"},
	} {
		_, err := acme.New(t.Context(), acme.Config{DirectoryURL: "https://ca.invalid/dir", Store: file.NewAccountStore(t.TempDir()), RateLimits: tc.limits})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.limits, err, tc.want)
		}
	}
}
