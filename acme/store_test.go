package acme_test

import (
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
	"github.com/certferry/certferry/sandbox/calls"
	"github.com/certferry/certferry/sandbox/smsim"
)

const (
	testDir   = "https://ca.example/dir"
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
		if _, err := s.Load(ctx, testDir, testEmail); !errors.Is(err, acme.ErrNoAccount) {
			t.Fatalf("Load of nothing: got %v, want ErrNoAccount", err)
		}
		a := &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}
		if err := s.Create(ctx, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Load(ctx, testDir, testEmail)
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
		got, err = s.Load(ctx, testDir, testEmail)
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
		got, err := s.Load(t.Context(), testDir, testEmail)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("key-%d", winner); string(got.Key) != want {
			t.Fatalf("stored key %q, want the winner's %q", []byte(got.Key), want)
		}
	})
}

func TestStoreRejectsAnotherPairsAccount(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s acme.AccountStore) {
		ctx := t.Context()
		if err := s.Create(ctx, &acme.Account{Directory: testDir, Email: testEmail, Key: acme.PrivateKeyPEM(testKey)}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctx, testDir, "other@example.com")
		switch s.(type) {
		case *acme.FileStore: // another file: nothing stored for that pair
			if !errors.Is(err, acme.ErrNoAccount) {
				t.Fatalf("got %v, want ErrNoAccount", err)
			}
		default:
			want := `acme: secrets manager store: secret certferry/acme-account holds the account of directory "https://ca.example/dir" email "ops@example.com", not directory "https://ca.example/dir" email "other@example.com"`
			if err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
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
	path := s.Path(testDir, testEmail)
	if filepath.Dir(path) != dir || len(filepath.Base(path)) != len("0123456789abcdef.json") {
		t.Fatalf("path %s: want %s/<16 hex>.json", path, dir)
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
	want := map[string]string{"directory": testDir, "email": testEmail, "url": a.URL, "key_pem": testKey}
	for k, v := range want {
		if doc[k] != v {
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
	var doc map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["url"] != a.URL || doc["key_pem"] != testKey || doc["directory"] != testDir || doc["email"] != testEmail {
		t.Errorf("secret: %v", doc)
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
