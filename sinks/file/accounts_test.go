package file_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/accountstore/storetest"
	"github.com/certferry/certferry/sinks/file"
)

func TestAccountStoreFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "accounts")
	s := file.NewAccountStore(dir)
	a := &acme.Account{Directory: storetest.Dir, Email: storetest.Email, Key: certs.NewPrivateKeyPEM([]byte(storetest.Key))}
	if err := s.Create(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	a.URL = "https://ca.example/acct/1"
	if err := s.Update(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	path := s.Path(storetest.Dir, "")
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
	want := map[string]string{"directory": storetest.Dir, "kid": "", "email": storetest.Email, "url": a.URL, "key_pem": storetest.Key}
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("%s: got %q, want %q", k, doc[k], v)
		}
	}
}

// Account files older versions wrote (one per directory and email) keep working; the
// next write goes to the new name and the old file stays.
func TestAccountStoreMigratesOldFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(storetest.Dir + "|" + storetest.Email))
	old := filepath.Join(dir, hex.EncodeToString(sum[:])[:16]+".json")
	legacy := fmt.Sprintf(`{"directory":%q,"email":%q,"url":"https://ca.example/acct/1","key_pem":%q}`, storetest.Dir, storetest.Email, storetest.Key)
	if err := os.WriteFile(old, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	s := file.NewAccountStore(dir)
	got, err := s.Load(t.Context(), storetest.Dir, "kid-1")
	if err != nil || got.URL != "https://ca.example/acct/1" || got.KID != "kid-1" {
		t.Fatalf("Load of the old file: %+v %v", got, err)
	}
	if _, err := s.Load(t.Context(), storetest.Dir2, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("another directory: got %v, want ErrNoAccount", err)
	}
	if err := s.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path(storetest.Dir, "kid-1")); err != nil {
		t.Fatalf("the write did not go to the new name: %v", err)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != legacy {
		t.Fatalf("the old file was changed: %v", err)
	}
	if got, err := s.Load(t.Context(), storetest.Dir, "kid-1"); err != nil || got.KID != "kid-1" || string(got.Key.Bytes()) != storetest.Key {
		t.Fatalf("Load after the write: %+v %v", got, err)
	}
}
