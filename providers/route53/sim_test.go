package route53_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsr53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/providers/route53"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tickClock advances by step every time it is read, so the stand-in's INSYNC delay
// and token bucket move forward with the requests, not with the wall clock.
type tickClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

type simEnv struct {
	svc       *r53sim.Service
	reg       *calls.Registry
	client    *awsr53.Client
	cfg       aws.Config
	throttled atomic.Int64 // Throttling answers seen on the wire
}

// newSim serves an r53sim behind httptest and returns a real SDK client for it. The
// client's retryer is the SDK's standard one with sdkAttempts attempts and no
// backoff delay (the provider's own loop does the waiting).
func newSim(t *testing.T, opts r53sim.Options, sdkAttempts int) *simEnv {
	t.Helper()
	e := &simEnv{reg: calls.New()}
	opts.Calls = e.reg
	if opts.Now == nil {
		opts.Now = (&tickClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), step: 10 * time.Millisecond}).Now
	}
	e.svc = r53sim.New(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &sniff{ResponseWriter: w}
		e.svc.ServeHTTP(rec, r)
		if rec.throttled {
			e.throttled.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = sdkAttempts
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.HTTPClient = &http.Client{Transport: tr}
	e.cfg = cfg
	e.client = awsr53.NewFromConfig(cfg)
	return e
}

// sniff notes whether a response is a Throttling error.
type sniff struct {
	http.ResponseWriter
	throttled bool
}

func (s *sniff) Write(b []byte) (int, error) {
	if strings.Contains(string(b), "<Code>Throttling</Code>") {
		s.throttled = true
	}
	return s.ResponseWriter.Write(b)
}

func (e *simEnv) zone(t *testing.T, name string, private bool) string {
	t.Helper()
	id, err := e.svc.CreateZone(name, private)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// provider returns a Provider over the real client with test-sized delays.
func (e *simEnv) provider(t *testing.T, opts route53.Options) *route53.Provider {
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Millisecond
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Millisecond
	}
	if opts.InsyncTimeout == 0 {
		opts.InsyncTimeout = 10 * time.Second
	}
	opts.Logger = zaptest.NewLogger(t)
	return route53.New(e.client, opts)
}

// txt returns the zone's TXT sets as name -> decoded values, sorted.
func (e *simEnv) txt(t *testing.T, zoneID string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, rs := range e.svc.Records(zoneID) {
		if rs.Type != "TXT" {
			continue
		}
		var vals []string
		for _, v := range rs.Values {
			parts, err := r53sim.ParseTXT(v)
			if err != nil {
				t.Fatalf("stored value %q: %v", v, err)
			}
			vals = append(vals, strings.Join(parts, ""))
		}
		slices.Sort(vals)
		out[rs.Name] = vals
	}
	return out
}

func (e *simEnv) ttl(zoneID, name string) int64 {
	for _, rs := range e.svc.Records(zoneID) {
		if rs.Type == "TXT" && rs.Name == name {
			return rs.TTL
		}
	}
	return -1
}

func (e *simEnv) count(op string) int { return e.reg.Count("route53", op) }

func noErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: record %d: %v", what, i, err)
		}
	}
}

// noChallenges fails if any _acme-challenge record remains in the zones.
func (e *simEnv) noChallenges(t *testing.T, zoneIDs ...string) {
	t.Helper()
	for _, z := range zoneIDs {
		for name, vals := range e.txt(t, z) {
			if strings.HasPrefix(name, "_acme-challenge.") {
				t.Errorf("zone %s: %s still holds %q", z, name, vals)
			}
		}
	}
}

// putTXT writes a set directly, as another tool would.
func (e *simEnv) putTXT(t *testing.T, zoneID, name string, ttl int64, values ...string) {
	t.Helper()
	rs := &types.ResourceRecordSet{Name: aws.String(name), Type: types.RRTypeTxt, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(`"` + v + `"`)})
	}
	_, err := e.client.ChangeResourceRecordSets(t.Context(), &awsr53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: rs}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOneZoneOneChange(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 50 * time.Millisecond}, 3)
	zid := e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{})
	var recs []route53.Record
	for i := range 20 {
		recs = append(recs, route53.Record{FQDN: fmt.Sprintf("_acme-challenge.host%02d.example.com.", i), Value: fmt.Sprintf("token-%02d", i)})
	}
	noErrors(t, "present", p.Present(t.Context(), recs))

	if got := e.count("ChangeResourceRecordSets"); got != 1 {
		t.Errorf("present: %d ChangeResourceRecordSets, want 1", got)
	}
	if got := e.count("GetChange"); got < 1 {
		t.Errorf("present: %d GetChange, want at least 1", got)
	}
	if got := e.count("ListHostedZones"); got != 1 {
		t.Errorf("present: %d ListHostedZones, want 1", got)
	}
	// 20 names in a zone of 2 sets: one listing page is cheaper than 20 reads.
	if got := e.count("ListResourceRecordSets"); got != 1 {
		t.Errorf("present: %d ListResourceRecordSets, want 1", got)
	}
	sets := e.txt(t, zid)
	for i, r := range recs {
		if got := sets[r.FQDN]; !slices.Equal(got, []string{r.Value}) {
			t.Errorf("record %d: %s holds %q", i, r.FQDN, got)
		}
	}
	if ttl := e.ttl(zid, recs[0].FQDN); ttl != 60 {
		t.Errorf("TTL %d, want 60", ttl)
	}

	getChanges := e.count("GetChange")
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 2 {
		t.Errorf("after cleanup: %d ChangeResourceRecordSets, want 2", got)
	}
	if got := e.count("GetChange"); got != getChanges {
		t.Errorf("cleanup polled GetChange %d times", got-getChanges)
	}
	if got := e.count("ListHostedZones"); got != 1 {
		t.Errorf("zones listed %d times, want once per Provider", got)
	}
	e.noChallenges(t, zid)
}

