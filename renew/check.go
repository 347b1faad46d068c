package renew

import (
	"context"
	"errors"
	"fmt"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// ErrCheckIncomplete matches the error of Check when the checks could not run (the
// secrets' inventory was unreadable: no credentials, AWS unreachable).
var ErrCheckIncomplete = errors.New("checks incomplete")

type checkIncomplete struct{ err error }

func (e checkIncomplete) Error() string        { return e.err.Error() }
func (e checkIncomplete) Unwrap() error        { return e.err }
func (e checkIncomplete) Is(target error) bool { return target == ErrCheckIncomplete }

// Check runs the preflight's checks on every certificate, due or not, and orders
// nothing (validate --online): every name's hosted zone is found, and every secret is
// readable and can take the certificate (the same rules as the preflight's, with
// opts.Force lifting the same one). It writes nothing and makes no ACME request. The
// problems found are returned one per certificate and check, each naming the
// certificate; err (matching ErrCheckIncomplete) is set when the checks could not run.
func (r *Runner) Check(ctx context.Context, opts Options) (problems []error, err error) {
	selected, err := r.selectCerts(opts.Only)
	if err != nil {
		return nil, err
	}
	inv, err := r.inventory(ctx, selected)
	if err != nil {
		return nil, checkIncomplete{err}
	}
	owners := r.secretOwners(inv)
	for _, c := range selected {
		if _, err := r.checkSinks(ctx, c, nil, inv, owners, opts); err != nil {
			problems = append(problems, fmt.Errorf("certificate %s: %w", c.Name, err))
			continue
		}
		if c.Secret == nil || r.deps.Secrets == nil {
			continue
		}
		if s, ok := smsink.Lookup(inv, c.Secret.Secret); ok && s.CurrentVersionID != "" && s.Name == c.Name {
			// The preflight reads a value only when the tags cannot tell; a renewal reads
			// it whenever its tags are stale, so check that it can.
			b, _, err := r.deps.Secrets.GetStage(ctx, c.Secret.Secret, "AWSCURRENT")
			switch {
			case err != nil && !errors.Is(err, smsink.ErrNotFound):
				problems = append(problems, fmt.Errorf("certificate %s: sinks.secretsmanager.secret %q cannot be read: %w", c.Name, c.Secret.Secret, err))
			case err == nil && s.TagsCurrent && s.Directory == r.settings.Directory:
				// A certificate certferry stored from this CA that does not chain to
				// acme.issuer_roots says the roots are wrong (the TLS roots named instead):
				// found here, not at the next renewal, whose certificate would not verify.
				if p := r.untrusted(b); p != nil {
					problems = append(problems, fmt.Errorf("certificate %s: acme.issuer_roots: the certificate certferry stored from this CA (serial %s) does not chain to them: name the roots the CA issues under (not acme.ca_bundle's): %s", c.Name, b.Serial, p.Message))
				}
			}
		}
	}
	if r.deps.DNS == nil {
		return problems, nil
	}
	var recs []Record
	var owner []string
	for _, c := range selected {
		for _, fqdn := range challengeNames(c.Domains) {
			recs = append(recs, c.record(fqdn, ""))
			owner = append(owner, c.Name)
		}
	}
	for i, err := range r.deps.DNS.Resolve(ctx, recs) {
		if err != nil {
			problems = append(problems, fmt.Errorf("certificate %s: dns: %w", owner[i], err))
		}
	}
	return problems, nil
}
