package route53_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsr53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/dnssim"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/providers/route53"
)

// putCNAME writes a CNAME, as the operator delegating _acme-challenge would.
func (e *simEnv) putCNAME(t *testing.T, zoneID, name, target string) {
	t.Helper()
	_, err := e.client.ChangeResourceRecordSets(t.Context(), &awsr53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String(name), Type: types.RRTypeCname, TTL: aws.Int64(300),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String(target)}},
		}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCNAMEFollowedThroughAPI: _acme-challenge.www.example.com is a CNAME into
// example.org: the TXT goes there, example.com gets no change, cleanup removes it at
// the same target; a wildcard and its apex behind one CNAME share one TXT set.
func TestCNAMEFollowedThroughAPI(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 20 * time.Millisecond}, 3)
	com := e.zone(t, "example.com", false)
	org := e.zone(t, "example.org", false)
	e.putCNAME(t, com, "_acme-challenge.www.example.com", "www.acme.example.org")
	e.putCNAME(t, com, "_acme-challenge.example.com", "apex.acme.example.org.")
	before := e.svc.Changes(com)
	e.reg.Reset()
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.www.example.com.", Value: "www"},
		{FQDN: "_acme-challenge.example.com.", Value: "apex"},
		{FQDN: "_acme-challenge.example.com.", Value: "wildcard"},
		{FQDN: "_acme-challenge.plain.example.org.", Value: "plain"},
	}
	targets, errs := p.Targets(t.Context(), recs)
	noErrors(t, "resolve", errs)
	if got := targets[0]; got.FQDN != "www.acme.example.org." || got.ZoneID != org ||
		!slices.Equal(got.Chain, []string{"_acme-challenge.www.example.com.", "www.acme.example.org."}) {
		t.Errorf("target of www = %+v", got)
	}
	if n := e.count("ChangeResourceRecordSets"); n != 0 {
		t.Fatalf("Resolve wrote %d changes", n)
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	sets := e.txt(t, org)
	if got := sets["apex.acme.example.org."]; !slices.Equal(got, []string{"apex", "wildcard"}) {
		t.Errorf("apex target holds %q, want both values in one set", got)
	}
	if got := sets["www.acme.example.org."]; !slices.Equal(got, []string{"www"}) {
		t.Errorf("www target holds %q", got)
	}
	if got := sets["_acme-challenge.plain.example.org."]; !slices.Equal(got, []string{"plain"}) {
		t.Errorf("plain name holds %q", got)
	}
	if n := e.count("ChangeResourceRecordSets"); n != 1 {
		t.Errorf("%d changes, want 1 (one per target zone)", n)
	}
	// The CNAME moves before cleanup: the TXT is removed where it was written.
	e.putCNAME(t, com, "_acme-challenge.www.example.com", "elsewhere.example.org")
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.txt(t, org); len(got) != 0 {
		t.Errorf("after cleanup example.org holds %v", got)
	}
	if n := e.svc.Changes(com) - before; n != 1 { // the test's own CNAME move
		t.Errorf("example.com got %d changes from the provider", n-1)
	}
}

