package limitsim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func order(acct string, names ...string) Order { return Order{Account: acct, Names: names} }

// place checks and counts o, as the CA does for an order it accepts.
func place(l *Limiter, o Order) *Refusal {
	if r := l.Check(o); r != nil {
		return r
	}
	l.Count(o)
	return nil
}

func TestPerDomainWindow(t *testing.T) {
	t.Parallel()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Limits{PerDomain: Limit{2, 30 * time.Second}}, c.now)
	if r := place(l, order("a", "a.example.com")); r != nil {
		t.Fatal(r.Detail)
	}
	c.t = c.t.Add(10 * time.Second)
	if r := place(l, order("a", "b.example.com", "c.example.com")); r != nil {
		t.Fatal(r.Detail)
	}
	// Another registered domain has its own count; a public suffix's own subdomain too.
	if r := place(l, order("a", "a.example.org")); r != nil {
		t.Fatal(r.Detail)
	}
	r := place(l, order("b", "d.example.com"))
	if r == nil {
		t.Fatal("third certificate for example.com within the window accepted")
	}
	if r.RetryAfter != 20*time.Second {
		t.Errorf("RetryAfter %s, want 20s (the first order leaves the window)", r.RetryAfter)
	}
	want := `too many certificates (2) already issued for "example.com" in the last 30s, retry after 2026-01-01 00:00:30 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain`
	if r.Detail != want {
		t.Errorf("detail\n%s\nwant\n%s", r.Detail, want)
	}
	// A renewal of a set issued before is not held by the domain's limit.
	if r := place(l, order("a", "b.example.com", "c.example.com")); r != nil {
		t.Errorf("renewal refused: %s", r.Detail)
	}
	// ARI replacements are exempt from everything and count against nothing.
	if r := place(l, Order{Account: "a", Names: []string{"z.example.com"}, Replaces: true}); r != nil {
		t.Errorf("replacement refused: %s", r.Detail)
	}
	// The renewal counted though: the window frees when both orders of second 10 leave it.
	c.t = c.t.Add(20 * time.Second)
	if r := place(l, order("b", "d.example.com")); r == nil || r.RetryAfter != 10*time.Second {
		t.Errorf("at 30 s: %+v, want a refusal until 40 s", r)
	}
	c.t = c.t.Add(10 * time.Second)
	if r := place(l, order("b", "d.example.com")); r != nil {
		t.Errorf("after the window freed: %s", r.Detail)
	}
}

func TestNewOrdersPerAccount(t *testing.T) {
	t.Parallel()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Limits{NewOrders: Limit{3, time.Minute}}, c.now)
	for i := range 3 {
		if r := place(l, order("acct1", fmt.Sprintf("n%d.example.com", i))); r != nil {
			t.Fatal(r.Detail)
		}
		c.t = c.t.Add(time.Second)
	}
	r := place(l, order("acct1", "x.example.org"))
	if r == nil || r.RetryAfter != 57*time.Second || !strings.HasPrefix(r.Detail, "too many new orders (3) from this account in the last 1m0s") {
		t.Fatalf("refusal %+v", r)
	}
	if r := place(l, order("acct2", "x.example.org")); r != nil {
		t.Errorf("another account refused: %s", r.Detail)
	}
	// A refused order counts against nothing.
	c.t = c.t.Add(57 * time.Second)
	if r := place(l, order("acct1", "x.example.org")); r != nil {
		t.Errorf("after the first order left the window: %s", r.Detail)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Limits{Duplicates: Limit{2, time.Hour}, PerDomain: Limit{100, time.Hour}}, c.now)
	for range 2 {
		if r := place(l, order("a", "www.example.com", "example.com")); r != nil {
			t.Fatal(r.Detail)
		}
	}
	r := place(l, order("a", "EXAMPLE.com", "www.example.com", "example.com"))
	if r == nil || r.RetryAfter != time.Hour || !strings.Contains(r.Detail, "this exact set of identifiers") {
		t.Fatalf("third duplicate: %+v", r)
	}
	if r := place(l, order("a", "www.example.com")); r != nil {
		t.Errorf("another set refused: %s", r.Detail)
	}
}

func TestRegisteredDomain(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"www.example.com":        "example.com",
		"*.example.com":          "example.com",
		"new.blog.example.co.uk": "example.co.uk",
		"a.b.example.test":       "example.test",
		"co.uk":                  "co.uk",
		"Example.COM.":           "example.com",
	} {
		if got := RegisteredDomain(name); got != want {
			t.Errorf("RegisteredDomain(%q) = %q, want %q", name, got, want)
		}
	}
}
