package secretsmanager_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/accountstore/storetest"
)

func TestAccountStoreSecret(t *testing.T) {
	t.Parallel()
	s, client := storetest.SecretsManager(t, "acct")
	ctx := t.Context()
	a := &acme.Account{Directory: storetest.Dir, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(storetest.Key))}
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
	if d["url"] != a.URL || d["key_pem"] != storetest.Key || d["directory"] != storetest.Dir || d["email"] != storetest.Email || d["kid"] != "" {
		t.Errorf("secret: %v", d)
	}
}

// The single-account secret older versions wrote keeps working, and the next write
// converts it to the list form without losing it.
func TestAccountStoreMigratesTheSingleAccountForm(t *testing.T) {
	t.Parallel()
	s, client := storetest.SecretsManager(t, "certferry/acme-account")
	ctx := t.Context()
	legacy := fmt.Sprintf(`{"directory":%q,"email":%q,"url":"https://ca.example/acct/1","key_pem":%q}`, storetest.Dir, storetest.Email, storetest.Key)
	if _, err := client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("certferry/acme-account"), SecretString: aws.String(legacy)}); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"", "kid-1"} { // it was keyed by directory (and email) only
		got, err := s.Load(ctx, storetest.Dir, kid)
		if err != nil || got.URL != "https://ca.example/acct/1" || string(got.Key.Bytes()) != storetest.Key || got.KID != kid || got.Email != storetest.Email {
			t.Fatalf("Load of the old form (kid %q): %+v %v", kid, got, err)
		}
	}
	if _, err := s.Load(ctx, storetest.Dir2, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("Load of another directory: got %v, want ErrNoAccount (not an error naming the other account)", err)
	}
	// Another CA's account is added beside it: the secret is converted.
	if err := s.Create(ctx, &acme.Account{Directory: storetest.Dir2, Key: certs.NewPrivateKeyPEM([]byte("key-2"))}); err != nil {
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
	if doc.Accounts[0].Directory != storetest.Dir || doc.Accounts[0].KID != nil {
		t.Errorf("the old account after conversion: %+v, want its directory and no kid yet", doc.Accounts[0])
	}
	got, err := s.Load(ctx, storetest.Dir, "kid-1")
	if err != nil || string(got.Key.Bytes()) != storetest.Key {
		t.Fatalf("Load of the old account after conversion: %+v %v", got, err)
	}
	// Its own next write records the binding's key id.
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, storetest.Dir, "kid-2"); !errors.Is(err, acme.ErrNoAccount) {
		t.Errorf("after its write the old account belongs to kid-1 only; kid-2 got %v", err)
	}
	if got, err := s.Load(ctx, storetest.Dir2, ""); err != nil || string(got.Key.Bytes()) != "key-2" {
		t.Errorf("the other account: %+v %v", got, err)
	}
}

func TestAccountStoreRefusesAForeignSecret(t *testing.T) {
	t.Parallel()
	s, client := storetest.SecretsManager(t, "acct")
	if _, err := client.CreateSecret(t.Context(), &sm.CreateSecretInput{Name: aws.String("acct"), SecretString: aws.String(`{"password":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(t.Context(), storetest.Dir, "")
	if err == nil || !strings.Contains(err.Error(), "not an account secret") {
		t.Fatalf("got %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("k"))}); err == nil {
		t.Fatal("Create into a foreign secret succeeded")
	}
}

// A secret created without a value (by hand, or by infrastructure code) takes the first
// account.
func TestAccountStoreIntoAnEmptySecret(t *testing.T) {
	t.Parallel()
	s, client := storetest.SecretsManager(t, "acct")
	if _, err := client.CreateSecret(t.Context(), &sm.CreateSecretInput{Name: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), storetest.Dir, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("Load of an empty secret: %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: storetest.Dir, Key: certs.NewPrivateKeyPEM([]byte("k"))}); err != nil {
		t.Fatalf("Create into an empty secret: %v", err)
	}
	if err := s.Create(t.Context(), &acme.Account{Directory: storetest.Dir2, Key: certs.NewPrivateKeyPEM([]byte("k2"))}); err != nil {
		t.Fatal(err)
	}
	for dir, key := range map[string]string{storetest.Dir: "k", storetest.Dir2: "k2"} {
		if got, err := s.Load(t.Context(), dir, ""); err != nil || string(got.Key.Bytes()) != key {
			t.Errorf("%s: %+v %v", dir, got, err)
		}
	}
}
