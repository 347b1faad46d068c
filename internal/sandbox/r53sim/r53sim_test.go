package r53sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

// fakeClock is a settable clock for INSYNC timing and the token bucket.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	svc    *Service
	calls  *calls.Registry
	client *route53.Client
	clock  *fakeClock
}

// newEnv starts a Service behind httptest and a real SDK client. maxAttempts bounds
// the SDK's retries; backoff is zero so retry tests do not sleep.
func newEnv(t *testing.T, opts Options, maxAttempts int) *env {
	t.Helper()
	reg := calls.New()
	opts.Calls = reg
	clk := newFakeClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	svc := New(opts)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	return &env{svc: svc, calls: reg, client: route53.NewFromConfig(cfg), clock: clk}
}

func txt(name string, ttl int64, values ...string) *types.ResourceRecordSet {
	rs := &types.ResourceRecordSet{Name: aws.String(name), Type: types.RRTypeTxt, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return rs
}

func chg(action types.ChangeAction, rs *types.ResourceRecordSet) types.Change {
	return types.Change{Action: action, ResourceRecordSet: rs}
}

func (e *env) change(ctx context.Context, zoneID string, changes ...types.Change) (*route53.ChangeResourceRecordSetsOutput, error) {
	return e.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
}

func (e *env) mustZone(t *testing.T, name string) string {
	t.Helper()
	id, err := e.svc.CreateZone(name, false)
	if err != nil {
		t.Fatalf("CreateZone(%s): %v", name, err)
	}
	return id
}

func TestHostedZones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)

	out, err := e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("Example.COM"), CallerReference: aws.String("ref-1"),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	hz := out.HostedZone
	id := strings.TrimPrefix(aws.ToString(hz.Id), "/hostedzone/")
	if len(id) != 21 || id[0] != 'Z' || strings.ToUpper(id) != id {
		t.Errorf("zone id = %q, want Z + 20 uppercase alphanumerics", id)
	}
	if got := aws.ToString(hz.Name); got != "example.com." {
		t.Errorf("zone name = %q, want example.com.", got)
	}
	if hz.Config == nil || hz.Config.PrivateZone {
		t.Errorf("public zone reported private: %+v", hz.Config)
	}
	if out.ChangeInfo == nil || out.ChangeInfo.Status != types.ChangeStatusInsync || !strings.HasPrefix(aws.ToString(out.ChangeInfo.Id), "/change/C") {
		t.Errorf("ChangeInfo = %+v, want /change/C... INSYNC (InsyncAfter 0)", out.ChangeInfo)
	}
	if out.DelegationSet == nil || len(out.DelegationSet.NameServers) != 4 {
		t.Errorf("DelegationSet = %+v, want 4 name servers", out.DelegationSet)
	}
	if aws.ToString(out.Location) == "" {
		t.Error("Location header missing")
	}

	// Same CallerReference again: HostedZoneAlreadyExists.
	_, err = e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("other.example"), CallerReference: aws.String("ref-1"),
	})
	var exists *types.HostedZoneAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("duplicate CallerReference: err = %v, want HostedZoneAlreadyExists", err)
	}

	priv, err := e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("example.com"), CallerReference: aws.String("ref-2"),
		VPC: &types.VPC{VPCId: aws.String("vpc-1"), VPCRegion: types.VPCRegionUsEast1},
	})
	if err != nil {
		t.Fatalf("CreateHostedZone private: %v", err)
	}
	if !priv.HostedZone.Config.PrivateZone || priv.VPC == nil || aws.ToString(priv.VPC.VPCId) != "vpc-1" {
		t.Errorf("private zone: config %+v, vpc %+v", priv.HostedZone.Config, priv.VPC)
	}

	// GetHostedZone accepts the ID with or without its /hostedzone/ prefix.
	for _, zid := range []string{id, "/hostedzone/" + id} {
		got, err := e.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zid)})
		if err != nil {
			t.Fatalf("GetHostedZone(%s): %v", zid, err)
		}
		if aws.ToString(got.HostedZone.Name) != "example.com." || aws.ToInt64(got.HostedZone.ResourceRecordSetCount) != 2 {
			t.Errorf("GetHostedZone = %+v, want example.com. with 2 record sets", got.HostedZone)
		}
		if got.DelegationSet == nil || len(got.DelegationSet.NameServers) != 4 {
			t.Errorf("GetHostedZone delegation set = %+v", got.DelegationSet)
		}
	}
	_, err = e.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String("ZNOTEXISTING")})
	var nsz *types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Errorf("GetHostedZone unknown: err = %v, want NoSuchHostedZone", err)
	}

	// A new zone holds its SOA and NS sets.
	rr, err := e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	var kinds []string
	for _, s := range rr.ResourceRecordSets {
		kinds = append(kinds, aws.ToString(s.Name)+" "+string(s.Type))
	}
	if want := []string{"example.com. NS", "example.com. SOA"}; !slices.Equal(kinds, want) {
		t.Errorf("new zone record sets = %v, want %v", kinds, want)
	}
	if got := e.calls.Count("route53", "CreateHostedZone"); got != 3 {
		t.Errorf("CreateHostedZone calls = %d, want 3", got)
	}
}

func TestListHostedZonesPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	want := map[string]bool{}
	for i := range 5 {
		want[e.mustZone(t, fmt.Sprintf("z%d.example", i))] = true
	}
	got := map[string]bool{}
	var marker *string
	pages := 0
	for {
		out, err := e.client.ListHostedZones(ctx, &route53.ListHostedZonesInput{Marker: marker, MaxItems: aws.Int32(2)})
		if err != nil {
			t.Fatalf("ListHostedZones: %v", err)
		}
		pages++
		if len(out.HostedZones) > 2 {
			t.Fatalf("page of %d zones, MaxItems 2", len(out.HostedZones))
		}
		for _, z := range out.HostedZones {
			got[strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")] = true
		}
		if !out.IsTruncated {
			break
		}
		marker = out.NextMarker
	}
	if pages != 3 || len(got) != 5 {
		t.Errorf("pages = %d, zones = %d; want 3 pages, 5 zones", pages, len(got))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("zone %s not listed", id)
		}
	}
}

func TestListHostedZonesByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	for _, n := range []string{"b.com", "x.a.com", "a.com", "a.org"} {
		e.mustZone(t, n)
	}
	var names []string
	var dnsName, zoneID *string
	for {
		out, err := e.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{
			DNSName: dnsName, HostedZoneId: zoneID, MaxItems: aws.Int32(1),
		})
		if err != nil {
			t.Fatalf("ListHostedZonesByName: %v", err)
		}
		for _, z := range out.HostedZones {
			names = append(names, aws.ToString(z.Name))
		}
		if !out.IsTruncated {
			break
		}
		dnsName, zoneID = out.NextDNSName, out.NextHostedZoneId
	}
	// Ordered by name with labels reversed: com.a, com.a.x, com.b, org.a.
	if want := []string{"a.com.", "x.a.com.", "b.com.", "a.org."}; !slices.Equal(names, want) {
		t.Errorf("order = %v, want %v", names, want)
	}
	out, err := e.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("b.com")})
	if err != nil {
		t.Fatalf("ListHostedZonesByName(b.com): %v", err)
	}
	if len(out.HostedZones) != 2 || aws.ToString(out.HostedZones[0].Name) != "b.com." {
		t.Errorf("from b.com: %d zones, first %q", len(out.HostedZones), aws.ToString(out.HostedZones[0].Name))
	}
}

func longString(n int) string { return strings.Repeat("a", n) }

// manyRecords returns n distinct quoted TXT values of size bytes each (quotes included).
func manyRecords(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		v := fmt.Sprintf("%06d", i)
		out[i] = `"` + v + strings.Repeat("x", max(0, size-2-len(v))) + `"`
	}
	return out
}

