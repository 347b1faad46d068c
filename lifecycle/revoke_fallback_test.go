package lifecycle_test

import (
	"context"
	"crypto"
	"slices"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/lifecycle"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// accountRefusedCA refuses revocations signed with the account (the certificate was
// ordered by another account) and accepts those signed with the certificate's key.
type accountRefusedCA struct{ fakeCA }

func (f *accountRefusedCA) Revoke(ctx context.Context, cert []byte, r acme.RevocationReason) error {
	_ = f.fakeCA.Revoke(ctx, cert, r)
	return &acme.ProblemError{Type: acme.ProblemUnauthorized, Status: 403}
}

func (f *accountRefusedCA) RevokeWithCertKey(ctx context.Context, cert []byte, k crypto.PrivateKey, r acme.RevocationReason) error {
	return f.fakeCA.RevokeWithCertKey(ctx, cert, k, r)
}

// TestRevokeFallsBackToTheCertificateKey: a certificate another account ordered (the
// account was deactivated and a new one registered, the account store changed) is still
// revoked, with the reason asked, signed with its own key; recorded as usual.
func TestRevokeFallsBackToTheCertificateKey(t *testing.T) {
	t.Parallel()
	b := testBundle(t)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ca, sec := &accountRefusedCA{}, &fakeSecrets{bundle: b, tags: map[string]string{}}
	res, err := lifecycle.Revoke(t.Context(), ca, sec, "s", acme.ReasonSuperseded, now)
	if err != nil || res.Already {
		t.Fatalf("Revoke: %+v %v", res, err)
	}
	if want := []string{"account superseded", "certkey superseded"}; !slices.Equal(ca.calls, want) {
		t.Errorf("calls = %q, want %q", ca.calls, want)
	}
	if sec.tags[smsink.TagRevoked] != b.Serial+" superseded 2026-12-01T08:00:00Z" {
		t.Errorf("tag %q", sec.tags[smsink.TagRevoked])
	}
}
