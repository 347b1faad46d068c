package accountstore_test

// The contract every acme.AccountStore keeps (its doc comment), run against both stores.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/accountstore/storetest"
	"github.com/certferry/certferry/sinks/file"
)

// stores runs f against a fresh store of each kind.
func stores(t *testing.T, f func(t *testing.T, s acme.AccountStore)) {
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		f(t, file.NewAccountStore(filepath.Join(t.TempDir(), "accounts")))
	})
	t.Run("secretsmanager", func(t *testing.T) {
		t.Parallel()
		s, _ := storetest.SecretsManager(t, "certferry/acme-account")
		f(t, s)
	})
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		if _, err := s.Load(ctx, storetest.Dir, ""); !errors.Is(err, acme.ErrNoAccount) {
			t.Fatalf("Load of nothing: got %v, want ErrNoAccount", err)
		}
		a := &acme.Account{Directory: storetest.Dir, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(storetest.Key))}
		if err := s.Create(ctx, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Load(ctx, storetest.Dir, "")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got.Directory != storetest.Dir || got.Email != storetest.Email || got.URL != "" || string(got.Key.Bytes()) != storetest.Key {
			t.Fatalf("Load after Create: got %+v / %q", got, got.Key.Bytes())
		}
		other := &acme.Account{Directory: storetest.Dir, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte("other"))}
		if err := s.Create(ctx, other); !errors.Is(err, acme.ErrAccountExists) {
			t.Fatalf("second Create: got %v, want ErrAccountExists", err)
		}
		a.URL = "https://ca.example/acct/1"
		if err := s.Update(ctx, a); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, err = s.Load(ctx, storetest.Dir, "")
		if err != nil {
			t.Fatalf("Load after Update: %v", err)
		}
		if got.URL != a.URL || string(got.Key.Bytes()) != storetest.Key {
			t.Fatalf("Load after Update: got URL %q key %q", got.URL, got.Key.Bytes())
		}
	})
}

func TestStoreConcurrentCreateHasOneWinner(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Create(t.Context(), &acme.Account{Directory: storetest.Dir, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(fmt.Sprintf("key-%d", i)))})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("Create succeeded twice (%d and %d)", winner, i)
				}
				winner = i
			case !errors.Is(err, acme.ErrAccountExists):
				t.Fatalf("Create %d: got %v, want nil or ErrAccountExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no Create succeeded")
		}
		got, err := s.Load(t.Context(), storetest.Dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("key-%d", winner); string(got.Key.Bytes()) != want {
			t.Fatalf("stored key %q, want the winner's %q", got.Key.Bytes(), want)
		}
	})
}

func TestStoreKeepsOneAccountPerDirectoryAndKID(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		pairs := []struct{ dir, kid string }{{storetest.Dir, ""}, {storetest.Dir2, ""}, {storetest.Dir, "kid-1"}, {storetest.Dir, "kid-2"}}
		for i, p := range pairs {
			a := &acme.Account{Directory: p.dir, KID: p.kid, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(fmt.Sprintf("key-%d", i)))}
			if err := s.Create(ctx, a); err != nil {
				t.Fatalf("Create %v: %v", p, err)
			}
		}
		// Updating one leaves the others alone.
		if err := s.Update(ctx, &acme.Account{Directory: storetest.Dir2, Email: "new@example.com", URL: "https://other-ca.example/acct/9", Key: certs.NewPrivateKeyPEM([]byte("key-1"))}); err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			got, err := s.Load(ctx, p.dir, p.kid)
			if err != nil {
				t.Fatalf("Load %v: %v", p, err)
			}
			if string(got.Key.Bytes()) != fmt.Sprintf("key-%d", i) || got.Directory != p.dir || got.KID != p.kid {
				t.Errorf("Load %v: got %s %q key %q", p, got.Directory, got.KID, got.Key.Bytes())
			}
		}
		if _, err := s.Load(ctx, storetest.Dir, "kid-3"); !errors.Is(err, acme.ErrNoAccount) {
			t.Errorf("Load of an unknown kid: got %v, want ErrNoAccount", err)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != len(pairs) {
			t.Fatalf("List: %d accounts (%v), want %d", len(list), err, len(pairs))
		}
	})
}

// Two runners creating the accounts of two CAs at once both land: the Secrets Manager
// store's compare-and-swap derives a lost write again from the winner's value.
func TestStoreConcurrentCreatesOfDifferentPairsAllLand(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Create(t.Context(), &acme.Account{Directory: fmt.Sprintf("https://ca%d.example/dir", i), Key: certs.NewPrivateKeyPEM([]byte(fmt.Sprintf("key-%d", i)))})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Create %d: %v", i, err)
			}
		}
		for i := range n {
			got, err := s.Load(t.Context(), fmt.Sprintf("https://ca%d.example/dir", i), "")
			if err != nil || string(got.Key.Bytes()) != fmt.Sprintf("key-%d", i) {
				t.Errorf("account %d lost: %v", i, err)
			}
		}
	})
}

func TestStoreCreateReplacesOnlyADeactivatedAccount(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		a := &acme.Account{Directory: storetest.Dir, URL: "https://ca.example/acct/1", Key: certs.NewPrivateKeyPEM([]byte("old"))}
		if err := s.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Deactivated = true
		if err := s.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("new"))}); err != nil {
			t.Fatalf("Create over a deactivated account: %v", err)
		}
		if err := s.Create(ctx, &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("third"))}); !errors.Is(err, acme.ErrAccountExists) {
			t.Fatalf("Create over a live account: got %v, want ErrAccountExists", err)
		}
		got, err := s.Load(ctx, storetest.Dir, "")
		if err != nil || string(got.Key.Bytes()) != "new" || got.Deactivated {
			t.Fatalf("Load: %+v %v", got, err)
		}
	})
}

func TestStoreRejectsBadAccounts(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		for _, tc := range []struct {
			a    *acme.Account
			want string
		}{
			{nil, "nil account"},
			{&acme.Account{Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(storetest.Key))}, "account has no directory"},
			{&acme.Account{Directory: storetest.Dir, Email: storetest.Email}, "account has no key"},
		} {
			if err := s.Create(t.Context(), tc.a); err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Create(%v): got %v, want ...%s", tc.a, err, tc.want)
			}
			if err := s.Update(t.Context(), tc.a); err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Update(%v): got %v, want ...%s", tc.a, err, tc.want)
			}
		}
	})
}

// UpdateIf writes only when its check passes, atomically: of several writers
// conditioned on the same stored key, exactly one lands.
func TestStoreUpdateIfIsAtomic(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		if err := s.Create(ctx, &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("k0"))}); err != nil {
			t.Fatal(err)
		}
		refused := errors.New("refused")
		if err := s.UpdateIf(ctx, &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("x"))}, func(cur *acme.Account) error { return refused }); !errors.Is(err, refused) {
			t.Fatalf("refused UpdateIf: %v", err)
		}
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.UpdateIf(ctx, &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte(fmt.Sprintf("k%d", i+1)))}, func(cur *acme.Account) error {
					if cur == nil || string(cur.Key.Bytes()) != "k0" {
						return refused
					}
					return nil
				})
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("two conditional writes landed: %d and %d", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, refused):
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		got, err := s.Load(ctx, storetest.Dir, "")
		if won < 0 || err != nil || string(got.Key.Bytes()) != fmt.Sprintf("k%d", won+1) {
			t.Fatalf("winner %d, stored %+v %v", won, got, err)
		}
	})
}
