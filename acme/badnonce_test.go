package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestResignJWS: a JWS signed again after badNonce carries the new nonce, keeps every
// other header and the payload, and verifies with the account key.
func TestResignJWS(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{{"ES256", ec, jose.ES256}, {"ES384", ec384, jose.ES384}, {"RS256", rk, jose.RS256}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.alg, Key: tc.key}, &jose.SignerOptions{
				ExtraHeaders: map[jose.HeaderKey]any{"nonce": "old", "url": "https://ca/new-order", "kid": "https://ca/acct/1"}})
			if err != nil {
				t.Fatal(err)
			}
			obj, err := signer.Sign([]byte(`{"identifiers":[]}`))
			if err != nil {
				t.Fatal(err)
			}
			again, err := resignJWS([]byte(obj.FullSerialize()), tc.key, "fresh")
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSignedJSON(string(again), []jose.SignatureAlgorithm{tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := parsed.Verify(tc.key.Public())
			if err != nil || string(payload) != `{"identifiers":[]}` {
				t.Fatalf("verify: %v, payload %q", err, payload)
			}
			var raw struct {
				Protected string `json:"protected"`
			}
			_ = json.Unmarshal(again, &raw)
			hb, _ := base64.RawURLEncoding.DecodeString(raw.Protected)
			var hdr map[string]any
			_ = json.Unmarshal(hb, &hdr)
			if hdr["nonce"] != "fresh" || hdr["url"] != "https://ca/new-order" || hdr["kid"] != "https://ca/acct/1" || hdr["alg"] != string(tc.alg) {
				t.Errorf("header %v", hdr)
			}
		})
	}
	if _, err := resignJWS([]byte(`{"protected":"e30","payload":"","signature":""}`), ec, "n"); err == nil {
		t.Error("a header without alg was signed")
	}
}
