package acmesim_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
)

func randomHMAC(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newCore returns a lego api.Core with a fresh account key, for newAccount requests.
func newCore(t *testing.T, ca *acmesim.CA) *api.Core {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	core, err := api.New(ca.HTTPClient(), "acmesim-test", ca.DirectoryURL(), "", key)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return core
}

func TestEAB(t *testing.T) {
	t.Parallel()
	// EAB is passed to Pebble as arguments, not through the environment: parallel is safe.
	hmacKey, otherKey := randomHMAC(t), randomHMAC(t)
	ca := startCA(t, acmesim.Options{AlwaysValid: true, RequireEAB: true, EABKeys: map[string]string{"kid-1": hmacKey}})
	req := legoacme.Account{TermsOfServiceAgreed: true}

	if !newCore(t, ca).GetDirectory().Meta.ExternalAccountRequired {
		t.Error("directory meta.externalAccountRequired = false, want true")
	}

	tests := []struct {
		name     string
		kid, key string // kid "" registers without a binding
		wantType string // "" means success
	}{
		{"no binding", "", "", "urn:ietf:params:acme:error:externalAccountRequired"},
		{"wrong key", "kid-1", otherKey, "urn:ietf:params:acme:error:unauthorized"},
		{"unknown kid", "kid-2", hmacKey, "urn:ietf:params:acme:error:unauthorized"},
		{"valid", "kid-1", hmacKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core := newCore(t, ca)
			var (
				acct legoacme.ExtendedAccount
				err  error
			)
			if tt.kid == "" {
				acct, err = core.Accounts.New(req)
			} else {
				acct, err = core.Accounts.NewEAB(req, tt.kid, tt.key)
			}
			if tt.wantType == "" {
				if err != nil {
					t.Fatalf("newAccount: %v", err)
				}
				if acct.Location == "" || acct.Status != "valid" {
					t.Errorf("account: location %q, status %q", acct.Location, acct.Status)
				}
				if len(acct.ExternalAccountBinding) == 0 {
					t.Error("account echoes no externalAccountBinding")
				}
				return
			}
			pd, ok := errors.AsType[*legoacme.ProblemDetails](err)
			if !ok {
				t.Fatalf("newAccount: err = %v, want a %s problem", err, tt.wantType)
			}
			if pd.Type != tt.wantType {
				t.Errorf("problem type = %q, want %q (%s)", pd.Type, tt.wantType, pd.Detail)
			}
		})
	}

	// Without RequireEAB, accounts register with or without a binding.
	optional := startCA(t, acmesim.Options{EABKeys: map[string]string{"kid-1": hmacKey}})
	if _, err := newCore(t, optional).Accounts.New(req); err != nil {
		t.Errorf("newAccount without EAB on an optional-EAB CA: %v", err)
	}
	if _, err := newCore(t, optional).Accounts.NewEAB(req, "kid-1", hmacKey); err != nil {
		t.Errorf("newAccount with EAB on an optional-EAB CA: %v", err)
	}
}

func TestBadEABKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys map[string]string
		want string
	}{
		{"empty kid", map[string]string{"": "AAAA"}, "acmesim: EABKeys: empty key ID"},
		{"empty key", map[string]string{"k": ""}, `acmesim: EABKeys["k"]: empty HMAC key`},
		{"not base64url", map[string]string{"k": "secret+/="}, `acmesim: EABKeys["k"]: HMAC key is not unpadded base64url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := acmesim.Start(context.Background(), acmesim.Options{EABKeys: tt.keys})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}
