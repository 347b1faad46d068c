package route53_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/providers/route53"
)

// judge is a Persist for tests: it owns the values of its CA and account, and takes
// as current its own value or any listed in also.
type judge struct {
	owner string // "<issuer>; accounturi=<url>"
	value string
	also  []string
}

func (j judge) Owns(raw string) bool    { return strings.HasPrefix(raw, j.owner) }
func (j judge) Current(raw string) bool { return raw == j.value || slices.Contains(j.also, raw) }

func persistRec(fqdn string, j judge) route53.Record {
	return route53.CertDNS{}.PersistRecord(fqdn, j.value, "", j)
}

// TestPersistWrittenOnceThenLeftAlone: the first Present writes the missing records in
// one change; the second makes no change and no GetChange, even where every change is
// refused (a runner without write permission); a stale own value is replaced and the
// values of other CAs and accounts stay; CleanUp removes only the own values.
func TestPersistWrittenOnceThenLeftAlone(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	zid := e.zone(t, "example.com", false)
	const (
		owner = "ca.example; accounturi=https://ca.example/acct/1"
		apex  = "_validation-persist.example.com."
		www   = "_validation-persist.www.example.com."
	)
	e.putTXT(t, zid, apex, 300, "other.example; accounturi=https://other.example/a/9", owner+"; persistUntil=1")
	wild := judge{owner: owner, value: owner + "; policy=wildcard"}
	plain := judge{owner: owner, value: owner, also: []string{wild.value}}
	recs := []route53.Record{persistRec(apex, plain), persistRec(apex, wild), persistRec(www, plain)}
	p := e.provider(t, route53.Options{})
	changes := e.count("ChangeResourceRecordSets")
	noErrors(t, "present", p.Present(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets") - changes; got != 1 {
		t.Errorf("%d ChangeResourceRecordSets, want 1", got)
	}
	sets := e.txt(t, zid)
	if want := []string{wild.value, "other.example; accounturi=https://other.example/a/9"}; !slices.Equal(sets[apex], want) {
		t.Errorf("%s holds %q, want %q (the stale own value replaced, the other CA's kept)", apex, sets[apex], want)
	}
	if want := []string{owner}; !slices.Equal(sets[www], want) {
		t.Errorf("%s holds %q, want %q", www, sets[www], want)
	}

	e.reg.FailNext("route53", "ChangeResourceRecordSets", 10, calls.Fault{Code: "AccessDenied", Status: 403})
	changes, polls := e.count("ChangeResourceRecordSets"), e.count("GetChange")
	noErrors(t, "present again", route53.New(e.client, route53.Options{}).Present(t.Context(), recs))
	if got := e.count("ChangeResourceRecordSets") - changes; got != 0 {
		t.Errorf("present again: %d ChangeResourceRecordSets, want 0", got)
	}
	if got := e.count("GetChange") - polls; got != 0 {
		t.Errorf("present again: %d GetChange, want 0", got)
	}

	// A missing record under the same refusal fails, naming the record.
	missing := persistRec("_validation-persist.new.example.com.", plain)
	errs := p.Present(t.Context(), []route53.Record{missing})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "_validation-persist.new.example.com") || !strings.Contains(errs[0].Error(), "AccessDenied") {
		t.Errorf("missing record under AccessDenied: %v", errs[0])
	}
	e.reg.DropFaults()

	noErrors(t, "cleanup", p.CleanUp(t.Context(), recs))
	sets = e.txt(t, zid)
	if want := []string{"other.example; accounturi=https://other.example/a/9"}; !slices.Equal(sets[apex], want) {
		t.Errorf("after cleanup %s holds %q, want %q", apex, sets[apex], want)
	}
	if sets[www] != nil {
		t.Errorf("after cleanup %s holds %q", www, sets[www])
	}
}

// TestPersistConflict: records sharing a name whose values cannot stand together fail
// without a write.
func TestPersistConflict(t *testing.T) {
	t.Parallel()
	e := newSim(t, r53sim.Options{}, 3)
	e.zone(t, "example.com", false)
	const name = "_validation-persist.example.com."
	a := judge{owner: "ca; accounturi=u", value: "ca; accounturi=u; persistUntil=1"}
	b := judge{owner: "ca; accounturi=u", value: "ca; accounturi=u; persistUntil=2"}
	errs := e.provider(t, route53.Options{}).Present(t.Context(), []route53.Record{persistRec(name, a), persistRec(name, b)})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "cannot stand together") {
		t.Errorf("conflict: %v", errs)
	}
	if got := e.count("ChangeResourceRecordSets"); got != 0 {
		t.Errorf("%d ChangeResourceRecordSets, want 0", got)
	}
}

func TestPersistRecordPinnedZone(t *testing.T) {
	t.Parallel()
	d := route53.CertDNS{NoFollow: true, Alias: "elsewhere.example.net", ZoneIDs: map[string]string{"www.example.com": "ZPIN"}}
	r := d.PersistRecord("_validation-persist.www.example.com.", "v", "ZCERT", judge{})
	if r.ZoneID != "ZPIN" || !r.NoFollow || r.Alias != "" || r.Persist == nil {
		t.Errorf("record = %+v", r)
	}
}
