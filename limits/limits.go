// Package limits plans a pass's new orders inside the CA's issuance limits (acme.limits,
// docs/pacing.md): which due certificates to order now, and until when the others wait.
//
// Plan is a pure function of what the account issued (the stored certificates' issuance
// times and a ledger of orders whose certificate was not stored), the due certificates,
// the limits and the clock. Each limit is at most N in any window (a sliding window),
// which a Let's Encrypt token bucket always admits. The package counts conservatively:
// every issuance it is told of counts against every limit whose window holds it, so
// whatever it lets through the CA accepts unless another client spends the same limits
// (the CA's rateLimited answer covers that case; see renew).
//
// It never does I/O and never reads the clock: now is an argument.
package limits

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/certferry/certferry/config"
)

// Kind says how the CA counts a due certificate's order.
type Kind int

// Kinds, in the order a plan takes them.
const (
	// ARIRenewal: a renewal inside the CA's ARI window that names the certificate it
	// replaces; exempt from every limit (Let's Encrypt), never held.
	ARIRenewal Kind = iota
	// Renewal: the same set of names as the stored certificate; not held by the
	// per-registered-domain limit (Let's Encrypt's renewal exemption), held by the others.
	Renewal
	// First: nothing stored, or other names; held by every limit.
	First
)

// Candidate is one due certificate.
type Candidate struct {
	Name     string   // the certificate's name in the configuration
	Domains  []string // its names
	Kind     Kind
	NotAfter time.Time // of the stored certificate (zero when none): renewals closest to expiry go first
	// Emergency: the certificate is about to expire; certferry's own count never holds it
	// back (only the CA's answer can), though it spends the limits like any order.
	Emergency bool
}

// Issuance is one order the account made that still counts: a stored certificate (At:
// when it was issued or stored, whichever is later) or a ledger entry (when ordered).
type Issuance struct {
	At      time.Time
	Domains []string
}

// Input is what Plan decides from.
type Input struct {
	Limits config.Limits
	Issued []Issuance
	Due    []Candidate // in the configuration's order
	Now    time.Time
}

// Limit names, as in acme.limits and the metrics.
const (
	NewOrders           = "new_orders"
	PerRegisteredDomain = "per_registered_domain"
	Duplicates          = "duplicates"
)

// Held is a due certificate the plan holds back: the limit that holds it, and the time
// it fits if the passes before it order only what they plan (an estimate; never earlier
// than the window frees).
type Held struct {
	Limit string // NewOrders, PerRegisteredDomain or Duplicates
	Until time.Time
}

// Plan is the outcome: what to order now, what waits.
type Plan struct {
	// Order are the certificates to order now, most urgent first.
	Order []string
	// Held are the certificates that wait, by name.
	Held map[string]Held
	// Remaining is, per limit set (NewOrders, PerRegisteredDomain, Duplicates), how many
	// more orders fit now after Order: for the per-domain and per-set limits the least
	// over the registered domains and sets the input names. Limits not set are absent.
	Remaining map[string]int
}

// Next returns the earliest time a held certificate fits, zero when none waits.
func (p Plan) Next() time.Time {
	var next time.Time
	for _, h := range p.Held {
		if next.IsZero() || h.Until.Before(next) {
			next = h.Until
		}
	}
	return next
}

// RegisteredDomain is the Public Suffix List's registered domain of name (example.com
// for www.example.com; a wildcard's "*." dropped), or the name itself when it has none.
func RegisteredDomain(name string) string {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(name, "*.")), ".")
	if rd, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return rd
	}
	return name
}

// nameSet is a set of names as a key: lowercased, sorted, without repeats.
func nameSet(names []string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = strings.ToLower(n)
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), "\n")
}

func registeredDomains(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, RegisteredDomain(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