// TestCNAMELoopAndLongChain: a loop is an error naming the chain, and so is a
// chain longer than 8; nothing is written.
func TestCNAMELoopAndLongChain(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	com := e.zone(t, "example.com", false)
	org := e.zone(t, "example.org", false)
	e.putCNAME(t, com, "_acme-challenge.loop.example.com", "a.example.org")
	e.putCNAME(t, org, "a.example.org", "b.example.org")
	e.putCNAME(t, org, "b.example.org", "a.example.org")
	for i := range 10 {
		e.putCNAME(t, org, fmt.Sprintf("c%d.example.org", i), fmt.Sprintf("c%d.example.org", i+1))
	}
	e.putCNAME(t, com, "_acme-challenge.long.example.com", "c0.example.org")
	e.reg.Reset()
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.loop.example.com", Value: "x"},
		{FQDN: "_acme-challenge.long.example.com", Value: "y"},
		{FQDN: "_acme-challenge.www.example.com", Value: "z"}, // fine
	}
	errs := p.Resolve(t.Context(), recs)
	const loop = "route53: CNAME loop: _acme-challenge.loop.example.com -> a.example.org -> b.example.org -> a.example.org"
	if !errors.Is(errs[0], route53.ErrCNAMELoop) || errs[0].Error() != loop {
		t.Errorf("loop: %v\nwant %s", errs[0], loop)
	}
	if !errors.Is(errs[1], route53.ErrCNAMEChain) || !strings.Contains(errs[1].Error(), "_acme-challenge.long.example.com -> c0.example.org") {
		t.Errorf("long chain: %v", errs[1])
	}
	if errs[2] != nil {
		t.Errorf("plain name: %v", errs[2])
	}
	errs = p.Present(t.Context(), recs)
	if !errors.Is(errs[0], route53.ErrCNAMELoop) || errs[2] != nil {
		t.Errorf("present: %v", errs)
	}
	if n := e.count("ChangeResourceRecordSets"); n != 1 {
		t.Errorf("%d changes, want 1 (the good record only)", n)
	}
	// What Present could not place, it did not write: nothing to remove, no error.
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if n := e.count("ChangeResourceRecordSets"); n != 2 {
		t.Errorf("%d changes after cleanup, want 2", n)
	}
	// Without a Present before, CleanUp resolves and reports the loop.
	if errs := p.CleanUp(t.Context(), recs[:1]); !errors.Is(errs[0], route53.ErrCNAMELoop) {
		t.Errorf("cleanup without present: %v", errs[0])
	}
}

// TestAliasAndNoFollow: an alias sends the TXT to _acme-challenge.<alias> without a
// lookup; NoFollow writes at the name itself (and Route 53 refuses a TXT beside a
// CNAME, as it would).
func TestAliasAndNoFollow(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	com := e.zone(t, "example.com", false)
	org := e.zone(t, "example.org", false)
	e.putCNAME(t, com, "_acme-challenge.www.example.com", "_acme-challenge.example.org")
	p := e.provider(t, route53.Options{})
	recs := []route53.Record{
		{FQDN: "_acme-challenge.www.example.com", Value: "a", Alias: "example.org"},
		{FQDN: "_acme-challenge.api.example.com", Value: "b", Alias: "_acme-challenge.example.org."},
	}
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.txt(t, org)["_acme-challenge.example.org."]; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("alias target holds %q", got)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	e.noChallenges(t, com, org)

	noFollow := []route53.Record{{FQDN: "_acme-challenge.www.example.com", Value: "c", NoFollow: true}}
	before := e.count("ChangeResourceRecordSets")
	if errs := p.Resolve(t.Context(), noFollow); errs[0] == nil || !strings.Contains(errs[0].Error(), "is a CNAME (to _acme-challenge.example.org)") {
		t.Errorf("resolve no-follow beside a CNAME: %v", errs[0])
	}
	if n := e.count("ChangeResourceRecordSets"); n != before {
		t.Error("Resolve wrote")
	}
	errs := p.Present(t.Context(), noFollow)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "CNAME") {
		t.Errorf("no-follow beside a CNAME: %v, want Route 53's refusal", errs[0])
	}
}

