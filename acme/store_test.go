package acme_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/smsim"
)

const (
	testDir   = "https://ca.example/dir"
	testDir2  = "https://other-ca.example/directory"
	testEmail = "ops@example.com"
	testKey   = "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEEIDUMMY\n-----END EC " + "PRIVATE KEY-----\n" // a dummy, split so no scanner takes it for key material
)

func newSMStore(t *testing.T, name string) (*acme.SecretsManagerStore, *sm.Client) {
	t.Helper()
	srv := httptest.NewServer(smsim.New(smsim.Options{Calls: calls.New()}))
	t.Cleanup(srv.Close)
	client := sm.New(sm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", ""),
		HTTPClient:   srv.Client(),
	})
	return acme.NewSecretsManagerStore(client, name), client
}

// stores runs f against a fresh store of each kind.
func stores(t *testing.T, f func(t *testing.T, s acme.AccountStore)) {
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		f(t, acme.NewFileStore(filepath.Join(t.TempDir(), "accounts")))
	})
	t.Run("secretsmanager", func(t *testing.T) {
		t.Parallel()
		s, _ := newSMStore(t, "certferry/acme-account")
		f(t, s)
	})
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		if _, err := s.Load(ctx, testDir, ""); !errors.Is(err, acme.ErrNoAccount) {
			t.Fatalf("Load of nothing: got %v, want ErrNoAccount", err)
		}
		a := &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}
		if err := s.Create(ctx, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Load(ctx, testDir, "")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got.Directory != testDir || got.Email != testEmail || got.URL != "" || string(got.Key) != testKey {
			t.Fatalf("Load after Create: got %+v / %q", got, []byte(got.Key))
		}
		other := &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM("other")}
		if err := s.Create(ctx, other); !errors.Is(err, acme.ErrAccountExists) {
			t.Fatalf("second Create: got %v, want ErrAccountExists", err)
		}
		a.URL = "https://ca.example/acct/1"
		if err := s.Update(ctx, a); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, err = s.Load(ctx, testDir, "")
		if err != nil {
			t.Fatalf("Load after Update: %v", err)
		}
		if got.URL != a.URL || string(got.Key) != testKey {
			t.Fatalf("Load after Update: got URL %q key %q", got.URL, []byte(got.Key))
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
				errs[i] = s.Create(t.Context(), &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(fmt.Sprintf("key-%d", i))})
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
		got, err := s.Load(t.Context(), testDir, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("key-%d", winner); string(got.Key) != want {
			t.Fatalf("stored key %q, want the winner's %q", []byte(got.Key), want)
		}
	})
}

func TestStoreKeepsOneAccountPerDirectoryAndKID(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		pairs := []struct{ dir, kid string }{{testDir, ""}, {testDir2, ""}, {testDir, "kid-1"}, {testDir, "kid-2"}}
		for i, p := range pairs {
			a := &acme.Account{Directory: p.dir, KID: p.kid, Email: testEmail, Key: acme.PrivateKeyPEM(fmt.Sprintf("key-%d", i))}
			if err := s.Create(ctx, a); err != nil {
				t.Fatalf("Create %v: %v", p, err)
			}
		}
		// Updating one leaves the others alone.
		if err := s.Update(ctx, &acme.Account{Directory: testDir2, Email: "new@example.com", URL: "https://other-ca.example/acct/9", Key: acme.PrivateKeyPEM("key-1")}); err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			got, err := s.Load(ctx, p.dir, p.kid)
			if err != nil {
				t.Fatalf("Load %v: %v", p, err)
			}
			if string(got.Key) != fmt.Sprintf("key-%d", i) || got.Directory != p.dir || got.KID != p.kid {
				t.Errorf("Load %v: got %s %q key %q", p, got.Directory, got.KID, []byte(got.Key))
			}
		}
		if _, err := s.Load(ctx, testDir, "kid-3"); !errors.Is(err, acme.ErrNoAccount) {
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
				errs[i] = s.Create(t.Context(), &acme.Account{Directory: fmt.Sprintf("https://ca%d.example/dir", i), Key: acme.PrivateKeyPEM(fmt.Sprintf("key-%d", i))})
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
			if err != nil || string(got.Key) != fmt.Sprintf("key-%d", i) {
				t.Errorf("account %d lost: %v", i, err)
			}
		}
	})
}

