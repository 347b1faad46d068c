// Package scheduler decides when certferry works: which certificates are due and why
// (Decide, a pure function of the stored certificate, the configuration, the CA's ARI
// answer and the clock), how a failing certificate backs off, and when the daemon runs
// its passes.
//
// Nothing here performs I/O: every input comes in through arguments, so the decisions
// are table-tested with an injected clock.
package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/certferry/certferry/internal/logfield"
)

// Reason says why a certificate is, or is not, due. Values are stable: they appear in
// logs, the summary table, metrics and the Lambda response.
type Reason string

const (
	ReasonMissing        Reason = "missing"          // nothing stored yet
	ReasonNamesChanged   Reason = "names-changed"    // stored names differ from the config
	ReasonKeyTypeChanged Reason = "key-type-changed" // stored key type differs from the config
	ReasonProfileChanged Reason = "profile-changed"  // stored ACME profile differs from the config
	ReasonCAChanged      Reason = "ca-changed"       // the stored certificate comes from another ACME directory
	ReasonExpired        Reason = "expired"          // already past not_after
	ReasonEmergency      Reason = "emergency"        // very little lifetime left, whatever ARI says
	ReasonARIWindow      Reason = "ari-window"       // the CA's renewal window (RFC 9773) has started
	ReasonLifetime       Reason = "lifetime"         // without ARI: less than a third (a half for short-lived) remains
	ReasonRenewBefore    Reason = "renew-before"     // the config's renew_before says so
	ReasonInterval       Reason = "interval"         // would fall due before the next scheduled run
	ReasonForced         Reason = "forced"           // --force
	ReasonRevoked        Reason = "revoked"          // the stored certificate was revoked (certferry revoke)
	ReasonNotFromCA      Reason = "not-from-ca"      // the stored certificate does not chain to the CA's roots (placed by hand)
	ReasonKeyMismatch    Reason = "key-mismatch"     // the stored key is not the stored certificate's (a hand edit)
	ReasonWrongNames     Reason = "wrong-names"      // a value certferry did not write covers other names (a hand copy)
	ReasonNotDue         Reason = "not-due"          // fine as it is
	ReasonBackoff        Reason = "backoff"          // a recent failure: waiting before the next attempt
	ReasonIssuanceGuard  Reason = "issuance-guard"   // a certificate was issued too recently
	ReasonUnstored       Reason = "unstored"         // issued by an earlier pass, not yet stored: stored without a new order
	ReasonMoved          Reason = "moved"            // the configured secret was renamed: the certificate is copied from the old one, no order
)

// Stored is what certferry knows of the stored certificate, from the secret's tags or a
// file sink; the zero value means nothing is stored.
type Stored struct {
	Exists    bool
	Domains   []string
	KeyType   string
	Profile   string
	NotBefore time.Time
	NotAfter  time.Time
	// Directory is the ACME directory that issued it ("" when unknown: stored before
	// certferry recorded it, or by another tool).
	Directory string
	// IssuedAt is when certferry last obtained a certificate for this name (its
	// not_before when nothing better is recorded); the issuance guard counts from it.
	IssuedAt time.Time
	// Failures counts consecutive failed attempts; NextAttempt is when the backoff ends.
	Failures    int
	NextAttempt time.Time
}

// Want is what the configuration asks for.
type Want struct {
	Name        string
	Domains     []string
	KeyType     string
	Profile     string
	RenewBefore time.Duration // 0: not set
	Directory   string        // the ACME directory orders go to ("" : not compared)
}

// Window is an ARI suggested renewal window.
type Window struct{ Start, End time.Time }