func TestTwoZonesOneChangeEach(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 20 * time.Millisecond}, 3)
	com := e.zone(t, "example.com", false)
	org := e.zone(t, "example.org", false)
	sub := e.zone(t, "sub.example.org", false)
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com", Value: "a"},
		{FQDN: "_acme-challenge.b.example.org", Value: "b"},
		{FQDN: "_acme-challenge.c.example.com", Value: "c"},
		{FQDN: "_acme-challenge.d.example.org", Value: "d"},
		{FQDN: "_acme-challenge.x.sub.example.org", Value: "x"}, // longest suffix: the sub zone
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 3 {
		t.Errorf("%d ChangeResourceRecordSets, want 3 (one per zone)", got)
	}
	if got := e.txt(t, sub)["_acme-challenge.x.sub.example.org."]; !slices.Equal(got, []string{"x"}) {
		t.Errorf("sub zone holds %q", got)
	}
	if got := e.txt(t, org)["_acme-challenge.x.sub.example.org."]; got != nil {
		t.Errorf("parent zone got the sub zone's record: %q", got)
	}
	if len(e.txt(t, com)) != 2 || len(e.txt(t, org)) != 2 {
		t.Errorf("com %v, org %v", e.txt(t, com), e.txt(t, org))
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 6 {
		t.Errorf("%d ChangeResourceRecordSets after cleanup, want 6", got)
	}
	e.noChallenges(t, com, org, sub)
}

