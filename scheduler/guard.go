package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The issuance guard protects a CA's limit on duplicate certificates (the same set of
// names, issued again by the same CA): it counts the issuances of one set of names by one
// ACME directory within the guard window. A certificate from another CA, or for another
// set of names, counts for nothing, so switching directories (staging to production)
// renews at once; switching back within the window waits, as the old CA's issuance still
// counts. A deliberate change of key type or profile may issue once more inside the
// window, and says so.

// Issued is one issuance the guard counts: which CA and names (IssuanceKey), and when
// (the certificate's not_before).
type Issued struct {
	Key string
	At  time.Time
}

// IssuanceKey identifies a set of names at one ACME directory: 16 hex digits of SHA-256
// over the directory and the sorted, lowercased names. The order of the names and the
// certificate's key type or profile make no difference, as for the CA's limit.
func IssuanceKey(directory string, names []string) string {
	n := make([]string, len(names))
	for i, d := range names {
		n[i] = strings.ToLower(d)
	}
	slices.Sort(n)
	h := sha256.Sum256([]byte(directory + "\n" + strings.Join(n, ",")))
	return hex.EncodeToString(h[:8])
}

// guardIssued returns the times, oldest first, at which the wanted names were issued by
// the wanted CA within the guard window: the recorded issuances, and the stored
// certificate itself (recorded or not; a certificate whose CA is unknown counts as the
// wanted CA's).
func guardIssued(in Input) []time.Time {
	key := IssuanceKey(in.Want.Directory, in.Want.Domains)
	var out []time.Time
	add := func(at time.Time) {
		if !at.IsZero() && in.Now.Sub(at) < in.Guard && !slices.ContainsFunc(out, at.Equal) {
			out = append(out, at)
		}
	}
	for _, is := range in.Issued {
		if is.Key == key {
			add(is.At)
		}
	}
	s := in.Stored
	if s.Exists && SameNames(s.Domains, in.Want.Domains) && (s.Directory == "" || in.Want.Directory == "" || s.Directory == in.Want.Directory) {
		add(s.IssuedAt)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// guard applies the issuance guard to d, a decision that makes the certificate due.
func guard(in Input, d Decision) Decision {
	issued := guardIssued(in)
	limit := 1
	if d.Reason == ReasonKeyTypeChanged || d.Reason == ReasonProfileChanged {
		limit = 2 // a deliberate change, once
	}
	if len(issued) < limit {
		if len(issued) > 0 {
			d.Message += fmt.Sprintf("; allowed once inside the issuance guard (this CA issued these names at %s)", issued[0].UTC().Format(time.RFC3339))
		}
		return d
	}
	// The next is allowed once enough of these issuances leave the window.
	until := issued[len(issued)-limit].Add(in.Guard)
	what := "a certificate for these names was issued by this CA at " + issued[len(issued)-1].UTC().Format(time.RFC3339)
	if len(issued) > 1 {
		what = fmt.Sprintf("%d certificates for these names were issued by this CA since %s", len(issued), issued[0].UTC().Format(time.RFC3339))
	}
	return Decision{Reason: ReasonIssuanceGuard, DueAt: d.DueAt, NextAttempt: until,
		Message: fmt.Sprintf("%s; but %s and the issuance guard allows the next after %s (use --force to override)",
			d.Message, what, until.UTC().Format(time.RFC3339))}
}
