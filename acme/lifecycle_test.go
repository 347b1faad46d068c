package acme_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/accountstore/storetest"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/sinks/file"
)

// newClientAt is newClient for another directory URL of the same CA.
func newClientAt(t *testing.T, ca *acmesim.CA, dir string, store acme.AccountStore) (*acme.Client, *counter) {
	t.Helper()
	hc := ca.HTTPClient()
	cnt := &counter{base: hc.Transport, counts: map[string]int{}, payloads: map[string][]string{}}
	hc.Transport = cnt
	c, err := acme.New(t.Context(), acme.Config{DirectoryURL: dir, Email: "ops@example.com", HTTPClient: hc, UserAgent: "certferry-test", Store: store})
	if err != nil {
		t.Fatalf("acme.New(%s): %v", dir, err)
	}
	return c, cnt
}

func leafOf(t *testing.T, cert *acme.Certificate) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(cert.FullchainPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func certStatus(t *testing.T, ca *acmesim.CA, leaf *x509.Certificate) acmesim.CertStatus {
	t.Helper()
	st, err := ca.CertStatus(t.Context(), leaf.SerialNumber.Text(16))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Switching the directory (the same CA reached as https://127.0.0.1:PORT and as
// https://localhost:PORT) registers the second CA's account beside the first, and
// switching back finds the first again: no error, no second registration.
func TestAccountPerDirectorySwitchBothWays(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	dirA := ca.DirectoryURL()
	dirB := strings.Replace(dirA, "127.0.0.1", "localhost", 1)
	smStore, _ := storetest.SecretsManager(t, "certferry/acme-account")
	for name, store := range map[string]acme.AccountStore{
		"file":           file.NewAccountStore(filepath.Join(t.TempDir(), "accounts")),
		"secretsmanager": smStore,
	} {
		t.Run(name, func(t *testing.T) {
			a1, _ := newClientAt(t, ca, dirA, store)
			b, cntB := newClientAt(t, ca, dirB, store)
			if cntB.count("POST /sign-me-up") != 1 || b.AccountURL() == a1.AccountURL() {
				t.Fatalf("directory B: %d registrations, URL %s (A: %s); want its own account", cntB.count("POST /sign-me-up"), b.AccountURL(), a1.AccountURL())
			}
			a2, cntA := newClientAt(t, ca, dirA, store)
			if a2.AccountURL() != a1.AccountURL() || cntA.count("POST /sign-me-up") != 0 {
				t.Fatalf("back to A: URL %s (was %s), %d registrations", a2.AccountURL(), a1.AccountURL(), cntA.count("POST /sign-me-up"))
			}
			issue(t, b, acme.OrderRequest{Name: "b", Domains: []string{"b.example.com"}, KeyType: "ec256"})
			issue(t, a2, acme.OrderRequest{Name: "a", Domains: []string{"a.example.com"}, KeyType: "ec256"})
		})
	}
}

func TestRevokeWithTheAccountAndWithTheCertificateKey(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	c, _ := newClient(t, ca, clientOpts{})

	_, cert := issue(t, c, acme.OrderRequest{Name: "one", Domains: []string{"one.example.com"}, KeyType: "ec256"})
	leaf := leafOf(t, cert)
	if st := certStatus(t, ca, leaf); st.Revoked() {
		t.Fatalf("fresh certificate: %+v", st)
	}
	if err := c.Revoke(t.Context(), leaf.Raw, acme.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	if st := certStatus(t, ca, leaf); !st.Revoked() || st.Reason == nil || *st.Reason != uint(acme.ReasonSuperseded) {
		t.Fatalf("after Revoke: %+v", st)
	}

	_, cert2 := issue(t, c, acme.OrderRequest{Name: "two", Domains: []string{"two.example.com"}, KeyType: "rsa2048"})
	leaf2 := leafOf(t, cert2)
	key, err := certcrypto.ParsePEMPrivateKey(cert2.Key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// Signed with the certificate's key, not the account's: another account's client
	// (which has no authority over the certificate) can send it.
	other, _ := newClient(t, ca, clientOpts{})
	if err := other.RevokeWithCertKey(t.Context(), leaf2.Raw, key, acme.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if st := certStatus(t, ca, leaf2); !st.Revoked() || st.Reason == nil || *st.Reason != uint(acme.ReasonKeyCompromise) {
		t.Fatalf("after RevokeWithCertKey: %+v", st)
	}
	if _, err := ca.CertStatus(t.Context(), "abcdef"); !errors.Is(err, acmesim.ErrUnknownCertificate) {
		t.Fatalf("unknown serial: %v", err)
	}
}

func TestParseRevocationReason(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]acme.RevocationReason{
		"keyCompromise": 1, "KEYCOMPROMISE": 1, "superseded": 4, "cessationOfOperation": 5, "affiliationChanged": 3, "unspecified": 0,
	} {
		if got, err := acme.ParseRevocationReason(in); err != nil || got != want {
			t.Errorf("%s: got %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "cACompromise", "1", "key compromise"} {
		if _, err := acme.ParseRevocationReason(bad); err == nil || !strings.Contains(err.Error(), "want one of") {
			t.Errorf("%q: got %v", bad, err)
		}
	}
}

// After a rollover the CA refuses the old key; a runner started afterwards uses the
// new key from the store and orders with it.
func TestRolloverThenTheOldKeyIsRefused(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	c, _ := newClient(t, ca, clientOpts{store: store})
	before, err := store.Load(t.Context(), ca.DirectoryURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rollover(t.Context()); err != nil {
		t.Fatal(err)
	}
	after, err := store.Load(t.Context(), ca.DirectoryURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Key.Equal(before.Key) || !after.NextKey.IsZero() || after.URL != before.URL {
		t.Fatalf("store after rollover: same key %v, next key left %v, URL %s (was %s)",
			after.Key.Equal(before.Key), !after.NextKey.IsZero(), after.URL, before.URL)
	}
	// The same client goes on with the new key.
	issue(t, c, acme.OrderRequest{Name: "same", Domains: []string{"same.example.com"}, KeyType: "ec256"})
	// A new runner loads the new key.
	fresh, cnt := newClient(t, ca, clientOpts{store: store})
	issue(t, fresh, acme.OrderRequest{Name: "fresh", Domains: []string{"fresh.example.com"}, KeyType: "ec256"})
	if cnt.count("POST /sign-me-up") != 0 || fresh.AccountURL() != before.URL {
		t.Fatalf("the fresh runner registered (%d) or has another account %s", cnt.count("POST /sign-me-up"), fresh.AccountURL())
	}
	// A runner with the old key is refused.
	oldStore := file.NewAccountStore(t.TempDir())
	if err := oldStore.Create(t.Context(), before); err != nil {
		t.Fatal(err)
	}
	stale, _ := newClient(t, ca, clientOpts{store: oldStore})
	ctx, cancel := context.WithTimeout(t.Context(), orderBound)
	defer cancel()
	_, err = stale.Begin(ctx, acme.OrderRequest{Name: "stale", Domains: []string{"stale.example.com"}, KeyType: "ec256"})
	var pe *acme.ProblemError
	if !errors.As(err, &pe) || pe.Status != 400 && pe.Status != 401 && pe.Status != 403 {
		t.Fatalf("order with the old key: got %v, want a refusal", err)
	}
	t.Logf("the CA refuses the old key: %v", err)
}

// A rollover interrupted after the CA switched keys but before the store promoted the
// new one: the next runner finds the CA refusing the stored key, uses the next key and
// promotes it. Interrupted before the CA switched: the stored key is used.
func TestInterruptedRolloverLeavesAUsableAccount(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	c, _ := newClient(t, ca, clientOpts{store: store})
	before, err := store.Load(t.Context(), ca.DirectoryURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rollover(t.Context()); err != nil {
		t.Fatal(err)
	}
	after, _ := store.Load(t.Context(), ca.DirectoryURL(), "")
	// The store as a crash right after keyChange leaves it.
	crashed := *before
	crashed.NextKey = after.Key
	if err := store.Update(t.Context(), &crashed); err != nil {
		t.Fatal(err)
	}
	fresh, _ := newClient(t, ca, clientOpts{store: store})
	issue(t, fresh, acme.OrderRequest{Name: "x", Domains: []string{"x.example.com"}, KeyType: "ec256"})
	got, _ := store.Load(t.Context(), ca.DirectoryURL(), "")
	if !got.Key.Equal(after.Key) || !got.NextKey.IsZero() {
		t.Fatalf("the new key was not promoted")
	}

	// A crash before keyChange: the CA still has the stored key, which is used; the
	// next key stays for whichever process may be rolling over.
	k, _ := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	pending := *got
	pending.NextKey = certs.NewPrivateKeyPEM(certcrypto.PEMEncode(k))
	if err := store.Update(t.Context(), &pending); err != nil {
		t.Fatal(err)
	}
	again, _ := newClient(t, ca, clientOpts{store: store})
	issue(t, again, acme.OrderRequest{Name: "y", Domains: []string{"y.example.com"}, KeyType: "ec256"})
	if got, _ := store.Load(t.Context(), ca.DirectoryURL(), ""); !got.Key.Equal(after.Key) {
		t.Fatal("the stored key was replaced though the CA never had the next one")
	}
}

func TestAccountInfoUpdateEmailDeactivate(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	c, _ := newClient(t, ca, clientOpts{store: store})
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != "valid" || len(info.Contact) != 1 || info.Contact[0] != "mailto:ops@example.com" || info.KeyThumbprint == "" || info.KeyType != "ec256" {
		t.Fatalf("Info: %+v", info)
	}
	if err := c.UpdateEmail(t.Context(), "new@example.com"); err != nil {
		t.Fatal(err)
	}
	if info, err = c.Info(t.Context()); err != nil || len(info.Contact) != 1 || info.Contact[0] != "mailto:new@example.com" || info.Email != "new@example.com" {
		t.Fatalf("Info after UpdateEmail: %+v %v", info, err)
	}
	if got, _ := store.Load(t.Context(), ca.DirectoryURL(), ""); got.Email != "new@example.com" {
		t.Fatalf("stored email %q", got.Email)
	}
	if err := c.Deactivate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(t.Context()); err == nil {
		t.Fatal("the CA still answers for a deactivated account")
	}
	// The next runner registers a new account in its place.
	fresh, cnt := newClient(t, ca, clientOpts{store: store})
	if cnt.count("POST /sign-me-up") != 1 || fresh.AccountURL() == c.AccountURL() {
		t.Fatalf("after deactivation: %d registrations, URL %s (old %s)", cnt.count("POST /sign-me-up"), fresh.AccountURL(), c.AccountURL())
	}
	issue(t, fresh, acme.OrderRequest{Name: "z", Domains: []string{"z.example.com"}, KeyType: "ec256"})
}

// Two rollovers at once (two hosts): at least one lands; when they overlap the other
// stops without touching the store (when the scheduler runs them one after the other,
// the second rolls the key the first stored, which is as good); either way the stored
// key is the one the CA has and no next key is left.
func TestConcurrentRolloversKeepAUsableAccount(t *testing.T) {
	if raceEnabled {
		t.Skip("Pebble v2.10.3 races on a keyChange beside another account request (see race_test.go); run without -race")
	}
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store, _ := storetest.SecretsManager(t, "certferry/acme-account")
	c1, _ := newClient(t, ca, clientOpts{store: store})
	c2, _ := newClient(t, ca, clientOpts{store: store})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, c := range []*acme.Client{c1, c2} {
		wg.Go(func() { errs[i] = c.Rollover(t.Context()) })
	}
	wg.Wait()
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("rollovers: %v / %v; want at least one to land", errs[0], errs[1])
	}
	t.Logf("the other rollover: %v", errors.Join(errs...))
	fresh, _ := newClient(t, ca, clientOpts{store: store})
	issue(t, fresh, acme.OrderRequest{Name: "after", Domains: []string{"after.example.com"}, KeyType: "ec256"})
	if got, _ := store.Load(t.Context(), ca.DirectoryURL(), ""); !got.NextKey.IsZero() {
		t.Error("a next key is left in the store")
	}
}

// A next key left by a rollover that is recent (perhaps under way) stops a new
// rollover; one left long ago while the CA kept the stored key is dropped.
func TestRolloverAfterAnInterruptedOne(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	store := file.NewAccountStore(t.TempDir())
	c, _ := newClient(t, ca, clientOpts{store: store})
	stored, _ := store.Load(t.Context(), ca.DirectoryURL(), "")
	k, _ := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	pending := *stored
	pending.NextKey, pending.NextKeyAt = certs.NewPrivateKeyPEM(certcrypto.PEMEncode(k)), time.Now()
	if err := store.Update(t.Context(), &pending); err != nil {
		t.Fatal(err)
	}
	if err := c.Rollover(t.Context()); err == nil || !strings.Contains(err.Error(), "may still be under way") {
		t.Fatalf("rollover beside a recent one: %v", err)
	}
	pending.NextKeyAt = time.Now().Add(-time.Hour)
	if err := store.Update(t.Context(), &pending); err != nil {
		t.Fatal(err)
	}
	if err := c.Rollover(t.Context()); err != nil {
		t.Fatalf("rollover after a stale one: %v", err)
	}
	got, _ := store.Load(t.Context(), ca.DirectoryURL(), "")
	if got.Key.Equal(stored.Key) || !got.NextKey.IsZero() {
		t.Fatal("the rollover did not land")
	}
	issue(t, c, acme.OrderRequest{Name: "x", Domains: []string{"x.example.com"}, KeyType: "ec256"})
}
