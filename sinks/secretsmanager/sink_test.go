package secretsmanager_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/smsim"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

type env struct {
	svc    *smsim.Service
	calls  *calls.Registry
	client *sm.Client
	sink   *smsink.Sink
	ca     *certstest.CA
}

// newEnv starts smsim behind httptest and points a real SDK client at it. At cleanup,
// every log line the sink wrote (debug level) is checked for key material.
func newEnv(t *testing.T) *env {
	t.Helper()
	reg := calls.New()
	svc := smsim.New(smsim.Options{Calls: reg})
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	client := sm.New(sm.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", ""),
		RetryMaxAttempts: 1,
		// awshttp.Transport avoids smithy-go's closed-connection race (see its doc); the
		// tests count calls with retries off, so they must not meet it.
		HTTPClient: &http.Client{Transport: awshttp.Transport(srv.Client().Transport)},
	})
	core, logs := observer.New(zapcore.DebugLevel)
	t.Cleanup(func() {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		for _, e := range logs.All() {
			buf, err := enc.EncodeEntry(e.Entry, e.Context)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "PRIVATE KEY") {
				t.Errorf("log line leaks the key: %s", buf.String())
			}
		}
	})
	return &env{svc: svc, calls: reg, client: client, ca: certstest.NewCA(t),
		sink: smsink.New(client, zap.New(core), smsink.Options{Tags: map[string]string{"team": "edge"}})}
}

func (e *env) bundle(t *testing.T, name string, notAfter time.Time, domains ...string) *certs.Bundle {
	t.Helper()
	if len(domains) == 0 {
		domains = []string{"www.example.com", "example.com"}
	}
	return e.ca.Bundle(t, name, certstest.Leaf{Domains: domains, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter})
}

