package bench

import (
	"context"
	"crypto/x509"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestMain checks for leaked goroutines. Besides Pebble's VA, it ignores one known
// leak outside this package: lego's nonce manager never closes the body of its HEAD
// newNonce response (acme/api/internal/nonces, lego v4.35.2), and the acme package's
// per-call http.Client has a Timeout, so net/http keeps a setRequestCancel goroutine and
// timer for every nonce fetch until that timeout (2 min) expires. Reported to the acme
// package's owners with the benchmark's numbers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(acmesim.VAGoroutine),
		goleak.IgnoreTopFunction("net/http.setRequestCancel.func4"))
}

// The call-count tests run with a short INSYNC delay and no Route 53 rate limit unless
// they test throttling; a pass takes about as long as the provider's first GetChange
// poll (1-2 s).
const testInsync = 200 * time.Millisecond

// testTuning issues every certificate of a test at once, paced as by default.
var testTuning = tuning{Name: "test", Concurrency: 50}

// passTimeout bounds a test's pass, so that a hang fails the test in minutes rather than
// at go test's deadline. (Pebble v2.10.3's in-memory store can deadlock under many
// concurrent new-orders: seen once in the benchmarks' development, after ~280
// authorizations in one sandbox.)
const passTimeout = 2 * time.Minute

// pass runs one pass in-process and fails the test if it could not run.
func pass(t *testing.T, sb *sandbox.Sandbox, cs []certSpec) *renew.Summary {
	t.Helper()
	cfg := writeConfig(t, t.TempDir(), sb.Info(), cs, testTuning)
	a := newApp(t, sb, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), passTimeout)
	defer cancel()
	sum, err := a.Runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return sum
}

// results indexes a summary by certificate name.
func results(sum *renew.Summary) map[string]*renew.Result {
	out := map[string]*renew.Result{}
	for _, r := range sum.Results {
		out[r.Name] = r
	}
	return out
}

func wantIssued(t *testing.T, sum *renew.Summary, names ...string) {
	t.Helper()
	rs := results(sum)
	for _, n := range names {
		r := rs[n]
		switch {
		case r == nil:
			t.Errorf("%s: not in the summary", n)
		case r.Error != "" || r.Action != renew.ActionIssue:
			t.Errorf("%s: action %s, error %q; want issue without error", n, r.Action, r.Error)
		}
	}
}

func wantNoChallengeRecords(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	if left := txtSets(sb); len(left) > 0 {
		t.Errorf("_acme-challenge records left after the pass: %v", left)
	}
}

