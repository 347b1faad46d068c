package limits

import (
	"cmp"
	"slices"
	"time"

	"github.com/certferry/certferry/config"
)

// counter holds the times of the orders that count against one limit, per key (the
// account, a registered domain, a set of names).
type counter struct {
	name  string
	limit config.Limit
	times map[string][]time.Time // sorted
}

func newCounter(name string, l config.Limit) *counter {
	return &counter{name: name, limit: l, times: map[string][]time.Time{}}
}

func (c *counter) on() bool { return c.limit.N > 0 && c.limit.Window > 0 }

func (c *counter) add(key string, at time.Time) {
	if !c.on() {
		return
	}
	ts := c.times[key]
	i, _ := slices.BinarySearchFunc(ts, at, func(a, b time.Time) int { return a.Compare(b) })
	c.times[key] = slices.Insert(ts, i, at)
}

// after returns how many of key's orders are later than t (binary search: a plan of a
// thousand certificates asks this a few million times).
func (c *counter) after(key string, t time.Time) int {
	ts := c.times[key]
	i, _ := slices.BinarySearchFunc(ts, t, func(a, b time.Time) int {
		if a.After(b) {
			return 1
		}
		return -1 // equal times sort before t: they are not later
	})
	return len(ts) - i
}

// inWindow counts key's orders in the window ending at t: (t-Window, t].
func (c *counter) inWindow(key string, t time.Time) int {
	return c.after(key, t.Add(-c.limit.Window)) - c.after(key, t)
}

// fits reports whether one more order for key fits at t. Orders counted after t (a held
// certificate planned at a later time) count as if at t: conservative for an estimate.
func (c *counter) fits(key string, t time.Time) bool {
	return !c.on() || c.after(key, t.Add(-c.limit.Window)) < c.limit.N
}

// frees returns the times after t at which an order of key leaves the window: the only
// times at which a full window can start fitting again.
func (c *counter) frees(key string, t time.Time) []time.Time {
	var out []time.Time
	for _, at := range c.times[key] {
		if end := at.Add(c.limit.Window); end.After(t) {
			out = append(out, end)
		}
	}
	return out
}

func (c *counter) remaining(key string, t time.Time) int {
	return max(0, c.limit.N-c.inWindow(key, t))
}

// planner is the state of one Plan call.
type planner struct {
	orders, domains, sets *counter
}

// use is one (counter, key) pair an order is checked against, and whether it holds.
type use struct {
	c     *counter
	key   string
	holds bool
}

// uses lists the counters a candidate's order spends, and which of them may hold it.
func (p *planner) uses(c Candidate) []use {
	if c.Kind == ARIRenewal {
		return nil
	}
	u := []use{{p.orders, "", true}}
	for _, d := range registeredDomains(c.Domains) {
		u = append(u, use{p.domains, d, c.Kind == First})
	}
	return append(u, use{p.sets, nameSet(c.Domains), true})
}

// blocker returns the first limit that holds an order of these uses at t, or nil.
func blocker(us []use, t time.Time) *counter {
	for _, u := range us {
		if u.holds && !u.c.fits(u.key, t) {
			return u.c
		}
	}
	return nil
}

func spend(us []use, t time.Time) {
	for _, u := range us {
		u.c.add(u.key, t)
	}
}

// Decide plans in: ARI-window renewals first (exempt, never held), then certificates
// about to expire (never held by this count), then renewals closest to expiry, then first
// issuances in the configuration's order. Each order that fits is planned now and spends
// the limits; one that does not is held, and its Until is found by planning it, in the
// same order, at the earliest time it fits after the orders planned before it.
func Decide(in Input) Plan {
	p := &planner{
		orders:  newCounter(NewOrders, in.Limits.NewOrders),
		domains: newCounter(PerRegisteredDomain, in.Limits.PerRegisteredDomain),
		sets:    newCounter(Duplicates, in.Limits.Duplicates),
	}
	for _, is := range in.Issued {
		spend(p.uses(Candidate{Domains: is.Domains, Kind: First}), is.At)
	}
	due := slices.Clone(in.Due)
	slices.SortStableFunc(due, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), renewalOrder(a, b))
	})
	plan := Plan{Held: map[string]Held{}}
	type hold struct {
		c     Candidate
		limit string
	}
	var held []hold
	for _, c := range due {
		us := p.uses(c)
		b := blocker(us, in.Now)
		if c.Emergency || b == nil {
			spend(us, in.Now)
			plan.Order = append(plan.Order, c.Name)
			continue
		}
		held = append(held, hold{c, b.name})
	}
	plan.Remaining = p.remaining(in, due)
	for _, h := range held {
		us := p.uses(h.c)
		t := p.earliest(us, in.Now)
		spend(us, t)
		plan.Held[h.c.Name] = Held{Limit: h.limit, Until: t}
	}
	return plan
}

func rank(c Candidate) int {
	switch {
	case c.Kind == ARIRenewal:
		return 0
	case c.Emergency:
		return 1
	case c.Kind == Renewal:
		return 2
	}
	return 3
}

// renewalOrder puts renewals closest to expiry first; first issuances keep their order.
func renewalOrder(a, b Candidate) int {
	if a.Kind == First || b.Kind == First {
		return 0
	}
	return a.NotAfter.Compare(b.NotAfter)
}

// earliest is the first time at or after now at which an order of us fits: now, or a
// time an order leaves one of its windows.
func (p *planner) earliest(us []use, now time.Time) time.Time {
	var times []time.Time
	for _, u := range us {
		if u.holds {
			times = append(times, u.c.frees(u.key, now)...)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range times {
		if blocker(us, t) == nil {
			return t
		}
	}
	return now // unreachable: past the last order's window every limit fits
}

// remaining is how many more orders fit now, per limit: the least over the keys the
// input names.
func (p *planner) remaining(in Input, due []Candidate) map[string]int {
	out := map[string]int{}
	if p.orders.on() {
		out[NewOrders] = p.orders.remaining("", in.Now)
	}
	names := make([][]string, 0, len(due)+len(in.Issued))
	for _, c := range due {
		names = append(names, c.Domains)
	}
	for _, is := range in.Issued {
		names = append(names, is.Domains)
	}
	least := func(c *counter, keys func([]string) []string) {
		if !c.on() {
			return
		}
		r := c.limit.N
		for _, n := range names {
			for _, k := range keys(n) {
				r = min(r, c.remaining(k, in.Now))
			}
		}
		out[c.name] = r
	}
	least(p.domains, registeredDomains)
	least(p.sets, func(n []string) []string { return []string{nameSet(n)} })
	return out
}
