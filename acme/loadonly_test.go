package acme

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/go-acme/lego/v4/certcrypto"

	"github.com/certferry/certferry/certs"
)

// TestLoadOnly: a LoadOnly client opens only a registered, live account the store holds;
// with none (absent, deactivated, a key never registered) New fails with ErrNoAccount,
// sends the CA nothing and stores nothing.
func TestLoadOnly(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "no request expected", http.StatusTeapot)
	}))
	defer ca.Close()
	dir := ca.URL + "/dir"
	key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		t.Fatal(err)
	}
	pem := certs.NewPrivateKeyPEM(certcrypto.PEMEncode(key))
	for _, tc := range []struct {
		name   string
		stored *Account
		ok     bool
	}{
		{"none stored", nil, false},
		{"deactivated", &Account{Directory: dir, URL: ca.URL + "/acct/1", Key: pem, Deactivated: true}, false},
		{"never registered", &Account{Directory: dir, Key: pem}, false},
		{"another directory's", &Account{Directory: ca.URL + "/other", URL: ca.URL + "/acct/1", Key: pem}, false},
		{"registered", &Account{Directory: dir, URL: ca.URL + "/acct/1", Key: pem}, true},
	} {
		store := newMemStore()
		if tc.stored != nil {
			if err := store.Update(t.Context(), tc.stored); err != nil {
				t.Fatal(err)
			}
		}
		before := requests.Load()
		c, err := New(t.Context(), Config{DirectoryURL: dir, HTTPClient: ca.Client(), Store: store, LoadOnly: true})
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, ErrNoAccount) {
			t.Errorf("%s: New = %v, want ok %v or ErrNoAccount", tc.name, err, tc.ok)
		}
		if tc.ok && c.account.URL != tc.stored.URL {
			t.Errorf("%s: opened %q", tc.name, c.account.URL)
		}
		if n := requests.Load() - before; n != 0 {
			t.Errorf("%s: %d request(s) to the CA", tc.name, n)
		}
		want := 0
		if tc.stored != nil {
			want = 1
		}
		if list, _ := store.List(t.Context()); len(list) != want {
			t.Errorf("%s: the store holds %d account(s) after New", tc.name, len(list))
		}
	}
}
