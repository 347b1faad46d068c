// Package limitsim is the sandbox CA's issuance limits, modelled on Let's Encrypt's
// (docs/sandbox.md): new orders per account, new certificates per registered domain
// (the Public Suffix List's eTLD+1) and certificates per exact set of names, each at most
// N in any window of its Window (a sliding window; a Let's Encrypt token bucket admits
// every sequence a sliding window does, so a client that keeps inside one keeps inside
// the other).
//
// Exemptions, as at Let's Encrypt: an order naming the certificate it replaces (ARI's
// replaces) is exempt from every limit and counts against none; an order for a set of
// names issued before (a renewal) is not held by the per-domain limit but counts against
// it. The sandbox counts an order when the CA accepts it, not when the certificate is
// issued: stricter than Let's Encrypt for orders that never finish.
//
// The package never reads flags or the environment; its clock is injected.
package limitsim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/limits"
)

// Limit is at most N in any Window; the zero Limit is none.
type Limit struct {
	N      int
	Window time.Duration
}

func (l Limit) on() bool { return l.N > 0 && l.Window > 0 }

// Limits are the limits the CA enforces; zero fields are none.
type Limits struct {
	NewOrders  Limit // per account
	PerDomain  Limit // per registered domain
	Duplicates Limit // per exact set of names
}

// Any reports whether any limit is set.
func (l Limits) Any() bool { return l.NewOrders.on() || l.PerDomain.on() || l.Duplicates.on() }

// Order is a new-order request as the limits see it.
type Order struct {
	Account  string   // the account's URL (the JWS kid)
	Names    []string // the identifiers' values
	Replaces bool     // the order names the certificate it replaces (ARI)
}

// Refusal is the CA's rateLimited answer: when to retry and Let's Encrypt's problem text.
type Refusal struct {
	RetryAfter time.Duration
	Detail     string
}

// Limiter counts accepted orders and refuses those over a limit. It is safe for
// concurrent use.
type Limiter struct {
	limits Limits
	now    func() time.Time

	mu     sync.Mutex
	counts map[string][]time.Time // per key ("account ...", "domain ...", "set ..."): accepted orders, oldest first
	issued map[string]bool        // sets of names ever ordered (renewals)
}

// New returns a Limiter enforcing limits on the clock now (nil: time.Now).
func New(limits Limits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limits: limits, now: now, counts: map[string][]time.Time{}, issued: map[string]bool{}}
}

// RegisteredDomain is the Public Suffix List's registered domain of name, as certferry
// counts it (limits.RegisteredDomain).
func RegisteredDomain(name string) string { return limits.RegisteredDomain(name) }

// NameSet is the set of names as a key: lowercased, sorted, without repeats.
func NameSet(names []string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = strings.ToLower(n)
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

func domains(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, RegisteredDomain(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Check returns the refusal for o, or nil when it fits every limit. It counts nothing:
// call Count once the CA has accepted the order.
func (l *Limiter) Check(o Order) *Refusal {
	if o.Replaces {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if r := l.over("account "+o.Account, l.limits.NewOrders, now,
		"too many new orders (%d) from this account in the last %s, retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"); r != nil {
		return r
	}
	set := NameSet(o.Names)
	if !l.issued[set] {
		for _, d := range domains(o.Names) {
			if r := l.over("domain "+d, l.limits.PerDomain, now,
				"too many certificates (%d) already issued for \""+d+"\" in the last %s, retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain"); r != nil {
				return r
			}
		}
	}
	return l.over("set "+set, l.limits.Duplicates, now,
		"too many certificates (%d) already issued for this exact set of identifiers in the last %s, retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers")
}

// over returns a refusal when key already holds lim.N orders inside lim.Window, with the
// time the oldest of them leaves it; it drops the entries outside the window.
func (l *Limiter) over(key string, lim Limit, now time.Time, detail string) *Refusal {
	if !lim.on() {
		return nil
	}
	ts := l.live(key, lim.Window, now)
	if len(ts) < lim.N {
		return nil
	}
	free := ts[len(ts)-lim.N].Add(lim.Window)
	return &Refusal{
		RetryAfter: free.Sub(now),
		Detail:     fmt.Sprintf(detail, lim.N, lim.Window, free.UTC().Format("2006-01-02 15:04:05 MST")),
	}
}

// live drops key's entries that left the window and returns the rest.
func (l *Limiter) live(key string, window time.Duration, now time.Time) []time.Time {
	ts := l.counts[key]
	i := 0
	for i < len(ts) && !ts[i].Add(window).After(now) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.counts, key)
		return nil
	}
	l.counts[key] = ts
	return ts
}

// Count records an order the CA accepted.
func (l *Limiter) Count(o Order) {
	if o.Replaces {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	add := func(key string, lim Limit) {
		if lim.on() {
			l.counts[key] = append(l.live(key, lim.Window, now), now)
		}
	}
	add("account "+o.Account, l.limits.NewOrders)
	for _, d := range domains(o.Names) {
		add("domain "+d, l.limits.PerDomain)
	}
	set := NameSet(o.Names)
	add("set "+set, l.limits.Duplicates)
	l.issued[set] = true
}