func TestWildcardApexMergeAndForeignValueKept(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	const name = "_acme-challenge.example.com."
	e.putTXT(t, zid, name, 300, "foreign-runner-token")
	p := e.provider(t, route53.Options{})
	// example.com and *.example.com validate at the same name.
	recs := []route53.Record{
		{FQDN: name, Value: "apex-token"},
		{FQDN: "_acme-challenge.EXAMPLE.com", Value: "wildcard-token"},
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	want := []string{"apex-token", "foreign-runner-token", "wildcard-token"}
	if got := e.txt(t, zid)[name]; !slices.Equal(got, want) {
		t.Fatalf("after present %s holds %q, want %q", name, got, want)
	}
	if ttl := e.ttl(zid, name); ttl != 300 {
		t.Errorf("the existing TTL changed to %d", ttl)
	}
	if got := e.count("ChangeResourceRecordSets"); got != 2 { // putTXT + ours
		t.Errorf("%d changes, want 2", got)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.txt(t, zid)[name]; !slices.Equal(got, []string{"foreign-runner-token"}) {
		t.Fatalf("after cleanup %s holds %q, want only the foreign value", name, got)
	}
	if ttl := e.ttl(zid, name); ttl != 300 {
		t.Errorf("cleanup changed the TTL to %d", ttl)
	}
}

func TestExplicitZoneID(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com.", Value: "a", ZoneID: zid},
		{FQDN: "_acme-challenge.b.example.com.", Value: "b", ZoneID: "/hostedzone/" + zid},
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.count("ListHostedZones"); got != 0 {
		t.Errorf("%d ListHostedZones with explicit zone ids, want 0", got)
	}
	if got := e.count("ChangeResourceRecordSets"); got != 2 {
		t.Errorf("%d changes, want 2", got)
	}
	// Unknown zone size: one read per name (2 names, twice).
	if got := e.count("ListResourceRecordSets"); got != 4 {
		t.Errorf("%d ListResourceRecordSets, want 4", got)
	}
	e.noChallenges(t, zid)
}

func TestPrivateZones(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	pub := e.zone(t, "example.com", false)
	priv := e.zone(t, "internal.example.com", true)
	only := e.zone(t, "corp.test", true)
	const name = "_acme-challenge.db.internal.example.com."

	p := e.provider(t, route53.Options{})
	id, zname, err := p.FindZone(t.Context(), name)
	if err != nil || id != pub || zname != "example.com." {
		t.Errorf("public only: FindZone = %q, %q, %v; want %q", id, zname, err, pub)
	}
	errs := p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.x.corp.test", Value: "v"}})
	if !errors.Is(errs[0], route53.ErrNoZone) || !strings.Contains(errs[0].Error(), "_acme-challenge.x.corp.test") {
		t.Errorf("private-only name without PrivateZones: %v", errs[0])
	}

	pp := e.provider(t, route53.Options{PrivateZones: true})
	noErrors(t, "present", pp.Present(t.Context(), []route53.Record{{FQDN: name, Value: "v"}, {FQDN: "_acme-challenge.x.corp.test", Value: "w"}}))
	if got := e.txt(t, priv)[name]; !slices.Equal(got, []string{"v"}) {
		t.Errorf("private zone holds %q", got)
	}
	if got := e.txt(t, only)["_acme-challenge.x.corp.test."]; !slices.Equal(got, []string{"w"}) {
		t.Errorf("corp.test holds %q", got)
	}
	if got := e.txt(t, pub)[name]; got != nil {
		t.Errorf("public zone got %q", got)
	}
}

func TestThrottledMidBatch(t *testing.T) {
	t.Parallel()
	// 2 requests/s, burst 2; the stand-in's clock moves 150ms per read of it, so
	// refills follow the requests and the test does not wait on the wall clock.
	clk := &tickClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), step: 150 * time.Millisecond}
	e := newSim(t, r53sim.Options{RequestRate: 2, Burst: 2, InsyncAfter: 200 * time.Millisecond, Now: clk.Now}, 3)
	var zones []string
	var recs []route53.Record
	for _, z := range []string{"example.com", "example.org", "example.net"} {
		zones = append(zones, e.zone(t, z, false))
		for _, h := range []string{"www", "api", "mail"} {
			recs = append(recs, route53.Record{FQDN: "_acme-challenge." + h + "." + z, Value: h + "@" + z})
		}
	}
	p := e.provider(t, route53.Options{MaxAttempts: 30})
	noErrors(t, "present", p.Present(t.Context(), recs))
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if e.throttled.Load() == 0 {
		t.Fatal("the stand-in never throttled: the test proves nothing")
	}
	if got := e.reg.Count("route53", "ChangeResourceRecordSets") - int(e.throttled.Load()); got > 6 {
		t.Logf("%d change calls beyond throttled ones", got)
	}
	e.noChallenges(t, zones...)
	t.Logf("%d Throttling answers; calls: %s", e.throttled.Load(), e.reg)
}

func TestPriorRequestNotCompleteRetried(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 1) // no SDK retries: the provider's loop must do it
	zid := e.zone(t, "example.com", false)
	e.reg.FailNext("route53", "ChangeResourceRecordSets", 2, calls.Fault{Code: "PriorRequestNotComplete", Status: 400, Message: "The request was rejected because Route 53 was still processing a prior request."})
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{{FQDN: "_acme-challenge.example.com", Value: "v"}}
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 3 {
		t.Errorf("%d ChangeResourceRecordSets, want 3 (2 faults + 1)", got)
	}
	if got := e.txt(t, zid)["_acme-challenge.example.com."]; !slices.Equal(got, []string{"v"}) {
		t.Errorf("holds %q", got)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3) // the client's 3 attempts, replaced by the provider's 4 for its calls
	zid := e.zone(t, "example.com", false)
	e.reg.FailNext("route53", "ChangeResourceRecordSets", 100, calls.Fault{Code: "PriorRequestNotComplete", Status: 400})
	p := e.provider(t, route53.Options{MaxAttempts: 4})
	errs := p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.example.com", Value: "v", ZoneID: zid}})
	var ae smithy.APIError
	if !errors.As(errs[0], &ae) || ae.ErrorCode() != "PriorRequestNotComplete" {
		t.Fatalf("err = %v, want the PriorRequestNotComplete in the chain", errs[0])
	}
	if msg := errs[0].Error(); !strings.HasPrefix(msg, "route53: upsert _acme-challenge.example.com: ") || !strings.Contains(msg, "exceeded maximum number of attempts, 4") {
		t.Errorf("err = %v", errs[0])
	}
	if got := e.count("ChangeResourceRecordSets"); got != 4 {
		t.Errorf("%d ChangeResourceRecordSets, want 4", got)
	}
}

