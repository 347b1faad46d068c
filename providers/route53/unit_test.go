package route53

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

func TestEncodeDecodeTXT(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 255) + strings.Repeat("b", 255) + "c"
	tests := []struct {
		name, raw, wire string
	}{
		{"acme token", "gfj9Xq-Hcn4ZaUzGY2Fo5WxqBSXQ6xPf1sUIM0eGgJo", `"gfj9Xq-Hcn4ZaUzGY2Fo5WxqBSXQ6xPf1sUIM0eGgJo"`},
		{"empty", "", `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"control byte", "a\nb", `"a\012b"`},
		{"exactly 255", strings.Repeat("x", 255), `"` + strings.Repeat("x", 255) + `"`},
		{"511 split in three", long, `"` + strings.Repeat("a", 255) + `" "` + strings.Repeat("b", 255) + `" "c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := encodeTXT(tt.raw); got != tt.wire {
				t.Fatalf("encodeTXT = %q, want %q", got, tt.wire)
			}
			if got := decodeTXT(tt.wire); got != tt.raw {
				t.Fatalf("decodeTXT = %q, want %q", got, tt.raw)
			}
		})
	}
}

func TestDecodeTXTForeignForms(t *testing.T) {
	t.Parallel()
	tests := []struct{ wire, raw string }{
		{`v=spf1`, "v=spf1"},              // bare
		{`"a" "b"`, "ab"},                 // several strings concatenate
		{`"with space"`, "with space"},    // quoted space
		{`"\052x"`, "*x"},                 // octal escape
		{`  "a"   b  `, "ab"},             // stray whitespace, mixed forms
		{`"unterminated`, "unterminated"}, // best effort
		{`"trailing\`, `trailing\`},       // lone backslash kept
	}
	for _, tt := range tests {
		if got := decodeTXT(tt.wire); got != tt.raw {
			t.Errorf("decodeTXT(%q) = %q, want %q", tt.wire, got, tt.raw)
		}
	}
}

func TestEncodedStringsAtMost255(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 254, 255, 256, 510, 511, 1000} {
		w := encodeTXT(strings.Repeat("z", n))
		for _, part := range strings.Split(w, " ") {
			if l := len(strings.Trim(part, `"`)); l > 255 {
				t.Errorf("n=%d: a string of %d characters", n, l)
			}
		}
		if got := decodeTXT(w); len(got) != n {
			t.Errorf("n=%d: round trip gave %d characters", n, len(got))
		}
	}
}

func TestMergeValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stored, our []string
		want        []string
		added       bool
	}{
		{"into nothing", nil, []string{"a", "b"}, []string{`"a"`, `"b"`}, true},
		{"foreign kept", []string{`"foreign"`}, []string{"a"}, []string{`"foreign"`, `"a"`}, true},
		{"already there", []string{`"x"`, `"a"`}, []string{"a"}, []string{`"x"`, `"a"`}, false},
		{"stored in split form", []string{`"a" "b"`}, []string{"ab"}, []string{`"a" "b"`}, false},
		{"our duplicates once", nil, []string{"a", "a"}, []string{`"a"`}, true},
		{"foreign wire untouched", []string{`bare`}, []string{"a"}, []string{`bare`, `"a"`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, added := mergeValues(tt.stored, tt.our)
			if !slices.Equal(got, tt.want) || added != tt.added {
				t.Fatalf("mergeValues = %q, %v; want %q, %v", got, added, tt.want, tt.added)
			}
		})
	}
}

func TestRemoveValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stored, our []string
		want        []string
		removed     bool
	}{
		{"all ours", []string{`"a"`, `"b"`}, []string{"a", "b"}, nil, true},
		{"foreign stays", []string{`"foreign"`, `"a"`}, []string{"a"}, []string{`"foreign"`}, true},
		{"already gone", []string{`"foreign"`}, []string{"a"}, []string{`"foreign"`}, false},
		{"nothing stored", nil, []string{"a"}, nil, false},
		{"split form matches", []string{`"a" "b"`}, []string{"ab"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, removed := removeValues(tt.stored, tt.our)
			if !slices.Equal(got, tt.want) || removed != tt.removed {
				t.Fatalf("removeValues = %q, %v; want %q, %v", got, removed, tt.want, tt.removed)
			}
		})
	}
}