// TestCNAMEFollowedThroughDNS: the record's name is in a zone the provider cannot
// read (another account's): its CNAME is read from DNS, and the TXT goes to the
// target in the provider's own zone.
func TestCNAMEFollowedThroughDNS(t *testing.T) {
	t.Parallel()
	const other = "210987654321"
	e := newSim(t, r53sim.Options{DefaultAccount: "123456789012", AccountOf: func(key string) (string, bool) {
		return other, key == "AKIDOTHER"
	}}, 3)
	org := e.zone(t, "example.org", false)
	com, err := e.svc.CreateZoneIn(other, "example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	owner := &simEnv{svc: e.svc, client: awsr53.NewFromConfig(e.cfg, func(o *awsr53.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDOTHER", "secret", "")
	})}
	owner.putCNAME(t, com, "_acme-challenge.www.example.com.", "www.acme.example.org.")
	srv, err := dnssim.Start(t.Context(), "127.0.0.1:0", e.svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	p := e.provider(t, route53.Options{Resolvers: []string{srv.Addr()}})
	recs := []route53.Record{{FQDN: "_acme-challenge.www.example.com", Value: "v"}, {FQDN: "_acme-challenge.nocname.example.com", Value: "w"}}
	errs := p.Present(t.Context(), recs)
	if errs[0] != nil {
		t.Fatalf("present: %v", errs[0])
	}
	if !errors.Is(errs[1], route53.ErrNoZone) || !strings.Contains(errs[1].Error(), "_acme-challenge.nocname.example.com") {
		t.Errorf("a name in no zone and without a CNAME: %v", errs[1])
	}
	if got := e.txt(t, org)["www.acme.example.org."]; !slices.Equal(got, []string{"v"}) {
		t.Errorf("target holds %q", got)
	}
	if n := e.svc.Changes(com); n != 1 {
		t.Errorf("example.com accepted %d changes, want the owner's CNAME only", n)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs[:1]))
	e.noChallenges(t, org)
}

// countingAPI counts the calls made through it (a role's client).
type countingAPI struct {
	route53.API
	n atomic.Int64
}

func (c *countingAPI) ListResourceRecordSets(ctx context.Context, in *awsr53.ListResourceRecordSetsInput, o ...func(*awsr53.Options)) (*awsr53.ListResourceRecordSetsOutput, error) {
	c.n.Add(1)
	return c.API.ListResourceRecordSets(ctx, in, o...)
}

func (c *countingAPI) ChangeResourceRecordSets(ctx context.Context, in *awsr53.ChangeResourceRecordSetsInput, o ...func(*awsr53.Options)) (*awsr53.ChangeResourceRecordSetsOutput, error) {
	c.n.Add(1)
	return c.API.ChangeResourceRecordSets(ctx, in, o...)
}

func (c *countingAPI) GetChange(ctx context.Context, in *awsr53.GetChangeInput, o ...func(*awsr53.Options)) (*awsr53.GetChangeOutput, error) {
	c.n.Add(1)
	return c.API.GetChange(ctx, in, o...)
}

func (c *countingAPI) GetHostedZone(ctx context.Context, in *awsr53.GetHostedZoneInput, o ...func(*awsr53.Options)) (*awsr53.GetHostedZoneOutput, error) {
	c.n.Add(1)
	return c.API.GetHostedZone(ctx, in, o...)
}

func (c *countingAPI) ListHostedZones(ctx context.Context, in *awsr53.ListHostedZonesInput, o ...func(*awsr53.Options)) (*awsr53.ListHostedZonesOutput, error) {
	c.n.Add(1)
	return c.API.ListHostedZones(ctx, in, o...)
}

// TestConfiguredZoneClient: a configured zone is read and written (GetChange
// included) only through its own client, found by name without discovery.
func TestConfiguredZoneClient(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{InsyncAfter: 20 * time.Millisecond}, 3)
	org := e.zone(t, "example.org", false)
	role := &countingAPI{API: e.client}
	p := e.provider(t, route53.Options{Zones: []route53.Zone{{Name: "example.org", API: role, Role: "arn:aws:iam::210987654321:role/dns"}}})
	recs := []route53.Record{{FQDN: "_acme-challenge.www.example.org", Value: "v"}}
	e.reg.Reset()
	noErrors(t, "present", p.Present(t.Context(), recs))
	total := e.reg.ServiceTotal("route53")
	if got := role.n.Load(); got != int64(total) || got < 4 { // list zones, read, change, GetChange
		t.Errorf("role client made %d of %d calls", got, total)
	}
	if got := e.txt(t, org)["_acme-challenge.www.example.org."]; !slices.Equal(got, []string{"v"}) {
		t.Errorf("holds %q", got)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
}