func TestBadRecordBisected(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	com := e.zone(t, "example.com", false)
	e.zone(t, "example.org", false)
	p := e.provider(t, route53.Options{})
	var recs []route53.Record
	for i := range 7 {
		recs = append(recs, route53.Record{FQDN: fmt.Sprintf("_acme-challenge.h%d.example.com", i), Value: fmt.Sprint(i), ZoneID: com})
	}
	// A TXT beside a CNAME (not followed): Route 53 refuses it. (A pinned zone that does
	// not hold the name never gets this far: the pin is checked first.)
	e.putCNAME(t, com, "_acme-challenge.bad.example.com", "elsewhere.example.org")
	recs = slices.Insert(recs, 3, route53.Record{FQDN: "_acme-challenge.bad.example.com", Value: "bad", ZoneID: com, NoFollow: true})
	errs := p.Present(t.Context(), recs)
	for i, err := range errs {
		if i == 3 {
			continue
		}
		if err != nil {
			t.Errorf("good record %d: %v", i, err)
		}
	}
	bad := errs[3]
	var icb *types.InvalidChangeBatch
	if !errors.As(bad, &icb) {
		t.Fatalf("bad record: %v, want an InvalidChangeBatch", bad)
	}
	t.Logf("bad record: %v", bad)
	const prefix = "route53: upsert _acme-challenge.bad.example.com: rejected: [RRSet of type TXT with DNS name _acme-challenge.bad.example.com. is not permitted because a conflicting RRSet of type CNAME"
	if !strings.HasPrefix(bad.Error(), prefix) {
		t.Errorf("bad record error:\n%v\nwant prefix\n%s", bad, prefix)
	}
	sets := e.txt(t, com)
	for i, r := range recs {
		if i != 3 && !slices.Equal(sets[strings.ToLower(r.FQDN)+"."], []string{r.Value}) {
			t.Errorf("good record %d not written: %q", i, sets[r.FQDN+"."])
		}
	}
	// 8 names: the whole batch, then bisection down to the bad one.
	t.Logf("changes: %d", e.count("ChangeResourceRecordSets"))
	noErrors(t, "cleanup", p.CleanUp(t.Context(), slices.Delete(slices.Clone(recs), 3, 4)))
	e.noChallenges(t, com)
}

func TestInsyncTimeout(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: time.Hour}, 3)
	zid := e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{InsyncTimeout: 50 * time.Millisecond})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com", Value: "a"},
		{FQDN: "_acme-challenge.b.example.com", Value: "b"},
	}
	errs := p.Present(t.Context(), recs)
	re := regexp.MustCompile(`^route53: upsert _acme-challenge\.a\.example\.com: change (\S+) still PENDING after 50ms: change not INSYNC before the timeout$`)
	m := re.FindStringSubmatch(fmt.Sprint(errs[0]))
	if m == nil || !errors.Is(errs[0], route53.ErrInsyncTimeout) {
		t.Fatalf("err = %v", errs[0])
	}
	if !strings.Contains(fmt.Sprint(errs[1]), "change "+m[1]+" still PENDING") {
		t.Errorf("second record of the same change: %v", errs[1])
	}
	// Cleanup does not wait for INSYNC.
	noErrors(t, "cleanup", p.CleanUp(context.WithoutCancel(t.Context()), recs))
	e.noChallenges(t, zid)
}