// Input is everything Decide looks at.
type Input struct {
	Want   Want
	Stored Stored
	// ARI is the CA's current suggested window, nil when the CA has none or it could not
	// be read (then the lifetime rule applies).
	ARI *Window
	Now time.Time
	// Interval is the fixed period between runs started from outside (a Lambda on
	// rate(60 days)); 0 for the daemon, which runs twice a day.
	Interval time.Duration
	// Guard is the issuance guard: no second certificate for one set of names from one
	// CA within it (guard.go).
	Guard time.Duration
	// Issued are the recorded issuances of this certificate (any CA, any names), which
	// the guard counts; the stored certificate counts whether recorded or not.
	Issued []Issued
	Force  bool
	// Revoked, when set, says the stored certificate was revoked (certferry revoke): it is
	// unusable, so neither the timing rules nor the issuance guard hold it back; backoff
	// still does.
	Revoked string
	// Untrusted, when set, says the stored certificate is not one the CA issued (it does
	// not chain to acme.issuer_roots: a self-signed one placed by hand): like a revoked
	// one, it is due now whatever its dates, the issuance guard and the would-shorten
	// rule; backoff still holds. A stored key that does not match the stored certificate
	// (key-mismatch), and a value certferry did not write that does not cover the
	// configured names (wrong-names), are untrusted the same way.
	Untrusted *Problem
	// Unstored: a certificate issued earlier (by this process) waits to be stored.
	// Storing it asks nothing of the CA, so neither backoff nor the issuance guard holds
	// it back, and --force does not replace it with a new order.
	Unstored bool
	// MoveFrom, when set, names the secret that held this certificate before its secret
	// was renamed in the configuration, and Stored describes the certificate found there
	// (docs/secret-format.md, "A renamed secret"). A rename is not a new certificate: one
	// that is not due is moved (ReasonMoved, no order, so neither backoff's absence nor
	// the issuance guard matters); one that is due is ordered as any stored certificate
	// that fell due, the guard counting the old secret's issuances (Issued).
	MoveFrom string
	// Problem, when set, is a reason found before any request to the CA why an order
	// would be wasted (the certificate could not be stored, the stored value is
	// unreadable, ...). It wins over everything: the certificate is blocked, reported as
	// failing, and no backoff hides it. The caller decides which problems --force lifts.
	Problem *Problem
}

// Problem is a reason not to order, found before asking the CA.
type Problem struct {
	Reason  Reason
	Message string
}

// ReplacesUntrusted reports whether r replaces a stored certificate that is not the CA's,
// or one whose key is not its own: it may expire earlier than the one replacing it.
func (r Reason) ReplacesUntrusted() bool {
	return r == ReasonNotFromCA || r == ReasonKeyMismatch || r == ReasonWrongNames
}

// IsChange reports whether r is a deliberate change of the configuration (names, key
// type, profile, CA): such a renewal may replace a certificate that lasts longer.
func (r Reason) IsChange() bool {
	switch r {
	case ReasonNamesChanged, ReasonKeyTypeChanged, ReasonProfileChanged, ReasonCAChanged:
		return true
	}
	return false
}

// Decision is Decide's answer. DueAt is when the certificate falls due by the rules
// (zero when it is due now or nothing is stored).
type Decision struct {
	Due     bool
	Reason  Reason
	Message string
	// DueAt is when the certificate falls (or fell) due by the timing rules, whatever
	// backoff or the guards say: the moment renewal became necessary, never a retry time.
	DueAt time.Time
	// NextAttempt is when backoff or the issuance guard lets the next order be placed
	// (zero when nothing holds the certificate back).
	NextAttempt time.Time
	// Blocked: Input.Problem stopped the certificate before any request to the CA.
	Blocked bool
}

// Block is d stopped by a problem found before any request to the CA (Input.Problem, or
// one a later check finds once d was decided): the certificate is not ordered, and it
// keeps d's due time, so a blocked certificate reports when it fell due by the very
// rules that made it due.
func (d Decision) Block(p Problem) Decision {
	return Decision{Reason: p.Reason, Message: p.Message, DueAt: d.DueAt, Blocked: true}
}

// DueAt is when a stored certificate falls due by the timing rules alone (no change,
// guard or backoff): for a certificate just stored, when its successor is due. Zero when
// nothing is stored.
func DueAt(in Input) time.Time {
	s := in.Stored
	if !s.Exists {
		return time.Time{}
	}
	at, _, _ := dueTime(in, s.NotAfter.Sub(s.NotBefore))
	return at
}