func TestCanonicalName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"_acme-challenge.WWW.Example.COM", "_acme-challenge.www.example.com."},
		{"example.com.", "example.com."},
		{`\052.example.com.`, "*.example.com."},
		{" a.b ", "a.b."},
	}
	for _, tt := range tests {
		if got := canonicalName(tt.in); got != tt.want {
			t.Errorf("canonicalName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMatchZone(t *testing.T) {
	t.Parallel()
	zones := []zone{
		{id: "ZCOM", name: "example.com."},
		{id: "ZSUB", name: "sub.example.com."},
		{id: "ZPRIV", name: "internal.example.com.", private: true},
		{id: "ZAMPLE", name: "ample.com."},
		{id: "ZDUP1", name: "dup.org."},
		{id: "ZDUP2", name: "dup.org."},
		{id: "ZSPLITPUB", name: "split.net."},
		{id: "ZSPLITPRIV", name: "split.net.", private: true},
	}
	tests := []struct {
		name    string
		fqdn    string
		private bool
		want    string
		wantErr string
	}{
		{"apex", "_acme-challenge.example.com.", false, "ZCOM", ""},
		{"deep", "_acme-challenge.a.b.example.com.", false, "ZCOM", ""},
		{"longest wins", "_acme-challenge.www.sub.example.com.", false, "ZSUB", ""},
		{"zone name itself", "sub.example.com.", false, "ZSUB", ""},
		{"label boundary", "_acme-challenge.notexample.com.", false, "", "no hosted zone"},
		{"suffix not on boundary", "_acme-challenge.sample.com.", false, "", "no hosted zone"},
		{"ample.com proper", "_acme-challenge.ample.com.", false, "ZAMPLE", ""},
		{"private ignored", "_acme-challenge.internal.example.com.", false, "ZCOM", ""},
		{"private allowed", "_acme-challenge.internal.example.com.", true, "ZPRIV", ""},
		{"no zone", "_acme-challenge.example.net.", false, "", "no hosted zone"},
		{"duplicates ambiguous", "_acme-challenge.dup.org.", false, "", "hosted zones ZDUP1, ZDUP2 all have the name dup.org.: set the record's zone id"},
		{"split horizon public only", "_acme-challenge.split.net.", false, "ZSPLITPUB", ""},
		{"split horizon with private", "_acme-challenge.split.net.", true, "", "ZSPLITPUB, ZSPLITPRIV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z, err := matchZone(zones, tt.fqdn, tt.private)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || z.id != tt.want {
				t.Fatalf("matchZone = %q, %v; want %q", z.id, err, tt.want)
			}
		})
	}
	if _, err := matchZone(zones, "x.example.net.", false); !errors.Is(err, ErrNoZone) {
		t.Errorf("no match: %v is not ErrNoZone", err)
	}
}