func TestCleanUpAlreadyGone(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	e.putTXT(t, zid, "_acme-challenge.b.example.com.", 60, "someone-else")
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com", Value: "never-written"},
		{FQDN: "_acme-challenge.b.example.com", Value: "not-there"},
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	noErrors(t, "presented", p.Present(t.Context(), recs[:1]))
	noErrors(t, "cleanup 1", p.CleanUp(t.Context(), recs))
	noErrors(t, "cleanup 2", p.CleanUp(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 3 { // putTXT, present, one real cleanup
		t.Errorf("%d changes, want 3", got)
	}
	if got := e.txt(t, zid)["_acme-challenge.b.example.com."]; !slices.Equal(got, []string{"someone-else"}) {
		t.Errorf("foreign set now %q", got)
	}
}

// racingAPI lets another writer change a set between the provider's read and its
// first write, as a second runner would.
type racingAPI struct {
	*awsr53.Client
	once   sync.Once
	before func()
}

func (r *racingAPI) ChangeResourceRecordSets(ctx context.Context, in *awsr53.ChangeResourceRecordSetsInput, optFns ...func(*awsr53.Options)) (*awsr53.ChangeResourceRecordSetsOutput, error) {
	r.once.Do(r.before)
	return r.Client.ChangeResourceRecordSets(ctx, in, optFns...)
}

func TestCompareAndSwapKeepsConcurrentWrite(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	const name = "_acme-challenge.example.com."
	for _, tc := range []struct {
		op     string
		preset []string
	}{{"present", nil}, {"present", []string{"old"}}, {"cleanup", []string{"ours"}}} {
		api := &racingAPI{Client: e.client, before: func() { e.putTXT(t, zid, name, 60, append(tc.preset, "racer")...) }}
		if tc.preset != nil {
			e.putTXT(t, zid, name, 60, tc.preset...)
		}
		p := route53.New(api, route53.Options{PollInterval: time.Millisecond, RetryDelay: time.Millisecond, Logger: zaptest.NewLogger(t)})
		var errs []error
		want := append(slices.Clone(tc.preset), "racer", "ours")
		if tc.op == "present" {
			errs = p.Present(t.Context(), []route53.Record{{FQDN: name, Value: "ours"}})
		} else {
			errs = p.CleanUp(t.Context(), []route53.Record{{FQDN: name, Value: "ours"}})
			want = []string{"racer"} // the racer's value stays, ours goes
		}
		noErrors(t, tc.op, errs)
		slices.Sort(want)
		want = slices.Compact(want)
		if got := e.txt(t, zid)[name]; !slices.Equal(got, want) {
			t.Errorf("%s %v: %s holds %q, want %q (a blind write would have lost the racer's value)", tc.op, tc.preset, name, got, want)
		}
		// reset the name for the next case
		noErrors(t, "reset", route53.New(e.client, route53.Options{}).CleanUp(t.Context(), []route53.Record{{FQDN: name, Value: "old"}, {FQDN: name, Value: "racer"}, {FQDN: name, Value: "ours"}}))
	}
}

func TestTwoRunnersSameName(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 20 * time.Millisecond}, 3)
	zid := e.zone(t, "example.com", false)
	const name = "_acme-challenge.example.com."
	var wg sync.WaitGroup
	const runners = 4
	for i := range runners {
		wg.Go(func() {
			p := e.provider(t, route53.Options{})
			noErrors(t, "present", p.Present(t.Context(), []route53.Record{{FQDN: name, Value: fmt.Sprint("runner", i)}}))
		})
	}
	wg.Wait()
	if got := e.txt(t, zid)[name]; len(got) != runners {
		t.Fatalf("%s holds %q, want %d values", name, got, runners)
	}
	for i := range runners {
		wg.Go(func() {
			p := e.provider(t, route53.Options{})
			noErrors(t, "cleanup", p.CleanUp(t.Context(), []route53.Record{{FQDN: name, Value: fmt.Sprint("runner", i)}}))
		})
	}
	wg.Wait()
	e.noChallenges(t, zid)
}

func TestLongValueAndSmallBatches(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{MaxBatchRecords: 2})
	long := strings.Repeat("0123456789", 60) // 600 characters: three strings
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com", Value: long},
		{FQDN: "_acme-challenge.b.example.com", Value: `quote"and\backslash`},
		{FQDN: "_acme-challenge.c.example.com", Value: "c"},
		{FQDN: "_acme-challenge.d.example.com", Value: "d"},
		{FQDN: "_acme-challenge.e.example.com", Value: "e"},
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets"); got != 3 {
		t.Errorf("%d changes, want 3 (2 records each)", got)
	}
	sets := e.txt(t, zid)
	for _, r := range recs {
		if got := sets[r.FQDN+"."]; !slices.Equal(got, []string{r.Value}) {
			t.Errorf("%s holds %q", r.FQDN, got)
		}
	}
	for _, rs := range e.svc.Records(zid) {
		if rs.Name == "_acme-challenge.a.example.com." {
			if parts, _ := r53sim.ParseTXT(rs.Values[0]); len(parts) != 3 {
				t.Errorf("600 characters stored as %d strings", len(parts))
			}
		}
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	e.noChallenges(t, zid)
}

type checkerFunc func(ctx context.Context, fqdn string, values []string) error

func (f checkerFunc) Check(ctx context.Context, fqdn string, values []string) error {
	return f(ctx, fqdn, values)
}

func TestCheckerAfterInsync(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 30 * time.Millisecond}, 3)
	zid := e.zone(t, "example.com", false)
	var mu sync.Mutex
	seen := map[string][]string{}
	chk := checkerFunc(func(_ context.Context, fqdn string, values []string) error {
		mu.Lock()
		defer mu.Unlock()
		seen[fqdn] = values
		// INSYNC: the DNS view must already serve the value.
		if res := e.svc.Lookup(fqdn); len(res.Sets) == 0 {
			return fmt.Errorf("%s not served", fqdn)
		}
		if strings.HasPrefix(fqdn, "_acme-challenge.bad.") {
			return errors.New("resolver disagrees")
		}
		return nil
	})
	p := e.provider(t, route53.Options{Checker: chk})
	errs := p.Present(t.Context(), []route53.Record{
		{FQDN: "_acme-challenge.ok.example.com", Value: "ok"},
		{FQDN: "_acme-challenge.bad.example.com", Value: "bad"},
	})
	if errs[0] != nil {
		t.Errorf("ok: %v", errs[0])
	}
	if got := fmt.Sprint(errs[1]); got != "route53: upsert _acme-challenge.bad.example.com: check: resolver disagrees" {
		t.Errorf("bad: %s", got)
	}
	if !slices.Equal(seen["_acme-challenge.ok.example.com."], []string{"ok"}) {
		t.Errorf("checker saw %v", seen)
	}
	_ = zid
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	errs := p.Present(ctx, []route53.Record{{FQDN: "_acme-challenge.example.com", Value: "v", ZoneID: zid}})
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("err = %v", errs[0])
	}
	if n := e.reg.ServiceTotal("route53"); n != 0 {
		t.Errorf("%d calls after cancellation", n)
	}
}