func (e *env) versions(t *testing.T, secret string) map[string][]string {
	t.Helper()
	out, err := e.client.ListSecretVersionIds(context.Background(), &sm.ListSecretVersionIdsInput{
		SecretId: aws.String(secret), IncludeDeprecated: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, v := range out.Versions {
		m[aws.ToString(v.VersionId)] = v.VersionStages
	}
	return m
}

func (e *env) current(t *testing.T, secret, stage string) *certs.Bundle {
	t.Helper()
	out, err := e.client.GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String(secret), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := certs.ParseSecret([]byte(aws.ToString(out.SecretString)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var day = 24 * time.Hour

func TestStoreCreateThenPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	target := smsink.Target{Secret: "certs/example", Description: "example.com", Tags: map[string]string{"env": "prod"}}

	b1 := e.bundle(t, "example", now.Add(30*day))
	v1, err := e.sink.Store(ctx, target, b1, smsink.StoreOptions{Profile: "classic"})
	if err != nil {
		t.Fatal(err)
	}
	if v1 != smsink.Token(b1) || len(v1) != 64 {
		t.Fatalf("version id %q, want the token %q", v1, smsink.Token(b1))
	}
	if got := e.calls.Count("secretsmanager", "CreateSecret"); got != 1 {
		t.Errorf("CreateSecret calls = %d", got)
	}
	if got := e.calls.Count("secretsmanager", "PutSecretValue"); got != 0 {
		t.Errorf("PutSecretValue calls = %d", got)
	}

	b2 := e.bundle(t, "example", now.Add(90*day))
	v2, err := e.sink.Store(ctx, target, b2, smsink.StoreOptions{Profile: "classic"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.current(t, target.Secret, "AWSCURRENT"); got.Serial != b2.Serial {
		t.Errorf("AWSCURRENT serial %s, want %s", got.Serial, b2.Serial)
	}
	if got := e.current(t, target.Secret, "AWSPREVIOUS"); got.Serial != b1.Serial {
		t.Errorf("AWSPREVIOUS serial %s, want %s", got.Serial, b1.Serial)
	}
	vs := e.versions(t, target.Secret)
	// StagePending stays on the new current version until the next write moves it.
	if len(vs) != 2 || !slices.Equal(vs[v1], []string{"AWSPREVIOUS"}) || !slices.Contains(vs[v2], "AWSCURRENT") {
		t.Errorf("versions = %v", vs)
	}

	desc, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range desc.Tags {
		if *tg.Value != "" { // an empty value is no tag
			tags[*tg.Key] = *tg.Value
		}
	}
	want := map[string]string{
		"certferry:name":         "example",
		"certferry:domains":      "www.example.com example.com",
		"certferry:domains-hash": certs.HashDomains([]string{"example.com", "www.example.com"}),
		"certferry:not-after":    b2.NotAfter.Format(time.RFC3339),
		"certferry:not-before":   b2.NotBefore.Format(time.RFC3339),
		"certferry:serial":       b2.Serial,
		"certferry:key-type":     "ec256",
		"certferry:profile":      "classic",
		"certferry:version":      v2,
		"certferry:ari-id":       b2.ARIID,
		"env":                    "prod",
		"team":                   "edge",
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if tags["certferry:sum"] != smsink.TagSumOf(tags) {
		t.Errorf("sum tag %q does not bind the tags", tags["certferry:sum"])
	}
	if len(tags) != len(want)+1 {
		t.Errorf("tags = %v", tags)
	}
	if aws.ToString(desc.Description) != "example.com" {
		t.Errorf("description %q", aws.ToString(desc.Description))
	}

	got, id, err := e.sink.Get(ctx, target.Secret)
	if err != nil || id != v2 || got.Serial != b2.Serial {
		t.Fatalf("Get = %v, %s, %v", got, id, err)
	}
	if err := got.Verify(e.ca.Roots, now); err != nil {
		t.Error(err)
	}
}

func TestStoreRetryIsNoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "retry"}
	b1 := e.bundle(t, "retry", time.Now().Add(30*day))
	b2 := e.bundle(t, "retry", time.Now().Add(60*day))
	if _, err := e.sink.Store(ctx, target, b1, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		v, err := e.sink.Store(ctx, target, b2, smsink.StoreOptions{})
		if err != nil || v != smsink.Token(b2) {
			t.Fatalf("store %d: %s, %v", i, v, err)
		}
	}
	if got := e.calls.Count("secretsmanager", "PutSecretValue"); got != 1 {
		t.Errorf("PutSecretValue calls = %d, want 1", got)
	}
	if got := e.calls.Count("secretsmanager", "TagResource"); got != 1 {
		t.Errorf("TagResource calls = %d, want 1 (tags unchanged on retries)", got)
	}
	if vs := e.versions(t, target.Secret); len(vs) != 2 {
		t.Errorf("versions = %v, want 2", vs)
	}
	// A retry of the first write, too: the create is not repeated.
	if vs := e.versions(t, "retry"); vs[smsink.Token(b1)][0] != "AWSPREVIOUS" {
		t.Errorf("versions = %v", vs)
	}
}

// TestStoreRetryAfterLostTags: the put succeeded but tagging failed; Inventory reports
// the tags as stale, and the next Store of the same certificate repairs them without a
// second version.
func TestStoreRetryAfterLostTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "lost"}
	b1 := e.bundle(t, "lost", time.Now().Add(30*day))
	b2 := e.bundle(t, "lost", time.Now().Add(60*day))
	if _, err := e.sink.Store(ctx, target, b1, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	e.calls.FailNext("secretsmanager", "TagResource", 1, calls.Fault{Code: "InternalServiceError", Status: 500})
	if _, err := e.sink.Store(ctx, target, b2, smsink.StoreOptions{}); err == nil || !strings.Contains(err.Error(), "tags not updated") {
		t.Fatalf("err = %v", err)
	}
	inv, err := e.sink.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := inv["lost"]; st.TagsCurrent || st.CurrentVersionID != smsink.Token(b2) {
		t.Errorf("stale tags not reported: %+v", st)
	}
	if _, err := e.sink.Store(ctx, target, b2, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if vs := e.versions(t, "lost"); len(vs) != 2 {
		t.Errorf("versions = %v", vs)
	}
	inv, _ = e.sink.Inventory(ctx)
	if st := inv["lost"]; !st.TagsCurrent || st.Serial != b2.Serial {
		t.Errorf("tags not repaired: %+v", st)
	}
}

func TestStoreWouldShorten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "shorten"}
	long := e.bundle(t, "shorten", time.Now().Add(80*day))
	short := e.bundle(t, "shorten", time.Now().Add(20*day))
	if _, err := e.sink.Store(ctx, target, long, smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.sink.Store(ctx, target, short, smsink.StoreOptions{})
	if !errors.Is(err, smsink.ErrWouldShorten) {
		t.Fatalf("err = %v, want ErrWouldShorten", err)
	}
	var ws *smsink.WouldShortenError
	if !errors.As(err, &ws) || !ws.Stored.Equal(long.NotAfter) || !ws.New.Equal(short.NotAfter) {
		t.Fatalf("WouldShortenError = %+v", ws)
	}
	if !strings.HasPrefix(err.Error(), "secretsmanager: put shorten: stored certificate expires ") {
		t.Errorf("message: %v", err)
	}
	// The guard reads the stored value, never the tags: a hand-edited tag must not let
	// a shorter certificate through.
	if got := e.calls.Count("secretsmanager", "GetSecretValue"); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
	if got := e.calls.Count("secretsmanager", "PutSecretValue"); got != 0 {
		t.Errorf("PutSecretValue calls = %d", got)
	}
	if _, err := e.sink.Store(ctx, target, short, smsink.StoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := e.current(t, "shorten", "AWSPREVIOUS"); got.Serial != long.Serial {
		t.Errorf("AWSPREVIOUS = %s, want the longer one", got.Serial)
	}
}

func TestStoreCorruptStored(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	other := ca.Bundle(t, "x", certstest.Leaf{})
	_, otherKey := ca.Issue(t, certstest.Leaf{})
	mismatched := fmt.Sprintf(`{"cert":%q,"key":%q}`, other.CertPEM, otherKey)
	tests := []struct {
		name, value, want string
	}{
		{"not json", "hunter2", "certs: parse secret: not valid JSON (syntax error at byte 1)"},
		{"no key", `{"cert":"x"}`, `certs: parse secret: field "key" is missing`},
		{"key mismatch", mismatched, "certs: parse secret: key: does not match the certificate's public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("corrupt"), SecretString: aws.String(tt.value)}); err != nil {
				t.Fatal(err)
			}
			b := e.bundle(t, "corrupt", time.Now().Add(60*day))
			_, err := e.sink.Store(ctx, smsink.Target{Secret: "corrupt"}, b, smsink.StoreOptions{})
			want := "secretsmanager: put corrupt: stored value is not a valid certificate secret: " + tt.want
			if !errors.Is(err, smsink.ErrCorruptStored) || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the stored value: %v", err)
			}
			if got := e.calls.Count("secretsmanager", "PutSecretValue"); got != 0 {
				t.Fatalf("PutSecretValue calls = %d", got)
			}
			if _, _, err := e.sink.Get(ctx, "corrupt"); !errors.Is(err, smsink.ErrCorruptStored) {
				t.Fatalf("Get: %v", err)
			}
			// Forced: replaced, the old value stays reachable as AWSPREVIOUS.
			if _, err := e.sink.Store(ctx, smsink.Target{Secret: "corrupt"}, b, smsink.StoreOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			prev, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("corrupt"), VersionStage: aws.String("AWSPREVIOUS")})
			if err != nil || aws.ToString(prev.SecretString) != tt.value {
				t.Fatalf("AWSPREVIOUS: %v", err)
			}
		})
	}
}

// A secret written outside certferry (no tags) with a valid, later-expiring certificate:
// the guard reads the value, once.
func TestStoreUntaggedValidSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	long := e.bundle(t, "hand", time.Now().Add(80*day))
	data, _ := long.MarshalSecret()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("hand"), SecretString: aws.String(string(data))}); err != nil {
		t.Fatal(err)
	}
	_, err := e.sink.Store(ctx, smsink.Target{Secret: "hand"}, e.bundle(t, "hand", time.Now().Add(40*day)), smsink.StoreOptions{})
	if !errors.Is(err, smsink.ErrWouldShorten) {
		t.Fatalf("err = %v", err)
	}
	if got := e.calls.Count("secretsmanager", "GetSecretValue"); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
	if _, err := e.sink.Store(ctx, smsink.Target{Secret: "hand"}, e.bundle(t, "hand", time.Now().Add(85*day)), smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bundle(t, "proto", time.Now().Add(60*day))
	data, _ := b.MarshalSecret()
	// 250 stored by certferry (created directly, to keep the test fast), 3 others.
	for i := range 250 {
		name := fmt.Sprintf("inv-%03d", i)
		_, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{
			Name: aws.String(name), SecretString: aws.String(string(data)), ClientRequestToken: aws.String(smsink.Token(b)),
			Tags: tagsOf(withSum(map[string]string{
				"certferry:name": name, "certferry:domains": "@.example.com example.com",
				"certferry:not-after": b.NotAfter.Format(time.RFC3339), "certferry:not-before": b.NotBefore.Format(time.RFC3339),
				"certferry:serial": b.Serial, "certferry:version": smsink.Token(b), "certferry:domains-hash": b.DomainsHash(),
			})),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(fmt.Sprintf("other-%d", i)), SecretString: aws.String("x"),
			Tags: tagsOf(map[string]string{"certferry:names-other": "x"})}); err != nil {
			t.Fatal(err)
		}
	}
	e.calls.Reset()
	inv, err := e.sink.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 250 {
		t.Fatalf("inventory has %d secrets", len(inv))
	}
	if got := e.calls.Count("secretsmanager", "ListSecrets"); got != 3 {
		t.Errorf("ListSecrets calls = %d, want 3", got)
	}
	if got := e.calls.ServiceTotal("secretsmanager"); got != 3 {
		t.Errorf("total calls = %d (%s), want 3", got, e.calls)
	}
	st := inv["inv-042"]
	if st.Name != "inv-042" || st.Secret != "inv-042" || !strings.HasPrefix(st.ARN, "arn:aws:secretsmanager:us-east-1:") ||
		strings.Join(st.Domains, ",") != "*.example.com,example.com" || !st.NotAfter.Equal(b.NotAfter) ||
		st.Serial != b.Serial || !st.TagsCurrent || st.DomainsHash != b.DomainsHash() {
		t.Errorf("stored = %+v", st)
	}
}

