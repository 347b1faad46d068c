package lifecycle

import (
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// CA is the part of *acme.Client that revocation uses.
type CA interface {
	Revoke(ctx context.Context, cert []byte, reason acme.RevocationReason) error
	RevokeWithCertKey(ctx context.Context, cert []byte, key crypto.PrivateKey, reason acme.RevocationReason) error
}

var _ CA = (*acme.Client)(nil)

// Secrets is the part of *secretsmanager.Sink that revocation and retirement use.
type Secrets interface {
	Get(ctx context.Context, secret string) (*certs.Bundle, string, error)
	SetState(ctx context.Context, secret string, tags map[string]string) error
	Inventory(ctx context.Context) (map[string]smsink.Stored, error)
}

var _ Secrets = (*smsink.Sink)(nil)

// Deleter is the part of *secretsmanager.Client that Retire uses to delete a secret.
type Deleter interface {
	DeleteSecret(ctx context.Context, in *sm.DeleteSecretInput, optFns ...func(*sm.Options)) (*sm.DeleteSecretOutput, error)
}

var _ Deleter = (*sm.Client)(nil)

// RevokeResult is what Revoke did.
type RevokeResult struct {
	smsink.Revocation
	VersionID string // the secret version that holds the revoked certificate
	Domains   []string
	NotAfter  time.Time
	// Already: the CA had revoked it before (a repeated revoke); the tag is written all
	// the same.
	Already bool
}

// Revoke revokes the certificate that secret currently holds and records the
// revocation on the secret (smsink.TagRevoked), so that the next pass replaces it and nothing
// promotes it again. keyCompromise is signed with the certificate's own key (RFC 8555
// §7.6), any other reason with the account's, and with the certificate's key when the CA
// answers that the account did not order the certificate. A CA that answers that the certificate is
// already revoked counts as success, so a revoke interrupted before its tag can be run
// again.
func Revoke(ctx context.Context, ca CA, secrets Secrets, secret string, reason acme.RevocationReason, now time.Time) (RevokeResult, error) {
	b, version, err := secrets.Get(ctx, secret)
	if err != nil {
		return RevokeResult{}, fmt.Errorf("revoke %s: %w", secret, err)
	}
	res := RevokeResult{Revocation: smsink.Revocation{Serial: b.Serial, Reason: reason.String(), At: now.UTC()},
		VersionID: version, Domains: b.Domains, NotAfter: b.NotAfter}
	if reason == acme.ReasonKeyCompromise {
		key, kerr := b.Key.Signer()
		if kerr != nil {
			return RevokeResult{}, fmt.Errorf("revoke %s: the stored key: %w", secret, kerr)
		}
		err = ca.RevokeWithCertKey(ctx, b.Leaf.Raw, key, reason)
	} else {
		err = ca.Revoke(ctx, b.Leaf.Raw, reason)
		// The account did not order this certificate (an account deactivated since, another
		// account store, another runner's account): RFC 8555 §7.6 lets the certificate's
		// own key sign a revocation for any reason, and the key is at hand.
		if pe, ok := errors.AsType[*acme.ProblemError](err); ok && pe.Type == acme.ProblemUnauthorized {
			if key, kerr := b.Key.Signer(); kerr == nil {
				err = ca.RevokeWithCertKey(ctx, b.Leaf.Raw, key, reason)
			}
		}
	}
	if err != nil {
		if pe, ok := errors.AsType[*acme.ProblemError](err); !ok || pe.Type != acme.ProblemAlreadyRevoked {
			return RevokeResult{}, fmt.Errorf("revoke %s: %w", secret, err)
		}
		res.Already = true
	}
	if err := secrets.SetState(ctx, secret, map[string]string{smsink.TagRevoked: res.TagValue()}); err != nil {
		return res, fmt.Errorf("revoke %s: revoked at the CA, but not recorded on the secret (run revoke again): %w", secret, err)
	}
	return res, nil
}

// Orphans returns the certificates certferry stored (secrets tagged certferry:name)
// that none of the configured secrets names, sorted by secret name. configured holds
// the configured secrets as the configuration writes them: names, full or partial ARNs.
// Secrets scheduled for deletion are not in the inventory, so not orphans.
func Orphans(inv map[string]smsink.Stored, configured []string) []smsink.Stored {
	used := map[string]bool{}
	for _, ref := range configured {
		if st, ok := smsink.Lookup(inv, ref); ok {
			used[st.Secret] = true
		}
	}
	var out []smsink.Stored
	for name, st := range inv {
		if !used[name] {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b smsink.Stored) int { return cmp.Compare(a.Secret, b.Secret) })
	return out
}

// Find resolves what an operator names for retire: a secret (name, full or partial
// ARN) or a certificate name (certferry:name) held by exactly one stored secret.
func Find(inv map[string]smsink.Stored, name string) (smsink.Stored, error) {
	if st, ok := smsink.Lookup(inv, name); ok {
		return st, nil
	}
	var found []smsink.Stored
	for _, st := range inv {
		if st.Name == name {
			found = append(found, st)
		}
	}
	switch len(found) {
	case 0:
		return smsink.Stored{}, fmt.Errorf("%q: no certificate certferry stored has that name or secret", name)
	case 1:
		return found[0], nil
	}
	slices.SortFunc(found, func(a, b smsink.Stored) int { return cmp.Compare(a.Secret, b.Secret) })
	names := make([]string, len(found))
	for i, st := range found {
		names[i] = st.Secret
	}
	return smsink.Stored{}, fmt.Errorf("%q: several secrets hold a certificate of that name (%v): name the secret", name, names)
}

// RetireOptions say how far Retire goes.
type RetireOptions struct {
	// Revoke revokes the current certificate first (Reason, default cessationOfOperation).
	Revoke bool
	Reason acme.RevocationReason
	// DeleteSecret schedules the secret's deletion after RecoveryDays (7 to 30, as
	// Secrets Manager allows; until then `aws secretsmanager restore-secret` undoes it).
	DeleteSecret bool
	RecoveryDays int
}

// RetireResult is what Retire did.
type RetireResult struct {
	Secret       string
	Revoked      *RevokeResult
	DeletionDate time.Time // zero when the secret was kept
}

// Retire winds down the certificate stored in st.Secret: optionally revokes it, records
// the retirement on the secret (smsink.TagRetired), and, only when asked, schedules the
// secret's deletion with a recovery window. ca may be nil when opts.Revoke is false.
func Retire(ctx context.Context, ca CA, secrets Secrets, del Deleter, st smsink.Stored, opts RetireOptions, now time.Time) (RetireResult, error) {
	if opts.DeleteSecret && (opts.RecoveryDays < 7 || opts.RecoveryDays > 30) {
		return RetireResult{}, fmt.Errorf("retire %s: recovery window %d days: Secrets Manager allows 7 to 30", st.Secret, opts.RecoveryDays)
	}
	if opts.DeleteSecret {
		if err := journalHeld(st, now); err != nil {
			return RetireResult{}, err
		}
	}
	res := RetireResult{Secret: st.Secret}
	if opts.Revoke {
		reason := opts.Reason
		if reason == acme.ReasonUnspecified {
			reason = acme.ReasonCessationOfOperation
		}
		if _, done := smsink.Revoked(st.Tags, st.Serial); done {
			// Revoked before (by revoke, or a retire that stopped half-way).
		} else {
			rv, err := Revoke(ctx, ca, secrets, st.Secret, reason, now)
			if err != nil {
				return res, fmt.Errorf("retire: %w", err)
			}
			res.Revoked = &rv
		}
	}
	if err := secrets.SetState(ctx, st.Secret, map[string]string{smsink.TagRetired: smsink.FormatTime(now)}); err != nil {
		return res, fmt.Errorf("retire %s: %w", st.Secret, err)
	}
	if opts.DeleteSecret {
		out, err := del.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String(st.Secret), RecoveryWindowInDays: aws.Int64(int64(opts.RecoveryDays))})
		if err != nil {
			return res, fmt.Errorf("retire %s: delete the secret: %w", st.Secret, err)
		}
		res.DeletionDate = aws.ToTime(out.DeletionDate)
	}
	return res, nil
}

// journalHeld refuses to delete a secret whose challenge journal names an order still
// within its needed-until time: a run killed mid-order (a dry run's too) left DNS-01
// records that only this journal finds, and a pass of the certificate renamed from this
// secret removes them once that time has passed. Deleted, the secret is listed no more,
// and the TXT values would stay in the zone for good.
func journalHeld(st smsink.Stored, now time.Time) error {
	var last time.Time
	for _, e := range smsink.JournalEntries(st.Tags) {
		if e.Until.After(now) && e.Until.After(last) {
			last = e.Until
		}
	}
	if last.IsZero() {
		return nil
	}
	return fmt.Errorf("retire %s: not deleting the secret: its challenge journal (%s tags) names an order whose DNS-01 records may still be in the zone until %s, and only this journal finds them: run retire --delete-secret after that time, once a pass of the certificate renamed from this secret has removed them",
		st.Secret, smsink.TagChallenges, smsink.FormatTime(last))
}