func names(cs []certSpec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// TestTwentyCertsOneZoneOneChangeEachWay: 20 certificates in one zone publish their
// records with one ChangeResourceRecordSets and remove them with one more.
func TestTwentyCertsOneZoneOneChangeEachWay(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	cs := make([]certSpec, 20)
	for i := range cs {
		cs[i] = certSpec{Name: "one-zone-" + string(rune('a'+i)), Domains: []string{"host-" + string(rune('a'+i)) + ".example.com"}}
	}
	sb.Calls().Reset()
	sum := pass(t, sb, cs)
	wantIssued(t, sum, names(cs)...)
	if got := sb.Calls().Count("route53", "ChangeResourceRecordSets"); got != 2 {
		t.Errorf("ChangeResourceRecordSets = %d, want 2 (one to present, one to clean up); calls: %s", got, sb.Calls())
	}
	if got := sb.Calls().Count("route53", "ListHostedZones"); got != 1 {
		t.Errorf("ListHostedZones = %d, want 1", got)
	}
	wantNoChallengeRecords(t, sb)
}

// TestIdleInventoryReadsTagsOnly: a pass over 200 stored, fresh certificates reads two
// ListSecrets pages and no secret value, and asks neither Route 53 nor the CA anything.
func TestIdleInventoryReadsTagsOnly(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	cs := singleNames("idle-", 200)
	seed(t, sb, cs)
	sb.Calls().Reset()
	sum := pass(t, sb, cs)
	for _, r := range sum.Results {
		if r.Action != renew.ActionSkip || r.Error != "" {
			t.Errorf("%s: action %s (%s), error %q; want skip", r.Name, r.Action, r.Reason, r.Error)
		}
	}
	c := splitCalls(sb.Calls().Counts())
	if got := c["secretsmanager"]["ListSecrets"]; got != 2 {
		t.Errorf("ListSecrets = %d, want 2 (100 secrets a page)", got)
	}
	if got := c["secretsmanager"]["GetSecretValue"]; got != 0 {
		t.Errorf("GetSecretValue = %d, want 0", got)
	}
	if got := c.total("secretsmanager"); got != 2 {
		t.Errorf("Secrets Manager calls = %d (%s), want 2", got, c.format("secretsmanager"))
	}
	if got := c.total("route53") + c.total("acme"); got != 0 {
		t.Errorf("Route 53 + ACME calls = %d (%s | %s), want 0", got, c.format("route53"), c.format("acme"))
	}
}

// TestBatchWithOneBadNameIssuesTheOthers: a certificate pinned to the wrong hosted zone
// is refused by the preflight (GetHostedZone: the zone's name does not hold the record)
// before any order, and the other certificates of the zone issue in one batch. (A record
// Route 53 itself rejects inside a batch is bisected: providers/route53's
// TestBadRecordBisected.)
func TestBatchWithOneBadNameIssuesTheOthers(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	netZone := sb.Info().Zones["example.net."]
	good := []certSpec{
		{Name: "good-a", Domains: []string{"a.example.net"}},
		{Name: "good-b", Domains: []string{"b.example.net"}},
		{Name: "good-c", Domains: []string{"c.example.net"}},
		{Name: "good-d", Domains: []string{"d.example.net"}, ZoneID: netZone},
	}
	bad := certSpec{Name: "bad-zone", Domains: []string{"bad.example.com"}, ZoneID: netZone}
	cs := append([]certSpec{good[0], good[1], bad}, good[2:]...)
	sb.Calls().Reset()
	sum := pass(t, sb, cs)

	wantIssued(t, sum, names(good)...)
	r := results(sum)["bad-zone"]
	if r == nil || r.Action != renew.ActionFailed {
		t.Fatalf("bad-zone: %+v, want failed", r)
	}
	for _, want := range []string{"not ordered", "_acme-challenge.bad.example.com", "example.net"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("bad-zone error = %q, want it to contain %q", r.Error, want)
		}
	}
	if got, want := sb.Calls().Count("acme", "NewOrder"), len(good); got != want {
		t.Errorf("NewOrder = %d, want %d (none for the refused certificate)", got, want)
	}
	// One change publishing the good records, one removing them: nothing rejected.
	if got := sb.Calls().Count("route53", "ChangeResourceRecordSets"); got != 2 {
		t.Errorf("ChangeResourceRecordSets = %d, want 2 (one publish, one cleanup)", got)
	}
	wantNoChallengeRecords(t, sb)
}

// recordingDNS remembers what one Present published, read from the Route 53 stand-in
// right after the records are INSYNC and before they are cleaned up.
type recordingDNS struct {
	renew.DNS
	sb *sandbox.Sandbox

	mu        sync.Mutex
	presented []renew.Record
	served    map[string][]string
}

func (r *recordingDNS) Present(ctx context.Context, recs []renew.Record) []error {
	errs := r.DNS.Present(ctx, recs)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presented = append(r.presented, recs...)
	r.served = txtSets(r.sb)
	return errs
}