// withSum adds the certferry:sum tag that binds m's tags to their version.
func withSum(m map[string]string) map[string]string {
	m["certferry:sum"] = smsink.TagSumOf(m)
	return m
}

func tagsOf(m map[string]string) []smTag {
	var out []smTag
	for k, v := range m {
		out = append(out, smTag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func TestInventoryAfterStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bundle(t, "one", time.Now().Add(60*day), "*.example.com", "example.com")
	v, err := e.sink.Store(ctx, smsink.Target{Secret: "one"}, b, smsink.StoreOptions{Profile: "tlsserver"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.sink.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := inv["one"]
	if st.VersionID != v || st.CurrentVersionID != v || !st.TagsCurrent || st.Profile != "tlsserver" || st.KeyType != "ec256" ||
		strings.Join(st.Domains, ",") != "*.example.com,example.com" || !st.NotBefore.Equal(b.NotBefore) {
		t.Errorf("stored = %+v", st)
	}
}

func TestGetNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, err := e.sink.Get(context.Background(), "nothing")
	if !errors.Is(err, smsink.ErrNotFound) || !strings.HasPrefix(err.Error(), "secretsmanager: get nothing: secret not found: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.svc.DenyAccess("denied/")
	if err := e.sink.Preflight(ctx, smsink.Target{Secret: "missing"}); err != nil {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := e.sink.Store(ctx, smsink.Target{Secret: "present"}, e.bundle(t, "p", time.Now().Add(day)), smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.sink.Preflight(ctx, smsink.Target{Secret: "present"}); err != nil {
		t.Errorf("present secret: %v", err)
	}
	err := e.sink.Preflight(ctx, smsink.Target{Secret: "denied/x"})
	if !errors.Is(err, smsink.ErrAccessDenied) || !strings.HasPrefix(err.Error(), "secretsmanager: inspect denied/x: access denied: ") ||
		!strings.Contains(err.Error(), "not authorized to perform: secretsmanager:DescribeSecret") {
		t.Fatalf("err = %v", err)
	}
	_, err = e.sink.Store(ctx, smsink.Target{Secret: "denied/x"}, e.bundle(t, "d", time.Now().Add(day)), smsink.StoreOptions{})
	if !errors.Is(err, smsink.ErrAccessDenied) {
		t.Fatalf("Store: %v", err)
	}
}

func TestSetState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.sink.Store(ctx, smsink.Target{Secret: "state"}, e.bundle(t, "state", time.Now().Add(day)), smsink.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	err := e.sink.SetState(ctx, "state", map[string]string{
		"certferry:failures": "3", "certferry:last-error": `acme: rateLimited, "too many" (retry after 1h)`,
	})
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := e.sink.Inventory(ctx)
	if got := inv["state"].Tags["certferry:last-error"]; got != "acme: rateLimited_ _too many_ _retry after 1h_" {
		t.Errorf("last-error tag = %q", got)
	}
	if err := e.sink.SetState(ctx, "state", map[string]string{"certferry:failures": "", "certferry:last-error": ""}); err != nil {
		t.Fatal(err)
	}
	inv, _ = e.sink.Inventory(ctx)
	if _, ok := inv["state"].Tags["certferry:failures"]; ok {
		t.Error("state tag not removed")
	}
	// Store clears state in the same pass: "0" is set, empty values remove.
	if err := e.sink.SetState(ctx, "state", map[string]string{"certferry:failures": "2", "certferry:next-attempt": "2026-01-01T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sink.Store(ctx, smsink.Target{Secret: "state"}, e.bundle(t, "state", time.Now().Add(2*day)),
		smsink.StoreOptions{State: map[string]string{"certferry:failures": "0", "certferry:next-attempt": "", "certferry:last-error": ""}})
	if err != nil {
		t.Fatal(err)
	}
	inv, _ = e.sink.Inventory(ctx)
	if tags := inv["state"].Tags; tags["certferry:failures"] != "0" || tags["certferry:next-attempt"] != "" || len(tags) != 12 {
		t.Errorf("tags after store = %v", tags)
	}
	if _, err := e.sink.Store(ctx, smsink.Target{Secret: "state"}, e.bundle(t, "state", time.Now().Add(3*day)),
		smsink.StoreOptions{State: map[string]string{"certferry:serial": "x"}}); err == nil || !strings.Contains(err.Error(), "is written by Store") {
		t.Errorf("Store with an own tag as state: %v", err)
	}
	for _, bad := range []string{"failures", "certferry:not-after"} {
		if err := e.sink.SetState(ctx, "state", map[string]string{bad: "1"}); err == nil {
			t.Errorf("SetState(%s): want an error", bad)
		}
	}
	if err := e.sink.SetState(ctx, "nothing", map[string]string{"certferry:failures": "1"}); !errors.Is(err, smsink.ErrNotFound) {
		t.Errorf("SetState on a missing secret: %v", err)
	}
}

func TestStoreTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle(t, "big", time.Now().Add(day))
	big := *b
	big.Domains = []string{strings.Repeat("a", certs.MaxSecretSize)}
	_, err := e.sink.Store(context.Background(), smsink.Target{Secret: "big"}, &big, smsink.StoreOptions{})
	var se *certs.SizeError
	if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "secretsmanager: put big: certs: marshal secret") {
		t.Fatalf("err = %v", err)
	}
	if n := e.calls.ServiceTotal("secretsmanager"); n != 0 {
		t.Errorf("%d calls made", n)
	}
}

func TestStoreSameCertificateTwiceOneVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b := e.bundle(t, "once", time.Now().Add(60*day))
	for range 2 {
		if _, err := e.sink.Store(ctx, smsink.Target{Secret: "once"}, b, smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if vs := e.versions(t, "once"); len(vs) != 1 {
		t.Errorf("versions = %v, want one", vs)
	}
	if c, p := e.calls.Count("secretsmanager", "CreateSecret"), e.calls.Count("secretsmanager", "PutSecretValue"); c != 1 || p != 0 {
		t.Errorf("CreateSecret %d, PutSecretValue %d; want 1, 0", c, p)
	}
}

// A certificate whose version lost every label (two renewals later) is stored again with
// Force: no new version, AWSCURRENT moves back to it.
func TestStoreRestoresUnlabelledVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	target := smsink.Target{Secret: "back"}
	var bs []*certs.Bundle
	for i := range 3 {
		b := e.bundle(t, "back", time.Now().Add(time.Duration(30*(i+1))*day))
		bs = append(bs, b)
		if _, err := e.sink.Store(ctx, target, b, smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if vs := e.versions(t, "back"); len(vs[smsink.Token(bs[0])]) != 0 {
		t.Fatalf("first version still labelled: %v", vs)
	}
	if _, err := e.sink.Store(ctx, target, bs[0], smsink.StoreOptions{}); !errors.Is(err, smsink.ErrWouldShorten) {
		t.Fatalf("err = %v, want ErrWouldShorten", err)
	}
	moves := e.calls.Count("secretsmanager", "UpdateSecretVersionStage")
	v, err := e.sink.Store(ctx, target, bs[0], smsink.StoreOptions{Force: true})
	if err != nil || v != smsink.Token(bs[0]) {
		t.Fatalf("Store = %s, %v", v, err)
	}
	vs := e.versions(t, "back")
	if len(vs) != 3 || !slices.Contains(vs[v], "AWSCURRENT") || !slices.Contains(vs[smsink.Token(bs[2])], "AWSPREVIOUS") {
		t.Errorf("versions = %v", vs)
	}
	if got := e.calls.Count("secretsmanager", "UpdateSecretVersionStage") - moves; got != 1 {
		t.Errorf("UpdateSecretVersionStage calls = %d, want 1 (no pending label to remove)", got)
	}
	inv, _ := e.sink.Inventory(ctx)
	if st := inv["back"]; !st.TagsCurrent || st.Serial != bs[0].Serial {
		t.Errorf("tags = %+v", st)
	}
}
