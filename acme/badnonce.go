package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
)

// maxBadNonceRetries bounds how often one request is signed again with a fresh nonce
// after the CA answered badNonce.
//
// Why the transport retries at all: lego v4's own badNonce retry cannot be configured
// to do it well. api.Core.retrievablePost (lego v4.35.2, acme/api/api.go) retries a
// POST answered badNonce on a fixed backoff (200 ms, ×1.5 with jitter, at most 5 s a
// pause, 20 s in all, about ten attempts), with real sleeps under context.Background,
// and neither the backoff nor the context is an option: a Core takes none. It also
// fetches a new nonce each time rather than use the one the badNonce answer carries.
// Against a CA that rejects 90 % of nonces (Pebble's PEBBLE_WFE_NONCEREJECT, which
// models a CA whose nonce service is in trouble) each POST then fails about a third of
// the time after spending ~15 s, and a pass of ten POSTs practically never completes.
// RFC 8555 §6.5 says the client should retry at once with the nonce that came with the
// badNonce answer; that costs one round trip and no sleep. Each retry is one more
// request to the CA, so it still goes through its endpoint's token bucket, and the
// bound keeps a CA that rejects every nonce from being asked without end: after it, the
// answer goes to lego, whose own (slow) retries remain the outer bound. With 16 the
// chance that a 90 % storm gets one request past both bounds is about 0.17^10.
//
// TestBadNonceStormResigned shows it: an order completes against a CA rejecting 90 % of
// nonces with at most a quarter of the rejections left to lego; with this retry off
// (noResign, lego alone) every rejection goes to lego's sleeps and the order is given up.
const maxBadNonceRetries = 16

// resignJWS returns the flattened JWS body signed again by key with nonce in its
// protected header. Only the header's nonce changes; payload and every other header
// (url, kid or jwk) stay as lego wrote them.
func resignJWS(body []byte, key crypto.PrivateKey, nonce string) ([]byte, error) {
	var jws struct {
		Protected string `json:"protected"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(body, &jws); err != nil {
		return nil, fmt.Errorf("parse JWS: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(jws.Protected)
	if err != nil {
		return nil, fmt.Errorf("parse JWS header: %w", err)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("parse JWS header: %w", err)
	}
	var alg string
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil {
		return nil, fmt.Errorf("parse JWS header alg: %w", err)
	}
	if hdr["nonce"], err = json.Marshal(nonce); err != nil {
		return nil, err
	}
	if raw, err = json.Marshal(hdr); err != nil {
		return nil, err
	}
	jws.Protected = base64.RawURLEncoding.EncodeToString(raw)
	sig, err := signJWS(alg, key, []byte(jws.Protected+"."+jws.Payload))
	if err != nil {
		return nil, err
	}
	jws.Signature = base64.RawURLEncoding.EncodeToString(sig)
	return json.Marshal(jws)
}

// signJWS signs input as JWS algorithm alg (RFC 7518 §3) requires: ES* as the fixed
// size r||s, RS256 as PKCS #1 v1.5.
func signJWS(alg string, key crypto.PrivateKey, input []byte) ([]byte, error) {
	var h hash.Hash
	var ch crypto.Hash
	switch alg {
	case "ES256", "RS256":
		h, ch = sha256.New(), crypto.SHA256
	case "ES384":
		h, ch = sha512.New384(), crypto.SHA384
	case "ES512":
		h, ch = sha512.New(), crypto.SHA512
	default:
		return nil, fmt.Errorf("JWS algorithm %q not supported for a badNonce retry", alg)
	}
	h.Write(input)
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg[:2] != "ES" {
			return nil, fmt.Errorf("JWS algorithm %s with an ECDSA key", alg)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case *rsa.PrivateKey:
		if alg != "RS256" {
			return nil, fmt.Errorf("JWS algorithm %s with an RSA key", alg)
		}
		return rsa.SignPKCS1v15(rand.Reader, k, ch, digest)
	default:
		return nil, errors.New("account key type not supported for a badNonce retry")
	}
}