// TestWildcardAndApexInDifferentCertificates: *.example.com and example.com, ordered by
// two certificates of one pass, share one TXT name; both values are published in one
// set and both certificates issue.
func TestWildcardAndApexInDifferentCertificates(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	cs := []certSpec{{Name: "wild", Domains: []string{"*.example.com"}}, {Name: "apex", Domains: []string{"example.com"}}}
	a := newApp(t, sb, writeConfig(t, t.TempDir(), sb.Info(), cs, testTuning))

	// The App's own Runner with the DNS provider wrapped, to look at what Present served.
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(sb.Info().IssuerRoots)
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("issuer roots: %v", err)
	}
	rec := &recordingDNS{DNS: app.RenewDNS(route53.New(awsroute53.NewFromConfig(sb.AWSConfig(t.Context())), route53.Options{})), sb: sb}
	var rcs []renew.Cert
	for _, c := range a.Config.Certificates {
		rcs = append(rcs, renew.Cert{Name: c.Name, Domains: c.Domains, KeyType: string(c.KeyType), Profile: c.Profile,
			Secret: &smsink.Target{Secret: c.Sinks.SecretsManager.Secret}})
	}
	runner := renew.New(rcs, renew.Settings{Concurrency: 4, Guard: a.Config.IssuanceGuard, ARI: true, Roots: roots}, renew.Deps{
		ACME: func(ctx context.Context) (renew.ACME, error) {
			c, err := a.ACME(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		DNS: rec, Secrets: smsink.New(awssm.NewFromConfig(sb.AWSConfig(t.Context())), nil, smsink.Options{}),
	})
	sb.Calls().Reset()
	ctx, cancel := context.WithTimeout(context.Background(), passTimeout)
	defer cancel()
	sum, err := runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	wantIssued(t, sum, "wild", "apex")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.presented) != 2 {
		t.Fatalf("presented %d records, want 2: %+v", len(rec.presented), rec.presented)
	}
	for _, r := range rec.presented {
		if strings.TrimSuffix(r.FQDN, ".") != "_acme-challenge.example.com" {
			t.Errorf("record %q, want _acme-challenge.example.com", r.FQDN)
		}
	}
	if rec.presented[0].Value == rec.presented[1].Value {
		t.Errorf("both certificates presented the same value %q", rec.presented[0].Value)
	}
	if len(rec.served) != 1 || len(rec.served["_acme-challenge.example.com."]) != 2 {
		t.Errorf("served after Present: %v, want one name _acme-challenge.example.com. with two values", rec.served)
	}
	if got := sb.Calls().Count("route53", "ChangeResourceRecordSets"); got != 2 {
		t.Errorf("ChangeResourceRecordSets = %d, want 2 (present, clean up)", got)
	}
	wantNoChallengeRecords(t, sb)
}

// TestThrottlingInTheMiddleOfABatch: Route 53 answers Throttling to the first change of
// a two-zone batch and to a GetChange; the pass retries and every certificate issues.
func TestThrottlingInTheMiddleOfABatch(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	cs := singleNames("thr-", 6)
	sb.Calls().Reset()
	throttle := calls.Fault{Code: "Throttling", Message: "Rate exceeded", Status: 400}
	sb.Calls().FailNext("route53", "ChangeResourceRecordSets", 1, throttle)
	sb.Calls().FailNext("route53", "GetChange", 1, throttle)
	sum := pass(t, sb, cs)
	wantIssued(t, sum, names(cs)...)
	// Two zones: one change each to present, plus the throttled attempt, plus one
	// change each to clean up.
	if got := sb.Calls().Count("route53", "ChangeResourceRecordSets"); got != 5 {
		t.Errorf("ChangeResourceRecordSets = %d, want 5 (2 present + 1 throttled retry + 2 clean up); calls: %s", got, sb.Calls())
	}
	wantNoChallengeRecords(t, sb)
}

// TestRoute53TokenBucket: with Route 53's bucket cut to 2 requests/s and a burst of 3,
// a two-zone pass runs into Throttling from the rate limiter itself and still issues.
func TestRoute53TokenBucket(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 2, 3)
	cs := singleNames("bucket-", 6)
	sum := pass(t, sb, cs)
	wantIssued(t, sum, names(cs)...)
	wantNoChallengeRecords(t, sb)
}

// TestFiftyCertsNewNonceWithinBurst: a pass of 50 certificates at concurrency 50 (the
// account registered in the same pass) asks the CA's newNonce no more often than the
// default newNonce burst: the nonces answers bring back are handed on, so concurrent
// orders do not each fetch one.
func TestFiftyCertsNewNonceWithinBurst(t *testing.T) {
	t.Parallel()
	sb := startSandbox(t, testInsync, 0, 0)
	cs := singleNames("nonce-", 50)
	sb.Calls().Reset()
	sum := pass(t, sb, cs)
	wantIssued(t, sum, names(cs)...)
	burst := acme.DefaultRateLimits().NewNonce.Burst
	if got := sb.Calls().Count("acme", "NewNonce"); got > burst {
		t.Errorf("NewNonce = %d for 50 certificates at concurrency 50, want at most the burst %d; calls: %s", got, burst, sb.Calls())
	}
	if got := sb.Calls().Count("acme", "NewOrder"); got != 50 {
		t.Errorf("NewOrder = %d, want 50", got)
	}
	if got := sb.Calls().Count("route53", "ChangeResourceRecordSets"); got != 4 {
		t.Errorf("ChangeResourceRecordSets = %d, want 4 (two zones, present and clean up)", got)
	}
	wantNoChallengeRecords(t, sb)
}