func TestChangeBatchErrors(t *testing.T) {
	t.Parallel()
	const n = "_acme-challenge.example.com."
	existing := chg(types.ChangeActionCreate, txt(n, 60, `"token-1"`, `"token-2"`))
	tests := []struct {
		name     string
		batch    []types.Change
		messages bool   // true: <InvalidChangeBatch><Messages> shape; false: ErrorResponse shape
		want     string // substring of the message
	}{
		{"create existing", []types.Change{chg(types.ChangeActionCreate, txt(n, 60, `"other"`))}, false,
			"Tried to create resource record set [name='_acme-challenge.example.com.', type='TXT'] but it already exists"},
		{"delete mismatched ttl", []types.Change{chg(types.ChangeActionDelete, txt(n, 300, `"token-1"`, `"token-2"`))}, false,
			"Tried to delete resource record set [name='_acme-challenge.example.com.', type='TXT'] but the values provided do not match the current values"},
		{"delete mismatched values", []types.Change{chg(types.ChangeActionDelete, txt(n, 60, `"token-1"`))}, false,
			"but the values provided do not match the current values"},
		{"delete not found", []types.Change{chg(types.ChangeActionDelete, txt("_acme-challenge.www.example.com", 60, `"x"`))}, false,
			"Tried to delete resource record set [name='_acme-challenge.www.example.com.', type='TXT'] but it was not found"},
		{"unquoted txt", []types.Change{chg(types.ChangeActionUpsert, txt("a.example.com", 60, `token`))}, true,
			"InvalidCharacterString (Value should be enclosed in quotation marks)"},
		{"256-char string", []types.Change{chg(types.ChangeActionUpsert, txt("a.example.com", 60, `"`+longString(256)+`"`))}, true,
			"CharacterStringTooLong (Value is too long)"},
		{"1001 records", []types.Change{chg(types.ChangeActionCreate, txt("a.example.com", 60, manyRecords(1001, 8)...))}, true,
			"Number of records limit of 1000 exceeded"},
		{"upsert counts twice toward records", []types.Change{chg(types.ChangeActionUpsert, txt("a.example.com", 60, manyRecords(501, 8)...))}, true,
			"Number of records limit of 1000 exceeded"},
		{"upsert counts twice toward characters", []types.Change{
			chg(types.ChangeActionUpsert, txt("a.example.com", 60, manyRecords(100, 170)...)), // 17,000 x2
		}, true, "exceeds the limit of 32000"},
		{"name outside zone", []types.Change{chg(types.ChangeActionCreate, txt("www.example.org", 60, `"x"`))}, true,
			"RRSet with DNS name www.example.org. is not permitted in zone example.com."},
		{"cname beside other records", []types.Change{chg(types.ChangeActionCreate, &types.ResourceRecordSet{Name: aws.String(n), Type: types.RRTypeCname,
			TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("target.example.org")}}})}, false,
			"is not permitted because a conflicting RRSet of type TXT with the same DNS name already exists"},
		{"all or nothing", []types.Change{
			chg(types.ChangeActionCreate, txt("new.example.com", 60, `"fine"`)),
			chg(types.ChangeActionUpsert, txt("other.example.com", 60, `"fine"`)),
			chg(types.ChangeActionCreate, txt(n, 60, `"clash"`)),
		}, false, "but it already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, Options{}, 1)
			zid := e.mustZone(t, "example.com")
			if _, err := e.change(ctx, zid, existing); err != nil {
				t.Fatalf("setup: %v", err)
			}
			before := e.svc.Records(zid)
			_, err := e.change(ctx, zid, tc.batch...)
			var icb *types.InvalidChangeBatch
			if !errors.As(err, &icb) {
				t.Fatalf("err = %v, want *types.InvalidChangeBatch", err)
			}
			text := aws.ToString(icb.Message)
			if tc.messages {
				text = strings.Join(icb.Messages, "\n")
				if len(icb.Messages) == 0 {
					t.Errorf("want the <Messages> shape, got Message %q", aws.ToString(icb.Message))
				}
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("message = %q, want it to contain %q", text, tc.want)
			}
			if after := e.svc.Records(zid); !equalSets(before, after) {
				t.Errorf("failed batch changed the zone:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestChangeBatchLimitsAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	zid := e.mustZone(t, "example.com")
	// Exactly at the limits: 1000 records via CREATE, 32,000 characters via UPSERT x2.
	if _, err := e.change(ctx, zid, chg(types.ChangeActionCreate, txt("a.example.com", 60, manyRecords(1000, 8)...))); err != nil {
		t.Errorf("1000 records: %v", err)
	}
	if _, err := e.change(ctx, zid, chg(types.ChangeActionUpsert, txt("b.example.com", 60, manyRecords(100, 160)...))); err != nil {
		t.Errorf("16,000 characters upserted: %v", err)
	}
	// A 255-character string, and several strings in one value, are fine.
	if _, err := e.change(ctx, zid, chg(types.ChangeActionUpsert, txt("c.example.com", 60, `"`+longString(255)+`" "second \"quoted\" part"`))); err != nil {
		t.Errorf("255-char string: %v", err)
	}
}

func equalSets(a, b []RecordSet) bool {
	return slices.EqualFunc(a, b, func(x, y RecordSet) bool {
		return x.Name == y.Name && x.Type == y.Type && x.SetIdentifier == y.SetIdentifier && sameSet(x, y)
	})
}

func TestChangeBatchHappyPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	zid := e.mustZone(t, "example.com")
	steps := []struct {
		name  string
		batch []types.Change
		want  []string // TXT sets at the end of the step, "name ttl values"
	}{
		{"upsert creates, names folded to lowercase", []types.Change{chg(types.ChangeActionUpsert, txt("_ACME-Challenge.Example.com", 60, `"a"`))},
			[]string{`_acme-challenge.example.com. 60 "a"`}},
		{"upsert replaces", []types.Change{chg(types.ChangeActionUpsert, txt("_acme-challenge.example.com.", 120, `"a"`, `"b"`))},
			[]string{`_acme-challenge.example.com. 120 "a","b"`}},
		{"delete matching in any order, then create, in one batch", []types.Change{
			chg(types.ChangeActionDelete, txt("_acme-challenge.example.com", 120, `"b"`, `"a"`)),
			chg(types.ChangeActionCreate, txt("_acme-challenge.example.com", 60, `"c"`)),
		}, []string{`_acme-challenge.example.com. 60 "c"`}},
		{"multivalue answer sets by set identifier", []types.Change{
			chg(types.ChangeActionCreate, &types.ResourceRecordSet{Name: aws.String("mv.example.com"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
				SetIdentifier: aws.String("one"), MultiValueAnswer: aws.Bool(true), ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"1"`)}}}),
			chg(types.ChangeActionCreate, &types.ResourceRecordSet{Name: aws.String("mv.example.com"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
				SetIdentifier: aws.String("two"), MultiValueAnswer: aws.Bool(true), ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"2"`)}}}),
		}, []string{`_acme-challenge.example.com. 60 "c"`, `mv.example.com./one 60 "1"`, `mv.example.com./two 60 "2"`}},
		{"delete everything", []types.Change{
			chg(types.ChangeActionDelete, txt("_acme-challenge.example.com", 60, `"c"`)),
			chg(types.ChangeActionDelete, &types.ResourceRecordSet{Name: aws.String("mv.example.com"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
				SetIdentifier: aws.String("one"), MultiValueAnswer: aws.Bool(true), ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"1"`)}}}),
		}, []string{`mv.example.com./two 60 "2"`}},
	}
	for _, st := range steps {
		out, err := e.change(ctx, zid, st.batch...)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !strings.HasPrefix(aws.ToString(out.ChangeInfo.Id), "/change/C") || len(aws.ToString(out.ChangeInfo.Id)) != len("/change/C2682N5HXP0BZ4") {
			t.Errorf("%s: change id %q", st.name, aws.ToString(out.ChangeInfo.Id))
		}
		var got []string
		for _, rs := range e.svc.Records(zid) {
			if rs.Type != "TXT" {
				continue
			}
			n := rs.Name
			if rs.SetIdentifier != "" {
				n += "/" + rs.SetIdentifier
			}
			got = append(got, fmt.Sprintf("%s %d %s", n, rs.TTL, strings.Join(rs.Values, ",")))
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: records = %q, want %q", st.name, got, st.want)
		}
	}
}

func TestListResourceRecordSetsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	zid := e.mustZone(t, "example.com")
	var batch []types.Change
	for _, n := range []string{"b.example.com", "a.b.example.com", "a.example.com", "z.example.com", "_acme-challenge.a.example.com"} {
		batch = append(batch, chg(types.ChangeActionCreate, txt(n, 60, `"v"`)))
	}
	batch = append(batch, chg(types.ChangeActionCreate, &types.ResourceRecordSet{Name: aws.String("a.example.com"), Type: types.RRTypeA,
		TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("192.0.2.1")}}}))
	if _, err := e.change(ctx, zid, batch...); err != nil {
		t.Fatalf("setup: %v", err)
	}
	// Labels reversed: com.example < com.example.a < com.example.a._acme-challenge < com.example.b ...
	want := []string{
		"example.com. NS", "example.com. SOA", "a.example.com. A", "a.example.com. TXT",
		"_acme-challenge.a.example.com. TXT", "b.example.com. TXT", "a.b.example.com. TXT", "z.example.com. TXT",
	}
	var got []string
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zid), MaxItems: aws.Int32(3)}
	pages := 0
	for {
		out, err := e.client.ListResourceRecordSets(ctx, in)
		if err != nil {
			t.Fatalf("ListResourceRecordSets: %v", err)
		}
		pages++
		for _, rs := range out.ResourceRecordSets {
			got = append(got, aws.ToString(rs.Name)+" "+string(rs.Type))
		}
		if !out.IsTruncated {
			break
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	// StartRecordName alone starts at the first set at or after that name.
	out, err := e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zid), StartRecordName: aws.String("b.example.com"), MaxItems: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("ListResourceRecordSets from b: %v", err)
	}
	if len(out.ResourceRecordSets) != 1 || aws.ToString(out.ResourceRecordSets[0].Name) != "b.example.com." ||
		!out.IsTruncated || aws.ToString(out.NextRecordName) != "a.b.example.com." || out.NextRecordType != types.RRTypeTxt {
		t.Errorf("from b.example.com: %+v", out)
	}
	_, err = e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String("ZMISSING")})
	var nsz *types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Errorf("unknown zone: err = %v, want NoSuchHostedZone", err)
	}
}

func TestPendingThenInsync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newFakeClock()
	e := newEnv(t, Options{InsyncAfter: 30 * time.Second, Now: clk.Now}, 1)
	zid := e.mustZone(t, "example.com")
	out, err := e.change(ctx, zid, chg(types.ChangeActionUpsert, txt("_acme-challenge.example.com", 60, `"tok"`)))
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending {
		t.Errorf("status = %s, want PENDING", out.ChangeInfo.Status)
	}
	if got := aws.ToTime(out.ChangeInfo.SubmittedAt); !got.Equal(clk.Now()) {
		t.Errorf("SubmittedAt = %v, want %v", got, clk.Now())
	}
	status := func() types.ChangeStatus {
		t.Helper()
		g, err := e.client.GetChange(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id})
		if err != nil {
			t.Fatalf("GetChange: %v", err)
		}
		return g.ChangeInfo.Status
	}
	// The API sees the record at once; DNS does not until INSYNC.
	if len(e.svc.Records(zid)) != 3 {
		t.Errorf("API view should hold the new set while PENDING")
	}
	if l := e.svc.Lookup("_acme-challenge.example.com."); l.Exists || len(l.Sets) != 0 || l.Zone != "example.com." {
		t.Errorf("Lookup while PENDING = %+v, want zone only", l)
	}
	clk.Advance(29 * time.Second)
	if s := status(); s != types.ChangeStatusPending {
		t.Errorf("after 29s: %s, want PENDING", s)
	}
	clk.Advance(time.Second)
	if s := status(); s != types.ChangeStatusInsync {
		t.Errorf("after 30s: %s, want INSYNC", s)
	}
	l := e.svc.Lookup("_ACME-challenge.example.com")
	if len(l.Sets) != 1 || l.Sets[0].Values[0] != `"tok"` || !l.Exists || l.SOA == nil || l.NS == nil {
		t.Errorf("Lookup after INSYNC = %+v", l)
	}
	if l := e.svc.Lookup("example.com."); !l.Exists {
		t.Errorf("apex should exist: %+v", l)
	}
	if l := e.svc.Lookup("nope.example.com."); l.Exists || l.Zone != "example.com." {
		t.Errorf("missing name: %+v", l)
	}
	if l := e.svc.Lookup("example.net."); l.Zone != "" {
		t.Errorf("outside every zone: %+v", l)
	}
	if n := e.calls.Count("route53", "GetChange"); n != 2 {
		t.Errorf("GetChange calls = %d, want 2", n)
	}
	_, err = e.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String("/change/CNOSUCHCHANGE1")})
	var nsc *types.NoSuchChange
	if !errors.As(err, &nsc) {
		t.Errorf("unknown change: err = %v, want NoSuchChange", err)
	}
}

func TestLookupPrivateZoneAndEmptyNonTerminal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, Options{}, 1)
	pub := e.mustZone(t, "example.com")
	priv, err := e.svc.CreateZone("internal.example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.change(ctx, priv, chg(types.ChangeActionCreate, txt("x.internal.example.com", 60, `"private"`))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.change(ctx, pub, chg(types.ChangeActionCreate, txt("a.b.example.com", 60, `"deep"`))); err != nil {
		t.Fatal(err)
	}
	if l := e.svc.Lookup("x.internal.example.com."); l.Zone != "example.com." || l.Exists {
		t.Errorf("private zone must not be served: %+v", l)
	}
	if l := e.svc.Lookup("b.example.com."); !l.Exists || len(l.Sets) != 0 {
		t.Errorf("empty non-terminal: %+v", l)
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newFakeClock()
	e := newEnv(t, Options{RequestRate: 1, Burst: 2, Now: clk.Now}, 1)
	zid := e.mustZone(t, "example.com")
	get := func() error {
		_, err := e.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zid)})
		return err
	}
	for i := range 2 {
		if err := get(); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	err := get()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" || ae.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("over the rate: err = %v, want Throttling: Rate exceeded", err)
	}
	if r := retry.NewStandard().IsErrorRetryable(err); !r {
		t.Error("the SDK must classify Throttling as retryable")
	}
	clk.Advance(time.Second)
	if err := get(); err != nil {
		t.Errorf("after a second: %v", err)
	}
	if n := e.calls.Count("route53", "GetHostedZone"); n != 4 {
		t.Errorf("GetHostedZone calls = %d, want 4 (throttled ones count)", n)
	}
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PriorRequestNotComplete is retried by the SDK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Options{}, 3)
		zid := e.mustZone(t, "example.com")
		e.calls.FailNext("route53", "ChangeResourceRecordSets", 2, calls.Fault{Code: "PriorRequestNotComplete", Message: "The request was rejected because Route 53 was still processing a prior request.", Status: 400})
		if _, err := e.change(ctx, zid, chg(types.ChangeActionUpsert, txt("a.example.com", 60, `"v"`))); err != nil {
			t.Fatalf("change after two faults: %v", err)
		}
		if n := e.calls.Count("route53", "ChangeResourceRecordSets"); n != 3 {
			t.Errorf("ChangeResourceRecordSets calls = %d, want 3", n)
		}
	})
	t.Run("PriorRequestNotComplete surfaces typed and changes nothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Options{}, 1)
		zid := e.mustZone(t, "example.com")
		e.calls.FailNext("route53", "ChangeResourceRecordSets", 1, calls.Fault{Code: "PriorRequestNotComplete", Message: "busy", Status: 400})
		_, err := e.change(ctx, zid, chg(types.ChangeActionUpsert, txt("a.example.com", 60, `"v"`)))
		var prnc *types.PriorRequestNotComplete
		if !errors.As(err, &prnc) {
			t.Fatalf("err = %v, want *types.PriorRequestNotComplete", err)
		}
		if !retry.NewStandard().IsErrorRetryable(err) {
			t.Error("the SDK must classify PriorRequestNotComplete as retryable")
		}
		if len(e.svc.Records(zid)) != 2 {
			t.Error("a faulted call changed the zone")
		}
	})
	t.Run("ServiceUnavailable 503", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Options{}, 1)
		e.calls.FailNext("route53", "ListHostedZones", 1, calls.Fault{Code: "ServiceUnavailable", Status: 503})
		_, err := e.client.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
			t.Fatalf("err = %v, want ServiceUnavailable", err)
		}
		if !retry.NewStandard().IsErrorRetryable(err) {
			t.Error("a 503 must be retryable")
		}
	})
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	reg := calls.New()
	srv := httptest.NewServer(New(Options{Calls: reg}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/2013-04-01/healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("status %d, request id %q", resp.StatusCode, resp.Header.Get("x-amzn-RequestId"))
	}
}

func TestParseTXT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{`"abc"`, []string{"abc"}, ""},
		{`"a" "b c"`, []string{"a", "b c"}, ""},
		{`"say \"hi\" \\ ok"`, []string{`say "hi" \ ok`}, ""},
		{`"\101\102"`, []string{"AB"}, ""},
		{`abc`, nil, "InvalidCharacterString"},
		{`"abc`, nil, "InvalidCharacterString"},
		{`"a"b`, nil, "InvalidCharacterString"},
		{``, nil, "InvalidCharacterString"},
		{`"` + longString(256) + `"`, nil, "CharacterStringTooLong"},
	}
	for _, tc := range tests {
		got, err := ParseTXT(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTXT(%q) err = %v, want %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseTXT(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestTrailingSlash: botocore (certbot's dns-route53, the AWS CLI) posts changes to
// /2013-04-01/hostedzone/ID/rrset/ with a trailing slash, which Route 53 accepts.
func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	reg := calls.New()
	svc := New(Options{Calls: reg})
	zid, err := svc.CreateZone("example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>_acme-challenge.example.com</Name><Type>TXT</Type><TTL>10</TTL><ResourceRecords><ResourceRecord><Value>"botocore"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
	for _, path := range []string{"/2013-04-01/hostedzone/" + zid + "/rrset", "/2013-04-01/hostedzone/" + zid + "/rrset/"} {
		resp, err := http.Post(srv.URL+path, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: status %d, want 200", path, resp.StatusCode)
		}
	}
	if got := reg.Count("route53", "ChangeResourceRecordSets"); got != 2 {
		t.Errorf("ChangeResourceRecordSets = %d, want 2", got)
	}
	var found bool
	for _, rs := range svc.Records(zid) {
		found = found || (rs.Type == "TXT" && rs.Name == "_acme-challenge.example.com." && slices.Equal(rs.Values, []string{`"botocore"`}))
	}
	if !found {
		t.Errorf("the record posted with a trailing slash is not in the zone: %+v", svc.Records(zid))
	}
	// Two trailing slashes are still an unknown path.
	resp, err := http.Get(srv.URL + "/2013-04-01/hostedzone/" + zid + "/rrset//")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET .../rrset//: status %d, want 404", resp.StatusCode)
	}
}