func TestDiscoveryPagesAndBigZoneListing(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	for i := range 120 { // more than one ListHostedZones page (100)
		e.zone(t, fmt.Sprintf("filler%03d.test", i), false)
	}
	zid := e.zone(t, "example.com", false)
	// 450 sets: a whole-zone listing costs 2 pages.
	var changes []types.Change
	for i := range 448 {
		changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String(fmt.Sprintf("host%03d.example.com.", i)), Type: types.RRTypeTxt, TTL: aws.Int64(300),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"filler"`)}},
		}})
	}
	if _, err := e.client.ChangeResourceRecordSets(t.Context(), &awsr53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zid), ChangeBatch: &types.ChangeBatch{Changes: changes},
	}); err != nil {
		t.Fatal(err)
	}
	e.putTXT(t, zid, "_acme-challenge.host001.example.com.", 120, "foreign")
	e.reg.Reset()

	p := e.provider(t, route53.Options{})
	// Two names: two reads (1 call each) are cheaper than a 2-page listing.
	two := []route53.Record{
		{FQDN: "_acme-challenge.host001.example.com", Value: "a"},
		{FQDN: "_acme-challenge.host002.example.com", Value: "b"},
	}
	noErrors(t, "present two", p.Present(t.Context(), two))
	if got := e.count("ListHostedZones"); got != 2 {
		t.Errorf("%d ListHostedZones, want 2 pages", got)
	}
	if got := e.count("ListResourceRecordSets"); got != 2 {
		t.Errorf("two names: %d ListResourceRecordSets, want 2", got)
	}
	// Five names: a 2-page listing beats five reads.
	var five []route53.Record
	for i := range 5 {
		five = append(five, route53.Record{FQDN: fmt.Sprintf("_acme-challenge.host%03d.example.com", i), Value: fmt.Sprint("v", i)})
	}
	e.reg.Reset()
	noErrors(t, "present five", p.Present(t.Context(), five))
	if got := e.count("ListResourceRecordSets"); got != 2 {
		t.Errorf("five names: %d ListResourceRecordSets, want 2 (one listing of 2 pages)", got)
	}
	if got := e.txt(t, zid)["_acme-challenge.host001.example.com."]; !slices.Equal(got, []string{"a", "foreign", "v1"}) {
		t.Errorf("host001 holds %q", got)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), append(two, five...)))
	sets := e.txt(t, zid)
	if got := sets["_acme-challenge.host001.example.com."]; !slices.Equal(got, []string{"foreign"}) {
		t.Errorf("after cleanup host001 holds %q", got)
	}
	if len(sets) != 449 {
		t.Errorf("%d TXT sets after cleanup, want 448 fillers + the foreign one", len(sets))
	}
}

func TestZoneListingFailsOnce(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 1)
	e.zone(t, "example.com", false)
	e.reg.FailNext("route53", "ListHostedZones", 1, calls.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized to perform route53:ListHostedZones"})
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.a.example.com", Value: "a"},
		{FQDN: "_acme-challenge.b.example.com", Value: "b"},
	}
	errs := p.Present(t.Context(), recs)
	for i, err := range errs {
		want := "route53: find zone for " + strings.TrimSuffix(recs[i].FQDN, ".") + ": list hosted zones: "
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("record %d: %v, want prefix %q", i, err, want)
		}
	}
	if got := e.count("ListHostedZones"); got != 1 {
		t.Errorf("%d ListHostedZones for one call, want 1", got)
	}
	// The failure is not cached: the next call lists again and works.
	noErrors(t, "second present", p.Present(t.Context(), recs))
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
}

// alwaysRacingAPI changes the set before every write of the provider.
type alwaysRacingAPI struct {
	*awsr53.Client
	before func()
}

func (r *alwaysRacingAPI) ChangeResourceRecordSets(ctx context.Context, in *awsr53.ChangeResourceRecordSetsInput, optFns ...func(*awsr53.Options)) (*awsr53.ChangeResourceRecordSetsOutput, error) {
	r.before()
	return r.Client.ChangeResourceRecordSets(ctx, in, optFns...)
}

func TestCompareAndSwapGivesUp(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	const name = "_acme-challenge.example.com."
	n := 0
	api := &alwaysRacingAPI{Client: e.client, before: func() { n++; e.putTXT(t, zid, name, 60, fmt.Sprint("racer", n)) }}
	p := route53.New(api, route53.Options{RetryDelay: time.Millisecond, PollInterval: time.Millisecond})
	errs := p.Present(t.Context(), []route53.Record{{FQDN: name, Value: "ours"}})
	const want = "route53: upsert _acme-challenge.example.com: the record set kept changing under us: gave up after 6 attempts: "
	var icb *types.InvalidChangeBatch
	if errs[0] == nil || !strings.HasPrefix(errs[0].Error(), want) || !errors.As(errs[0], &icb) {
		t.Fatalf("err = %v, want prefix %q", errs[0], want)
	}
	if n != 6 {
		t.Errorf("%d writes, want 6 (1 + 5 compare-and-swap retries)", n)
	}
}

// cancellingAPI cancels the pass at its first GetChange, as a SIGTERM mid-wait would.
type cancellingAPI struct {
	*awsr53.Client
	cancel context.CancelFunc
}

func (c *cancellingAPI) GetChange(ctx context.Context, in *awsr53.GetChangeInput, optFns ...func(*awsr53.Options)) (*awsr53.GetChangeOutput, error) {
	c.cancel()
	return c.Client.GetChange(ctx, in, optFns...)
}

func TestCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: time.Hour}, 3)
	zid := e.zone(t, "example.com", false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := route53.New(&cancellingAPI{Client: e.client, cancel: cancel}, route53.Options{PollInterval: time.Millisecond, RetryDelay: time.Millisecond})
	recs := []route53.Record{{FQDN: "_acme-challenge.example.com", Value: "v"}}
	errs := p.Present(ctx, recs)
	if !errors.Is(errs[0], context.Canceled) || errors.Is(errs[0], route53.ErrInsyncTimeout) {
		t.Fatalf("err = %v, want context.Canceled", errs[0])
	}
	if !strings.HasPrefix(errs[0].Error(), "route53: upsert _acme-challenge.example.com: wait for change ") {
		t.Errorf("err = %v", errs[0])
	}
	// The caller's cleanup still works on a context without the cancellation.
	noErrors(t, "cleanup", p.CleanUp(context.WithoutCancel(ctx), recs))
	e.noChallenges(t, zid)
}

// TestZoneCreatedLater: a hosted zone created after the provider listed the zones is
// found once the listing is a minute old (a long-running daemon needs no reload); a
// name no zone holds lists again at most once per call and once a minute.
func TestZoneCreatedLater(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	e.zone(t, "example.com", false)
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := e.provider(t, route53.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	recs := []route53.Record{{FQDN: "_acme-challenge.a.new.test", Value: "v"}, {FQDN: "_acme-challenge.b.new.test", Value: "w"}}

	noErrors(t, "present", p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.www.example.com", Value: "x"}}))
	zid := e.zone(t, "new.test", false)
	advance(59 * time.Second)
	if errs := p.Present(t.Context(), recs); !errors.Is(errs[0], route53.ErrNoZone) || !errors.Is(errs[1], route53.ErrNoZone) {
		t.Fatalf("a listing under a minute old: %v, want ErrNoZone", errs)
	}
	if got := e.count("ListHostedZones"); got != 1 {
		t.Errorf("%d ListHostedZones, want 1", got)
	}
	advance(time.Second)
	noErrors(t, "present after a minute", p.Present(t.Context(), recs))
	if got := e.count("ListHostedZones"); got != 2 {
		t.Errorf("%d ListHostedZones, want 2", got)
	}
	if got := e.txt(t, zid)["_acme-challenge.a.new.test."]; !slices.Equal(got, []string{"v"}) {
		t.Errorf("new zone holds %q", got)
	}

	// FindZone too; and a name no zone holds costs one listing, not one per call.
	zid2 := e.zone(t, "newer.test", false)
	advance(time.Minute)
	if id, _, err := p.FindZone(t.Context(), "_acme-challenge.newer.test"); err != nil || id != zid2 {
		t.Errorf("FindZone = %q, %v; want %q", id, err, zid2)
	}
	for range 3 {
		if _, _, err := p.FindZone(t.Context(), "_acme-challenge.nowhere.test"); !errors.Is(err, route53.ErrNoZone) {
			t.Errorf("FindZone(nowhere) = %v", err)
		}
	}
	if got := e.count("ListHostedZones"); got != 3 {
		t.Errorf("%d ListHostedZones, want 3", got)
	}
}

// pollClock is a clock shared by the provider and the stand-in that only each GetChange
// moves on, by step: the INSYNC wait's polls are real (PollInterval is short), the time
// they stand for is the clock's.
type pollClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *pollClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// pollingAPI moves clk on by its step after every GetChange.
type pollingAPI struct {
	*awsr53.Client
	clk *pollClock
}

func (a pollingAPI) GetChange(ctx context.Context, in *awsr53.GetChangeInput, optFns ...func(*awsr53.Options)) (*awsr53.GetChangeOutput, error) {
	out, err := a.Client.GetChange(ctx, in, optFns...)
	a.clk.mu.Lock()
	a.clk.t = a.clk.t.Add(a.clk.step)
	a.clk.mu.Unlock()
	return out, err
}

// TestInsyncFirstPollAtOnce: the first GetChange follows the change without a pause, so
// a change that is INSYNC at once costs one GetChange and no wait (PollInterval is an
// hour: a pause would outlast the test's deadline).
func TestInsyncFirstPollAtOnce(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 1) // InsyncAfter 0: INSYNC at once
	e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{PollInterval: time.Hour, InsyncTimeout: 2 * time.Hour})
	noErrors(t, "present", p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.a.example.com", Value: "v"}}))
	if got := e.count("GetChange"); got != 1 {
		t.Errorf("GetChange %d, want 1", got)
	}
}

// TestInsyncWaitProgress: a change INSYNC after 30 s is polled at once and then every
// PollInterval (2 s of the clock a poll: 16 GetChange), and the wait is reported at info
// level with the change, the time waited and the deadline.
func TestInsyncWaitProgress(t *testing.T) {
	t.Parallel()
	clk := &pollClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), step: 2 * time.Second}
	e := newSim(t, r53sim.Options{InsyncAfter: 30 * time.Second, Now: clk.Now}, 1)
	e.zone(t, "example.com", false)
	core, logs := observer.New(zap.InfoLevel)
	p := route53.New(pollingAPI{Client: e.client, clk: clk}, route53.Options{PollInterval: time.Millisecond, InsyncTimeout: time.Hour, Now: clk.Now, Logger: zap.New(core)})
	noErrors(t, "present", p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.a.example.com", Value: "v"}}))
	if got := e.count("GetChange"); got != 16 {
		t.Errorf("GetChange %d, want 16 (at once, then one every PollInterval until INSYNC at 30 s)", got)
	}
	reports := logs.FilterMessage("waiting for Route 53 to report the change INSYNC").All()
	if len(reports) < 2 || len(reports) > 3 {
		t.Fatalf("%d progress reports over a 30 s wait, want 2 or 3 (after 5 s, then every 15 s)", len(reports))
	}
	f := reports[0].ContextMap()
	if f["change_id"] == "" || f["status"] != "PENDING" || f["deadline"] == nil || f["waited"] == nil || reports[0].Level != zap.InfoLevel {
		t.Errorf("report fields %v", f)
	}
}

// TestThrottlingStreakOutlastsTheClientRetryer is why the provider passes a retryer of
// its own with every call: a streak of Throttling answers (Route 53's 10 requests/s are
// per account, shared with every other tool of the account) makes the client's
// standard retryer, as internal/app configures it (3 attempts), give up on the change,
// while the provider's (MaxAttempts attempts, a backoff up to 20 s, no retry quota,
// bounded by the context) gets it written, and the client's own is left as it was.
func TestThrottlingStreakOutlastsTheClientRetryer(t *testing.T) {
	t.Parallel()
	throttle := calls.Fault{Code: "Throttling", Status: 400, Message: "Rate exceeded"}
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)

	// The client's retryer alone: three Throttling answers in a row are the end of it.
	clientGivesUp := func(when string) {
		t.Helper()
		e.reg.FailNext("route53", "ChangeResourceRecordSets", 3, throttle)
		_, err := e.client.ChangeResourceRecordSets(t.Context(), &awsr53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zid),
			ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: &types.ResourceRecordSet{
				Name: aws.String("_acme-challenge.sdk.example.com"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
				ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"v"`)}}}}}},
		})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" {
			t.Fatalf("the client's retryer alone, %s: %v, want it to give up with Throttling", when, err)
		}
	}
	clientGivesUp("before the provider")

	// The provider, on the same client.
	e.reg.FailNext("route53", "ChangeResourceRecordSets", 5, throttle)
	before := e.count("ChangeResourceRecordSets")
	p := e.provider(t, route53.Options{})
	noErrors(t, "present", p.Present(t.Context(), []route53.Record{{FQDN: "_acme-challenge.example.com", Value: "v", ZoneID: zid}}))
	if got := e.count("ChangeResourceRecordSets") - before; got != 6 {
		t.Errorf("%d ChangeResourceRecordSets, want 6 (5 throttled, then written)", got)
	}

	// The client's own retryer is as it was: the provider's is per call.
	clientGivesUp("after the provider")
}