// TestZoneAccessDenied: a zone that refuses the credentials fails with an error
// naming the zone and what to configure.
func TestZoneAccessDenied(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	org := e.zone(t, "example.org", false)
	e.reg.FailNext("route53", "ListResourceRecordSets", 1, calls.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized"})
	p := e.provider(t, route53.Options{})
	errs := p.Resolve(t.Context(), []route53.Record{{FQDN: "_acme-challenge.www.example.org", Value: "v", ZoneID: org}})
	var ae *route53.ZoneAccessError
	if !errors.As(errs[0], &ae) || ae.ZoneID != org || !strings.Contains(errs[0].Error(), "dns.zones") || !strings.Contains(errs[0].Error(), "assume_role_arn") {
		t.Fatalf("err = %v", errs[0])
	}
	if n := e.count("ListHostedZones"); n != 0 {
		t.Errorf("%d ListHostedZones with a pinned zone", n)
	}
}

// TestConfiguredZoneByName: a dns.zones entry found by name picks the zone of that
// name and kind (private or public); two of them are an error naming both; a role the
// zone refuses is named in the error.
func TestConfiguredZoneByName(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	pub := e.zone(t, "example.org", false)
	priv := e.zone(t, "example.org", true)
	dup1 := e.zone(t, "example.net", false)
	dup2 := e.zone(t, "example.net", false)
	p := e.provider(t, route53.Options{Zones: []route53.Zone{
		{Name: "example.org", Private: true},
		{Name: "example.net"},
	}})
	targets, errs := p.Targets(t.Context(), []route53.Record{
		{FQDN: "_acme-challenge.www.example.org", NoFollow: true},
		{FQDN: "_acme-challenge.www.example.net"},
	})
	if errs[0] != nil || targets[0].ZoneID != priv {
		t.Errorf("private entry: %+v, %v; want zone %s (not the public %s)", targets[0], errs[0], priv, pub)
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), dup1) || !strings.Contains(errs[1].Error(), dup2) {
		t.Errorf("duplicate zones: %v, want both ids", errs[1])
	}

	const role = "arn:aws:iam::210987654321:role/wrong"
	e.reg.FailNext("route53", "ListResourceRecordSets", 1, calls.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized"})
	q := e.provider(t, route53.Options{Zones: []route53.Zone{{Name: "example.org", ID: pub, API: e.client, Role: role}}})
	errs = q.Resolve(t.Context(), []route53.Record{{FQDN: "_acme-challenge.www.example.org"}})
	var ae *route53.ZoneAccessError
	if !errors.As(errs[0], &ae) || ae.Role != role || !strings.Contains(errs[0].Error(), "refused role "+role) || !strings.Contains(errs[0].Error(), "(example.org)") {
		t.Errorf("refused role: %v", errs[0])
	}
}

// TestConfiguredZoneByIDOnly: an entry with only an id gives its client to records
// pinned to that zone.
func TestConfiguredZoneByIDOnly(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	org := e.zone(t, "example.org", false)
	role := &countingAPI{API: e.client}
	p := e.provider(t, route53.Options{Zones: []route53.Zone{{ID: "/hostedzone/" + org, API: role}}})
	recs := []route53.Record{{FQDN: "_acme-challenge.www.example.org", Value: "v", ZoneID: org}}
	e.reg.Reset()
	noErrors(t, "present", p.Present(t.Context(), recs))
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got, total := role.n.Load(), e.reg.ServiceTotal("route53"); got != int64(total) || e.count("ListHostedZones") != 0 {
		t.Errorf("role client made %d of %d calls (%d ListHostedZones)", got, total, e.count("ListHostedZones"))
	}
	e.noChallenges(t, org)
}

// TestPresentReusesResolveReads: the preflight's Resolve reads each name once; the
// Present that follows writes from those reads (no second read), and its
// compare-and-swap still catches a set that moved in between.
func TestPresentReusesResolveReads(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	org := e.zone(t, "example.org", false)
	p := e.provider(t, route53.Options{Zones: []route53.Zone{{Name: "example.org", ID: org}}}) // size unknown: reads per name
	recs := []route53.Record{{FQDN: "_acme-challenge.a.example.org", Value: "a"}, {FQDN: "_acme-challenge.b.example.org", Value: "b"}}
	noErrors(t, "resolve", p.Resolve(t.Context(), recs))
	if n := e.count("ListResourceRecordSets"); n != 2 {
		t.Fatalf("resolve: %d reads, want 2", n)
	}
	e.putTXT(t, org, "_acme-challenge.b.example.org.", 60, "another-runner") // moves after the read
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.txt(t, org)["_acme-challenge.b.example.org."]; !slices.Equal(got, []string{"another-runner", "b"}) {
		t.Errorf("b holds %q, want both values", got)
	}
	// 2 by Resolve, none by Present's first try, 1 to re-read b after its lost swap.
	if n := e.count("ListResourceRecordSets"); n > 3 {
		t.Errorf("%d reads in all, want at most 3", n)
	}
	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	if got := e.txt(t, org)["_acme-challenge.b.example.org."]; !slices.Equal(got, []string{"another-runner"}) {
		t.Errorf("after cleanup b holds %q", got)
	}
}

// TestConfiguredZoneMissing: a dns.zones entry whose zone the credentials do not see
// is an error naming it, not a reason to look elsewhere.
func TestConfiguredZoneMissing(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	e.zone(t, "example.com", false)
	p := e.provider(t, route53.Options{Zones: []route53.Zone{{Name: "example.org", Role: "arn:aws:iam::210987654321:role/dns", API: e.client}}})
	errs := p.Resolve(t.Context(), []route53.Record{{FQDN: "_acme-challenge.www.example.org"}})
	want := "route53: find zone for _acme-challenge.www.example.org: dns.zones example.org: find the hosted zone through role arn:aws:iam::210987654321:role/dns: these credentials see no public hosted zone named example.org"
	if errs[0] == nil || errs[0].Error() != want {
		t.Errorf("err = %v\nwant %s", errs[0], want)
	}
}

// TestPinnedZoneChecked: a record pinned to a hosted zone whose name does not hold it is
// refused by Resolve, naming both, with no write; the zone's name is asked once
// (GetHostedZone) and remembered; a right pin resolves.
func TestPinnedZoneChecked(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	com := e.zone(t, "example.com", false)
	org := e.zone(t, "example.org", false)
	p := e.provider(t, route53.Options{})
	wrong := []route53.Record{{FQDN: "_acme-challenge.www.example.com", ZoneID: org}}
	for range 2 {
		errs := p.Resolve(t.Context(), wrong)
		want := "hosted zone " + org + " is example.org, which does not hold _acme-challenge.www.example.com"
		if !errors.Is(errs[0], route53.ErrPinnedZoneMismatch) || !strings.Contains(errs[0].Error(), want) {
			t.Fatalf("wrong pin: %v, want %q", errs[0], want)
		}
	}
	if n := e.count("GetHostedZone"); n != 1 {
		t.Errorf("%d GetHostedZone for one pinned zone, want 1", n)
	}
	if n := e.count("ChangeResourceRecordSets") + e.count("ListHostedZones"); n != 0 {
		t.Errorf("%d writes or listings for a pinned zone", n)
	}
	noErrors(t, "right pin", p.Resolve(t.Context(), []route53.Record{{FQDN: "_acme-challenge.www.example.com", ZoneID: "/hostedzone/" + com}}))
}