func TestStoreCreateReplacesOnlyADeactivatedAccount(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		a := &acme.Account{Directory: testDir, URL: "https://ca.example/acct/1", Key: acme.PrivateKeyPEM("old")}
		if err := s.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Deactivated = true
		if err := s.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("new")}); err != nil {
			t.Fatalf("Create over a deactivated account: %v", err)
		}
		if err := s.Create(ctx, &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("third")}); !errors.Is(err, acme.ErrAccountExists) {
			t.Fatalf("Create over a live account: got %v, want ErrAccountExists", err)
		}
		got, err := s.Load(ctx, testDir, "")
		if err != nil || string(got.Key) != "new" || got.Deactivated {
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
			{&acme.Account{Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}, "account has no directory"},
			{&acme.Account{Directory: testDir, Email: testEmail}, "account has no key"},
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

func TestFileStoreFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "accounts")
	s := acme.NewFileStore(dir)
	a := &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}
	if err := s.Create(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	a.URL = "https://ca.example/acct/1"
	if err := s.Update(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	path := s.Path(testDir, "")
	if filepath.Dir(path) != dir || len(filepath.Base(path)) != len("account-0123456789abcdef.json") {
		t.Fatalf("path %s: want %s/account-<16 hex>.json", path, dir)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the account (no temporary files)", len(entries))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"directory": testDir, "kid": "", "email": testEmail, "url": a.URL, "key_pem": testKey}
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("%s: got %q, want %q", k, doc[k], v)
		}
	}
}

func TestSecretsManagerStoreSecret(t *testing.T) {
	t.Parallel()
	s, client := newSMStore(t, "acct")
	ctx := t.Context()
	a := &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}
	if err := s.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.URL = "https://ca.example/acct/1"
	for range 2 { // the derived ClientRequestToken makes a repeated Update a no-op
		if err := s.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("acct")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Versions) != 2 {
		t.Errorf("versions: got %d, want 2 (create + one update)", len(out.Versions))
	}
	v, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("acct")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Accounts []map[string]string }
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Accounts) != 1 {
		t.Fatalf("secret: %d accounts, want 1", len(doc.Accounts))
	}
	d := doc.Accounts[0]
	if d["url"] != a.URL || d["key_pem"] != testKey || d["directory"] != testDir || d["email"] != testEmail || d["kid"] != "" {
		t.Errorf("secret: %v", d)
	}
}

func TestPrivateKeyPEMNeverPrints(t *testing.T) {
	t.Parallel()
	k := acme.PrivateKeyPEM(testKey)
	a := acme.Account{Directory: testDir, Key: k}
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		k.String(), fmt.Sprint(k), fmt.Sprintf("%s %v %x %q %#v %+v", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", a, a, a), string(j),
	} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, "MHcC") {
			t.Errorf("key material printed: %s", s)
		}
	}
}

// The single-account secret older versions wrote keeps working, and the next write
// converts it to the list form without losing it.
func TestSecretsManagerStoreMigratesTheSingleAccountForm(t *testing.T) {
	t.Parallel()
	s, client := newSMStore(t, "certferry/acme-account")
	ctx := t.Context()
	legacy := fmt.Sprintf(`{"directory":%q,"email":%q,"url":"https://ca.example/acct/1","key_pem":%q}`, testDir, testEmail, testKey)
	if _, err := client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("certferry/acme-account"), SecretString: aws.String(legacy)}); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"", "kid-1"} { // it was keyed by directory (and email) only
		got, err := s.Load(ctx, testDir, kid)
		if err != nil || got.URL != "https://ca.example/acct/1" || string(got.Key) != testKey || got.KID != kid || got.Email != testEmail {
			t.Fatalf("Load of the old form (kid %q): %+v %v", kid, got, err)
		}
	}
	if _, err := s.Load(ctx, testDir2, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("Load of another directory: got %v, want ErrNoAccount (not an error naming the other account)", err)
	}
	// Another CA's account is added beside it: the secret is converted.
	if err := s.Create(ctx, &acme.Account{Directory: testDir2, Key: acme.PrivateKeyPEM("key-2")}); err != nil {
		t.Fatal(err)
	}
	v, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("certferry/acme-account")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Accounts []struct {
			Directory string
			KID       *string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &doc); err != nil || len(doc.Accounts) != 2 {
		t.Fatalf("converted secret: %s (%v)", aws.ToString(v.SecretString), err)
	}
	if doc.Accounts[0].Directory != testDir || doc.Accounts[0].KID != nil {
		t.Errorf("the old account after conversion: %+v, want its directory and no kid yet", doc.Accounts[0])
	}
	got, err := s.Load(ctx, testDir, "kid-1")
	if err != nil || string(got.Key) != testKey {
		t.Fatalf("Load of the old account after conversion: %+v %v", got, err)
	}
	// Its own next write records the binding's key id.
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, testDir, "kid-2"); !errors.Is(err, acme.ErrNoAccount) {
		t.Errorf("after its write the old account belongs to kid-1 only; kid-2 got %v", err)
	}
	if got, err := s.Load(ctx, testDir2, ""); err != nil || string(got.Key) != "key-2" {
		t.Errorf("the other account: %+v %v", got, err)
	}
}