// shortLived is the lifetime under which a certificate is renewed at half its lifetime
// instead of at two thirds, as Let's Encrypt advises for its 6-day certificates.
const shortLived = 10 * 24 * time.Hour

// Decide says whether a certificate is due, and why. It is a pure function.
//
// Order matters: configuration changes and a missing certificate come first (they are
// never "renewals"), then the guards that protect the CA from a loop (backoff, issuance
// guard), then the timing rules.
func Decide(in Input) Decision {
	now := in.Now
	s, w := in.Stored, in.Want
	var change Reason
	var changeMsg string
	var timing Decision
	if s.Exists {
		switch {
		case !SameNames(s.Domains, w.Domains):
			change, changeMsg = ReasonNamesChanged, fmt.Sprintf("stored names %v, configured %v", s.Domains, w.Domains)
		case w.KeyType != "" && s.KeyType != w.KeyType:
			change, changeMsg = ReasonKeyTypeChanged, fmt.Sprintf("stored key type %q, configured %q", s.KeyType, w.KeyType)
		case s.Profile != w.Profile:
			change, changeMsg = ReasonProfileChanged, fmt.Sprintf("stored profile %q, configured %q", s.Profile, w.Profile)
		case s.Directory != "" && w.Directory != "" && s.Directory != w.Directory:
			change, changeMsg = ReasonCAChanged, fmt.Sprintf("stored certificate issued by %s, configured directory %s", s.Directory, w.Directory)
		}
		timing = decideTiming(in, change, changeMsg, s.NotAfter.Sub(s.NotBefore), s.NotAfter.Sub(now))
	}
	switch {
	case in.Problem != nil:
		return timing.Block(*in.Problem)
	case in.Unstored:
		return Decision{Due: true, Reason: ReasonUnstored, Message: "a certificate issued earlier is waiting to be stored", DueAt: timing.DueAt}
	case in.Force:
		return Decision{Due: true, Reason: ReasonForced, Message: "forced by --force", DueAt: timing.DueAt}
	}
	// Backoff after failures: a restarted daemon or another runner sees it in the tags.
	// It holds for a certificate never stored too, or a name in no hosted zone would
	// place a new order on every pass.
	if s.Failures > 0 && now.Before(s.NextAttempt) {
		return Decision{Reason: ReasonBackoff, DueAt: timing.DueAt, NextAttempt: s.NextAttempt,
			Message: fmt.Sprintf("%d failed attempt(s); next attempt after %s", s.Failures, s.NextAttempt.UTC().Format(time.RFC3339))}
	}
	if !s.Exists {
		return Decision{Due: true, Reason: ReasonMissing, Message: "no certificate stored"}
	}
	if in.Revoked != "" {
		return Decision{Due: true, Reason: ReasonRevoked, Message: in.Revoked, DueAt: now}
	}
	if in.Untrusted != nil {
		return Decision{Due: true, Reason: in.Untrusted.Reason, Message: in.Untrusted.Message, DueAt: now}
	}
	d := timing
	// The issuance guard holds even against ARI or a config-change loop: a stale ARI
	// window once made another client issue five certificates in ten seconds. Only an
	// expired certificate, or --force, passes it; it counts per CA and set of names
	// (guard.go).
	if in.MoveFrom != "" {
		if !d.Due {
			return Decision{Due: true, Reason: ReasonMoved, Message: "moved from secret " + in.MoveFrom, DueAt: d.DueAt}
		}
		d.Message += " (the certificate in secret " + in.MoveFrom + ", before the rename)"
	}
	if d.Due && in.Guard > 0 && s.NotAfter.Sub(now) > 0 {
		return guard(in, d)
	}
	return d
}

