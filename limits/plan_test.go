package limits

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func lim(n int, w time.Duration) config.Limit { return config.Limit{N: n, Window: w} }

func first(name string, domains ...string) Candidate {
	return Candidate{Name: name, Domains: domains, Kind: First}
}

// many returns n first issuances named prefix-i for i.<domain>.
func many(prefix, domain string, n int) []Candidate {
	var out []Candidate
	for i := range n {
		out = append(out, first(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("n%d.%s", i, domain)))
	}
	return out
}

func issued(at time.Time, n int, domain string) []Issuance {
	var out []Issuance
	for i := range n {
		out = append(out, Issuance{At: at, Domains: []string{fmt.Sprintf("old%d.%s", i, domain)}})
	}
	return out
}

// untils counts the held certificates per Until, as offsets from t0.
func untils(p Plan) map[time.Duration]int {
	out := map[time.Duration]int{}
	for _, h := range p.Held {
		out[h.Until.Sub(t0)]++
	}
	return out
}

// TestOnboarding is the arithmetic of README's "Onboarding many names" at test scale:
// 60 first issuances under one registered domain and 10 under another, with 20 per
// domain per 30 s and 30 new orders per 60 s: 30 now (20 + 10), 20 at 60 s, 10 at 90 s,
// 10 at 120 s.
func TestOnboarding(t *testing.T) {
	t.Parallel()
	due := append(many("a", "example.com", 60), many("b", "example.org", 10)...)
	p := Decide(Input{
		Limits: config.Limits{NewOrders: lim(30, time.Minute), PerRegisteredDomain: lim(20, 30*time.Second)},
		Due:    due,
		Now:    t0,
	})
	want := []string{}
	for i := range 20 {
		want = append(want, fmt.Sprintf("a-%d", i))
	}
	for i := range 10 {
		want = append(want, fmt.Sprintf("b-%d", i))
	}
	if !slices.Equal(p.Order, want) {
		t.Errorf("order %v\nwant %v", p.Order, want)
	}
	wantHeld := map[time.Duration]int{60 * time.Second: 20, 90 * time.Second: 10, 120 * time.Second: 10}
	if got := untils(p); !maps.Equal(got, wantHeld) {
		t.Errorf("held until %v, want %v", got, wantHeld)
	}
	if h := p.Held["a-20"]; h.Limit != PerRegisteredDomain || !h.Until.Equal(t0.Add(time.Minute)) {
		t.Errorf("a-20 held %+v", h)
	}
	if got := p.Next(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("Next %v", got)
	}
	wantRem := map[string]int{NewOrders: 0, PerRegisteredDomain: 0}
	if !maps.Equal(p.Remaining, wantRem) {
		t.Errorf("remaining %v, want %v", p.Remaining, wantRem)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	le := config.LetsEncryptLimits
	tests := []struct {
		name     string
		limits   config.Limits
		issued   []Issuance
		due      []Candidate
		order    []string
		held     map[string]Held
		remain   map[string]int
		nextFree time.Duration
	}{
		{
			name:  "no limits: everything now",
			due:   many("a", "example.com", 3),
			order: []string{"a-0", "a-1", "a-2"},
			held:  map[string]Held{}, remain: map[string]int{},
		},
		{
			name:   "ARI renewals pass while first issuances wait",
			limits: config.Limits{PerRegisteredDomain: lim(20, 30*time.Second)},
			issued: issued(t0.Add(-10*time.Second), 20, "example.com"),
			due: []Candidate{
				first("new", "new.example.com"),
				{Name: "ari", Domains: []string{"old1.example.com"}, Kind: ARIRenewal},
			},
			order:  []string{"ari"},
			held:   map[string]Held{"new": {PerRegisteredDomain, t0.Add(20 * time.Second)}},
			remain: map[string]int{PerRegisteredDomain: 0},
		},
		{
			name:   "renewals are not held by the domain's limit, but by new orders; closest to expiry first",
			limits: config.Limits{NewOrders: lim(3, time.Hour), PerRegisteredDomain: lim(2, time.Hour)},
			issued: issued(t0.Add(-time.Minute), 2, "example.com"),
			due: []Candidate{
				{Name: "late", Domains: []string{"x.example.com"}, Kind: Renewal, NotAfter: t0.Add(20 * 24 * time.Hour)},
				{Name: "soon", Domains: []string{"y.example.com"}, Kind: Renewal, NotAfter: t0.Add(10 * 24 * time.Hour)},
			},
			order:  []string{"soon"},
			held:   map[string]Held{"late": {NewOrders, t0.Add(59 * time.Minute)}},
			remain: map[string]int{NewOrders: 0, PerRegisteredDomain: 0},
		},
		{
			name:   "an expiring certificate is never held by the count, and spends it",
			limits: config.Limits{NewOrders: lim(1, time.Hour)},
			issued: issued(t0.Add(-time.Minute), 1, "example.com"),
			due: []Candidate{
				first("new", "new.example.org"),
				{Name: "expiring", Domains: []string{"x.example.com"}, Kind: Renewal, Emergency: true},
			},
			order:  []string{"expiring"},
			held:   map[string]Held{"new": {NewOrders, t0.Add(time.Hour)}},
			remain: map[string]int{NewOrders: 0},
		},
		{
			name:   "duplicates hold a renewal of the same names",
			limits: le,
			issued: []Issuance{
				{At: t0.Add(-6 * 24 * time.Hour), Domains: []string{"www.example.com", "example.com"}},
				{At: t0.Add(-5 * 24 * time.Hour), Domains: []string{"example.com", "www.example.com"}},
				{At: t0.Add(-4 * 24 * time.Hour), Domains: []string{"www.example.com", "example.com"}},
				{At: t0.Add(-3 * 24 * time.Hour), Domains: []string{"www.example.com", "EXAMPLE.com"}},
				{At: t0.Add(-2 * 24 * time.Hour), Domains: []string{"www.example.com", "example.com"}},
			},
			due: []Candidate{
				{Name: "www", Domains: []string{"example.com", "www.example.com"}, Kind: Renewal},
				first("api", "api.example.com"),
			},
			order:  []string{"api"},
			held:   map[string]Held{"www": {Duplicates, t0.Add(24 * time.Hour)}},
			remain: map[string]int{NewOrders: 299, PerRegisteredDomain: 44, Duplicates: 0},
		},
		{
			name:   "a certificate spanning registered domains needs room in each; a wildcard counts for its domain",
			limits: config.Limits{PerRegisteredDomain: lim(1, time.Hour)},
			issued: []Issuance{{At: t0.Add(-30 * time.Minute), Domains: []string{"*.example.org"}}},
			due: []Candidate{
				first("both", "www.example.com", "www.example.org"),
				first("com", "api.example.com"),
			},
			order:  []string{"com"},
			held:   map[string]Held{"both": {PerRegisteredDomain, t0.Add(time.Hour)}},
			remain: map[string]int{PerRegisteredDomain: 0},
		},
		{
			name:   "an issuance outside the window counts for nothing",
			limits: config.Limits{PerRegisteredDomain: lim(1, time.Hour)},
			issued: issued(t0.Add(-time.Hour), 1, "example.com"),
			due:    many("a", "example.com", 1),
			order:  []string{"a-0"},
			held:   map[string]Held{}, remain: map[string]int{PerRegisteredDomain: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Decide(Input{Limits: tt.limits, Issued: tt.issued, Due: tt.due, Now: t0})
			if !slices.Equal(p.Order, tt.order) {
				t.Errorf("order %v, want %v", p.Order, tt.order)
			}
			if !maps.Equal(p.Held, tt.held) {
				t.Errorf("held %v, want %v", p.Held, tt.held)
			}
			if !maps.Equal(p.Remaining, tt.remain) {
				t.Errorf("remaining %v, want %v", p.Remaining, tt.remain)
			}
		})
	}
}

func TestRegisteredDomain(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"www.example.com":        "example.com",
		"*.example.com":          "example.com",
		"new.blog.example.co.uk": "example.co.uk",
		"co.uk":                  "co.uk",
		"Example.COM.":           "example.com",
	} {
		if got := RegisteredDomain(name); got != want {
			t.Errorf("RegisteredDomain(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestDecideScales: a thousand first issuances under one registered domain at Let's
// Encrypt's limits plan in well under a second (the pass does it once per pass).
func TestDecideScales(t *testing.T) {
	t.Parallel()
	p := Decide(Input{Limits: config.LetsEncryptLimits, Due: many("a", "example.com", 1000), Issued: issued(t0.Add(-time.Hour), 300, "example.org"), Now: t0})
	if len(p.Order) != 0 || len(p.Held) != 1000 {
		t.Fatalf("order %d held %d", len(p.Order), len(p.Held))
	}
	// 50 a week: the last of 1000 fits after 19 full weeks.
	last := p.Held["a-999"].Until
	if weeks := last.Sub(t0) / (7 * 24 * time.Hour); weeks != 19 {
		t.Errorf("a-999 until %v (%d weeks)", last, weeks)
	}
}