func TestSecretsManagerStoreRefusesAForeignSecret(t *testing.T) {
	t.Parallel()
	s, client := newSMStore(t, "acct")
	if _, err := client.CreateSecret(t.Context(), &sm.CreateSecretInput{Name: aws.String("acct"), SecretString: aws.String(`{"password":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(t.Context(), testDir, "")
	if err == nil || !strings.Contains(err.Error(), "not an account secret") {
		t.Fatalf("got %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("k")}); err == nil {
		t.Fatal("Create into a foreign secret succeeded")
	}
}

// Account files older versions wrote (one per directory and email) keep working; the
// next write goes to the new name and the old file stays.
func TestFileStoreMigratesOldFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(testDir + "|" + testEmail))
	old := filepath.Join(dir, hex.EncodeToString(sum[:])[:16]+".json")
	legacy := fmt.Sprintf(`{"directory":%q,"email":%q,"url":"https://ca.example/acct/1","key_pem":%q}`, testDir, testEmail, testKey)
	if err := os.WriteFile(old, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	s := acme.NewFileStore(dir)
	got, err := s.Load(t.Context(), testDir, "kid-1")
	if err != nil || got.URL != "https://ca.example/acct/1" || got.KID != "kid-1" {
		t.Fatalf("Load of the old file: %+v %v", got, err)
	}
	if _, err := s.Load(t.Context(), testDir2, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("another directory: got %v, want ErrNoAccount", err)
	}
	if err := s.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path(testDir, "kid-1")); err != nil {
		t.Fatalf("the write did not go to the new name: %v", err)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != legacy {
		t.Fatalf("the old file was changed: %v", err)
	}
	if got, err := s.Load(t.Context(), testDir, "kid-1"); err != nil || got.KID != "kid-1" || string(got.Key) != testKey {
		t.Fatalf("Load after the write: %+v %v", got, err)
	}
}

// UpdateIf writes only when its check passes, atomically: of several writers
// conditioned on the same stored key, exactly one lands.
func TestStoreUpdateIfIsAtomic(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		if err := s.Create(ctx, &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("k0")}); err != nil {
			t.Fatal(err)
		}
		refused := errors.New("refused")
		if err := s.UpdateIf(ctx, &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("x")}, func(cur *acme.Account) error { return refused }); !errors.Is(err, refused) {
			t.Fatalf("refused UpdateIf: %v", err)
		}
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.UpdateIf(ctx, &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM(fmt.Sprintf("k%d", i+1))}, func(cur *acme.Account) error {
					if cur == nil || string(cur.Key) != "k0" {
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
		got, err := s.Load(ctx, testDir, "")
		if won < 0 || err != nil || string(got.Key) != fmt.Sprintf("k%d", won+1) {
			t.Fatalf("winner %d, stored %+v %v", won, got, err)
		}
	})
}

// A secret created without a value (by hand, or by infrastructure code) takes the first
// account.
func TestSecretsManagerStoreIntoAnEmptySecret(t *testing.T) {
	t.Parallel()
	s, client := newSMStore(t, "acct")
	if _, err := client.CreateSecret(t.Context(), &sm.CreateSecretInput{Name: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), testDir, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("Load of an empty secret: %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: testDir, Key: acme.PrivateKeyPEM("k")}); err != nil {
		t.Fatalf("Create into an empty secret: %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: testDir2, Key: acme.PrivateKeyPEM("k2")}); err != nil {
		t.Fatal(err)
	}
	for dir, key := range map[string]string{testDir: "k", testDir2: "k2"} {
		if got, err := s.Load(t.Context(), dir, ""); err != nil || string(got.Key) != key {
			t.Errorf("%s: %+v %v", dir, got, err)
		}
	}
}