func TestBareZoneID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Z1": "Z1", "/hostedzone/Z1": "Z1", "hostedzone/Z1": "Z1", " Z1 ": "Z1"} {
		if got := bareZoneID(in); got != want {
			t.Errorf("bareZoneID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	p := New(nil, Options{})
	recs := []Record{
		{FQDN: "_acme-challenge.example.com", Value: "apex", ZoneID: "/hostedzone/Z1"},
		{FQDN: "_acme-challenge.www.example.com.", Value: "www", ZoneID: "Z1"},
		{FQDN: "_acme-challenge.EXAMPLE.com.", Value: "wild", ZoneID: "Z1"}, // wildcard shares the apex name
		{FQDN: "_acme-challenge.example.org.", Value: "org", ZoneID: "Z2"},
		{FQDN: "", Value: "x", ZoneID: "Z1"},
		{FQDN: "_acme-challenge.example.com.", Value: "apex", ZoneID: "Z1"}, // duplicate value
	}
	errs := make([]error, len(recs))
	groups := p.group(t.Context(), recs, errs, opPresent)
	if errs[4] == nil || errs[4].Error() != "route53: upsert record 4: empty name" {
		t.Fatalf("errs[4] = %v", errs[4])
	}
	if len(groups) != 2 || groups[0].id != "Z1" || groups[1].id != "Z2" {
		t.Fatalf("groups = %+v", groups)
	}
	u := groups[0].units
	if len(u) != 2 {
		t.Fatalf("zone Z1 has %d names, want 2", len(u))
	}
	if u[0].fqdn != "_acme-challenge.example.com." || !slices.Equal(u[0].idx, []int{0, 2, 5}) || !slices.Equal(u[0].values, []string{"apex", "wild"}) {
		t.Errorf("apex unit = %+v", *u[0])
	}
	if u[1].fqdn != "_acme-challenge.www.example.com." || !slices.Equal(u[1].idx, []int{1}) {
		t.Errorf("www unit = %+v", *u[1])
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	type ch struct {
		action string
		ttl    int64
		values string
	}
	tests := []struct {
		name   string
		op     op
		old    *rrset
		values []string
		want   []ch
	}{
		{"present new", opPresent, nil, []string{"a", "b"}, []ch{{"CREATE", 60, `"a" "b"`}}},
		{"present merge keeps foreign and TTL", opPresent, &rrset{300, []string{`"f"`}}, []string{"a"},
			[]ch{{"DELETE", 300, `"f"`}, {"CREATE", 300, `"f" "a"`}}},
		{"present already there", opPresent, &rrset{60, []string{`"a"`}}, []string{"a"}, nil},
		{"cleanup all ours", opCleanUp, &rrset{60, []string{`"a"`, `"b"`}}, []string{"a", "b"}, []ch{{"DELETE", 60, `"a" "b"`}}},
		{"cleanup keeps foreign", opCleanUp, &rrset{120, []string{`"f"`, `"a"`}}, []string{"a"},
			[]ch{{"DELETE", 120, `"f" "a"`}, {"CREATE", 120, `"f"`}}},
		{"cleanup gone", opCleanUp, nil, []string{"a"}, nil},
		{"cleanup only foreign left", opCleanUp, &rrset{60, []string{`"f"`}}, []string{"a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := &unit{fqdn: "_acme-challenge.example.com.", values: tt.values, old: tt.old}
			u.plan(tt.op, 60)
			var got []ch
			for _, c := range u.changes {
				var vs []string
				for _, rr := range c.ResourceRecordSet.ResourceRecords {
					vs = append(vs, *rr.Value)
				}
				got = append(got, ch{string(c.Action), *c.ResourceRecordSet.TTL, strings.Join(vs, " ")})
				if *c.ResourceRecordSet.Name != u.fqdn || c.ResourceRecordSet.Type != types.RRTypeTxt {
					t.Errorf("change on %s %s", *c.ResourceRecordSet.Name, c.ResourceRecordSet.Type)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("changes = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChangeCost(t *testing.T) {
	t.Parallel()
	c := txtChange(types.ChangeActionCreate, "n.", 60, []string{`"abc"`, `"de"`})
	if r, n := changeCost(c); r != 2 || n != 9 {
		t.Errorf("CREATE cost = %d records, %d chars; want 2, 9", r, n)
	}
	c.Action = types.ChangeActionUpsert
	if r, n := changeCost(c); r != 4 || n != 18 {
		t.Errorf("UPSERT cost = %d records, %d chars; want 4, 18 (counts twice)", r, n)
	}
	c.Action = types.ChangeActionDelete
	if r, n := changeCost(c); r != 2 || n != 9 {
		t.Errorf("DELETE cost = %d records, %d chars; want 2, 9", r, n)
	}
}

func TestSplitBatches(t *testing.T) {
	t.Parallel()
	// mk builds a unit whose one change holds n values of 10 characters each.
	mk := func(name string, action types.ChangeAction, n int) *unit {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = `"01234567"` // 10 characters
		}
		return &unit{fqdn: name, changes: []types.Change{txtChange(action, name, 60, vals)}}
	}
	pair := func(name string, oldN, newN int) *unit { // a CAS: DELETE old + CREATE new
		u := mk(name, types.ChangeActionDelete, oldN)
		u.changes = append(u.changes, mk(name, types.ChangeActionCreate, newN).changes...)
		return u
	}
	sizes := func(bs [][]*unit) []int {
		var s []int
		for _, b := range bs {
			s = append(s, len(b))
		}
		return s
	}
	tests := []struct {
		name        string
		units       []*unit
		maxRecords  int
		maxChars    int
		wantBatches []int
	}{
		{"all fit", []*unit{mk("a", "CREATE", 1), mk("b", "CREATE", 1), mk("c", "CREATE", 1)}, 1000, 32000, []int{3}},
		{"record limit", []*unit{mk("a", "CREATE", 2), mk("b", "CREATE", 2), mk("c", "CREATE", 2)}, 4, 32000, []int{2, 1}},
		{"char limit", []*unit{mk("a", "CREATE", 1), mk("b", "CREATE", 1), mk("c", "CREATE", 1)}, 1000, 25, []int{2, 1}},
		{"upsert counts twice: records", []*unit{mk("a", "UPSERT", 1), mk("b", "UPSERT", 1), mk("c", "UPSERT", 1)}, 4, 32000, []int{2, 1}},
		{"upsert counts twice: chars", []*unit{mk("a", "UPSERT", 1), mk("b", "UPSERT", 1)}, 1000, 30, []int{1, 1}},
		{"create would fit where upsert does not", []*unit{mk("a", "CREATE", 1), mk("b", "CREATE", 1)}, 1000, 30, []int{2}},
		{"CAS pair never split", []*unit{pair("a", 1, 2), pair("b", 1, 2)}, 4, 32000, []int{1, 1}},
		{"oversized unit alone", []*unit{mk("a", "CREATE", 1), mk("big", "CREATE", 10), mk("c", "CREATE", 1)}, 5, 32000, []int{1, 1, 1}},
		{"empty", nil, 1000, 32000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := splitBatches(tt.units, tt.maxRecords, tt.maxChars)
			if !slices.Equal(sizes(got), tt.wantBatches) {
				t.Fatalf("batch sizes = %v, want %v", sizes(got), tt.wantBatches)
			}
			var order []string
			for _, b := range got {
				for _, u := range b {
					order = append(order, u.fqdn)
				}
			}
			var want []string
			for _, u := range tt.units {
				want = append(want, u.fqdn)
			}
			if !slices.Equal(order, want) {
				t.Fatalf("order = %v, want %v", order, want)
			}
		})
	}
}

func TestAWSDefaultLimitsSplit(t *testing.T) {
	t.Parallel()
	// 1500 ACME values (45 characters quoted) in new sets: 1500 records > 1000, and
	// 1500*45 = 67500 characters > 32000, so the character limit decides: 711 per batch.
	var units []*unit
	for i := range 1500 {
		u := &unit{fqdn: "n" + string(rune('a'+i%26)), values: []string{strings.Repeat("x", 43)}}
		u.plan(opPresent, 60)
		units = append(units, u)
	}
	got := splitBatches(units, defaultMaxBatchRecords, defaultMaxBatchChars)
	if len(got) != 3 || len(got[0]) != 711 || len(got[1]) != 711 || len(got[2]) != 78 {
		t.Fatalf("batches of %d, %d, ...; want 711, 711, 78", len(got[0]), len(got[1]))
	}
}

func TestSameSet(t *testing.T) {
	t.Parallel()
	a := &rrset{60, []string{`"a"`, `"b"`}}
	if !sameSet(a, &rrset{60, []string{`"b"`, `"a"`}}) {
		t.Error("order must not matter")
	}
	if sameSet(a, &rrset{300, []string{`"a"`, `"b"`}}) {
		t.Error("TTL must matter")
	}
	if sameSet(a, nil) || !sameSet(nil, nil) {
		t.Error("nil handling")
	}
}

// TestZoneByIDDuringListing: a zone already listed is known while another goroutine
// holds the listing lock (it used to look unknown then, and its records were read one
// name at a time).
func TestZoneByIDDuringListing(t *testing.T) {
	t.Parallel()
	p := New(nil, Options{})
	p.zoneCache = []zone{{id: "Z1", name: "example.com.", records: 7}}
	p.zoneLock <- struct{}{} // a listing in progress
	defer func() { <-p.zoneLock }()
	z, ok := p.zoneByID("Z1")
	if !ok || z.records != 7 {
		t.Fatalf("zoneByID during a listing = %+v, %v", z, ok)
	}
	if _, ok := p.zoneByID("Z2"); ok {
		t.Fatal("an unknown zone was found")
	}
}
