package acmesim

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/acme"
	"github.com/letsencrypt/pebble/v2/core"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
)

// TestExpireIssuedAuthorizations: the valid authorizations of an issued order are
// expired, so Pebble's FindValidAuthorization (its reuse) finds none; an order still in
// flight keeps its authorization.
func TestExpireIssuedAuthorizations(t *testing.T) {
	db := pebbledb.NewMemoryStore()
	ident := acme.Identifier{Type: acme.IdentifierDNS, Value: "www.example.com"}
	add := func(id string, issued bool) *core.Authorization {
		o := &core.Order{ID: "o-" + id, AccountID: "7"}
		o.Identifiers = []acme.Identifier{ident}
		a := &core.Authorization{ID: "a-" + id, ExpiresDate: time.Now().Add(time.Hour), Order: o}
		a.Status = acme.StatusValid
		a.Identifier = ident
		o.AuthorizationObjects = []*core.Authorization{a}
		if issued {
			o.CertificateObject = &core.Certificate{ID: "c-" + id}
		}
		if _, err := db.AddAuthorization(a); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddOrder(o); err != nil {
			t.Fatal(err)
		}
		return a
	}
	issued := add("issued", true)
	inFlight := add("flight", false)

	expireIssuedAuthorizations(db, "7")
	if !issued.ExpiresDate.Before(time.Now()) {
		t.Errorf("the issued order's authorization expires %s, want in the past", issued.ExpiresDate)
	}
	if !inFlight.ExpiresDate.After(time.Now()) {
		t.Errorf("the order in flight's authorization expires %s, want untouched", inFlight.ExpiresDate)
	}
	if got := db.FindValidAuthorization("7", ident); got != inFlight {
		t.Errorf("FindValidAuthorization = %v, want only the in-flight one", got)
	}
}

func TestOrderAccountID(t *testing.T) {
	jws := func(protected string) []byte {
		b, _ := json.Marshal(map[string]string{"protected": base64.RawURLEncoding.EncodeToString([]byte(protected)), "payload": ""})
		return b
	}
	for _, tc := range []struct {
		body []byte
		want string
	}{
		{jws(`{"alg":"ES256","kid":"https://127.0.0.1:1/my-account/42","nonce":"n","url":"u"}`), "42"},
		{jws(`{"alg":"ES256","jwk":{}}`), ""},
		{jws(`not json`), ""},
		{[]byte(`{"protected":"%%%"}`), ""},
		{[]byte(`garbage`), ""},
	} {
		if got := orderAccountID(tc.body); got != tc.want {
			t.Errorf("orderAccountID(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