// decideTiming applies the configuration-change and timing rules.
func decideTiming(in Input, change Reason, changeMsg string, lifetime, remaining time.Duration) Decision {
	now, s := in.Now, in.Stored
	dueAt, reason, msg := dueTime(in, lifetime)
	if change != "" {
		if now.Before(dueAt) {
			dueAt = now // a deliberate change is due from the moment it is seen
		}
		return Decision{Due: true, Reason: change, Message: changeMsg, DueAt: dueAt}
	}
	if remaining <= 0 {
		return Decision{Due: true, Reason: ReasonExpired, Message: "expired at " + s.NotAfter.UTC().Format(time.RFC3339), DueAt: dueAt}
	}
	if !now.Before(dueAt) {
		return Decision{Due: true, Reason: reason, Message: msg, DueAt: dueAt}
	}
	// A runner started from outside on a fixed period renews now whatever would fall due
	// before its next run: waiting would let the certificate run out.
	if in.Interval > 0 && !now.Add(in.Interval).Before(dueAt) {
		return Decision{Due: true, Reason: ReasonInterval, DueAt: dueAt,
			Message: fmt.Sprintf("falls due at %s (%s), before the next run at %s", dueAt.UTC().Format(time.RFC3339), reason, now.Add(in.Interval).UTC().Format(time.RFC3339))}
	}
	return Decision{Reason: ReasonNotDue, DueAt: dueAt,
		Message: fmt.Sprintf("%s left; due at %s (%s)", logfield.Days(remaining), dueAt.UTC().Format(time.RFC3339), reason)}
}

// dueTime is the earliest moment any timing rule makes the certificate due.
func dueTime(in Input, lifetime time.Duration) (time.Time, Reason, string) {
	s := in.Stored
	// Emergency: whatever ARI says, a certificate with less than a sixth (a quarter for
	// short-lived ones) of its lifetime left is renewed (certmagic's lesson).
	at, reason, msg := EmergencyAt(s.NotBefore, s.NotAfter), ReasonEmergency,
		fmt.Sprintf("less than 1/%d of the lifetime left", emergencyFraction(lifetime))

	if in.ARI != nil && in.ARI.End.After(in.ARI.Start) {
		// A point inside the window chosen per certificate, the same on every runner, so
		// a fleet of certificates spreads over the window without any stored state.
		p := in.ARI.Start.Add(time.Duration(fraction(in.Want.Name, s.NotAfter) * float64(in.ARI.End.Sub(in.ARI.Start))))
		if p.Before(at) {
			at, reason, msg = p, ReasonARIWindow, fmt.Sprintf("ARI window %s to %s", in.ARI.Start.UTC().Format(time.RFC3339), in.ARI.End.UTC().Format(time.RFC3339))
		}
	} else {
		div := time.Duration(3)
		what := "a third"
		if lifetime < shortLived {
			div, what = 2, "half"
		}
		if p := s.NotAfter.Add(-lifetime / div); p.Before(at) {
			at, reason, msg = p, ReasonLifetime, "less than "+what+" of the lifetime left"
		}
	}
	if in.Want.RenewBefore > 0 {
		if p := s.NotAfter.Add(-in.Want.RenewBefore); p.Before(at) {
			at, reason, msg = p, ReasonRenewBefore, fmt.Sprintf("renew_before %s", in.Want.RenewBefore)
		}
	}
	return at, reason, msg
}

// fraction maps a certificate to a stable number in [0, 1).
func fraction(name string, notAfter time.Time) float64 {
	h := sha256.Sum256([]byte(name + "|" + notAfter.UTC().Format(time.RFC3339)))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / float64(1<<53)
}

// SameNames reports whether a and b hold the same names, in any order.
func SameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// IntervalProblem reports, for a runner started every interval, whether certificates of
// the given lifetime can stay valid: renewing at a run, the certificate must outlive the
// wait for the next run. It returns "" when the interval is safe.
func IntervalProblem(interval, lifetime time.Duration) string {
	if interval <= 0 || lifetime <= 0 {
		return ""
	}
	if interval >= lifetime {
		return fmt.Sprintf("schedule interval %s is not shorter than the certificate lifetime %s: every certificate expires before the next run; run daily instead",
			interval, lifetime)
	}
	return ""
}
