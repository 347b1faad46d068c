package hooks_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// verifyStandardWebhook is a receiver's verification, step by step as the Standard
// Webhooks specification gives it (and its reference libraries implement it), written
// here from the specification rather than from certferry's signing code:
//
//  1. read webhook-id, webhook-timestamp and webhook-signature; all three are required;
//  2. the timestamp is integer seconds and within tolerance (5 minutes) of the receiver's
//     clock, either way;
//  3. the key is the base64 after "whsec_" (raw: the bytes given);
//  4. the expected signature is base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"));
//  5. webhook-signature is a space-separated list of "{version},{signature}"; the
//     delivery is good when any "v1" entry equals the expected one, compared in constant
//     time.
func verifyStandardWebhook(secret string, raw bool, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing required headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("invalid timestamp")
	}
	const tolerance = 5 * time.Minute
	switch at := time.Unix(sec, 0); {
	case now.Sub(at) > tolerance:
		return errors.New("message timestamp too old")
	case at.Sub(now) > tolerance:
		return errors.New("message timestamp too new")
	}
	key := []byte(secret)
	if !raw {
		if key, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil {
			return fmt.Errorf("secret: %w", err)
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature found")
}

// TestSignStandardSpecVector: the example of the Standard Webhooks specification
// (secret, message ID, timestamp and payload) gives the specification's signature.
func TestSignStandardSpecVector(t *testing.T) {
	key, err := config.WebhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := hooks.SignStandard(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("SignStandard = %q, want %q", got, want)
	}
}

func newWhsec(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// TestWebhookStandardDelivery: a delivery verifies by the specification's steps, with a
// whsec_ secret and with a raw one; a retry is signed again with its own timestamp and
// the same webhook-id; the deprecated X-Certferry-Signature still verifies. The same
// steps reject a changed body, a replay outside the tolerance, a wrong key and a
// signature header of another version.
func TestWebhookStandardDelivery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret string
		raw    bool
	}{
		{"whsec", newWhsec(t), false},
		{"raw", "a raw shared secret, not base64", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				headers []http.Header
				bodies  [][]byte
				clock   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			)
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				headers, bodies = append(headers, r.Header.Clone()), append(bodies, body)
				first := len(bodies) == 1
				clock = clock.Add(90 * time.Second) // the retry is sent later
				mu.Unlock()
				if err := verifyStandardWebhook(tc.secret, tc.raw, r.Header, body, now()); err != nil {
					http.Error(w, err.Error(), http.StatusUnauthorized)
					return
				}
				if first {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			h := one(t, config.Hook{Webhook: &config.Webhook{URL: srv.URL, Secret: config.Secret(tc.secret)}, Timeout: quick},
				hooks.Deps{HTTPClient: srv.Client(), RetryBase: time.Millisecond, MaxRetryAfter: 5 * time.Millisecond, Now: now})
			if err := h.Run(t.Context(), event); err != nil {
				t.Fatalf("Run: %v (a receiver's verification failed?)", err)
			}
			if len(bodies) != 2 {
				t.Fatalf("%d attempts, want 2", len(bodies))
			}
			if headers[0].Get("webhook-id") != headers[1].Get("webhook-id") || !strings.HasPrefix(headers[0].Get("webhook-id"), "msg_") {
				t.Errorf("webhook-id %q then %q: want one msg_ ID per delivery", headers[0].Get("webhook-id"), headers[1].Get("webhook-id"))
			}
			if headers[0].Get("webhook-timestamp") == headers[1].Get("webhook-timestamp") {
				t.Errorf("the retry kept the first attempt's timestamp %s", headers[0].Get("webhook-timestamp"))
			}
			if hooks.Sign(bodies[1], tc.secret) != headers[1].Get(hooks.SignatureHeader) {
				t.Error("the deprecated X-Certferry-Signature does not verify")
			}

			hd, body, at := headers[1], bodies[1], now()
			if err := verifyStandardWebhook(tc.secret, tc.raw, hd, body, at); err != nil {
				t.Fatalf("verify the delivery again: %v", err)
			}
			for _, bad := range []struct {
				name   string
				secret string
				h      func(http.Header)
				body   []byte
				at     time.Time
				want   string
			}{
				{"changed body", tc.secret, nil, []byte(strings.Replace(string(body), `"renew"`, `"failure"`, 1)), at, "no matching signature"},
				{"replayed 6 minutes later", tc.secret, nil, body, at.Add(6 * time.Minute), "too old"},
				{"receiver clock 8 minutes behind", tc.secret, nil, body, at.Add(-8 * time.Minute), "too new"},
				{"wrong key", newWhsec(t), nil, body, at, "no matching signature"},
				{"other version", tc.secret, func(h http.Header) {
					h.Set("webhook-signature", "v1a,"+strings.TrimPrefix(h.Get("webhook-signature"), "v1,"))
				}, body, at, "no matching signature"},
				{"changed id", tc.secret, func(h http.Header) { h.Set("webhook-id", "msg_other") }, body, at, "no matching signature"},
				{"no timestamp", tc.secret, func(h http.Header) { h.Del("webhook-timestamp") }, body, at, "missing"},
			} {
				h := hd.Clone()
				if bad.h != nil {
					bad.h(h)
				}
				raw := tc.raw && bad.secret == tc.secret
				err := verifyStandardWebhook(bad.secret, raw, h, bad.body, bad.at)
				if err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("%s: verify = %v, want %q", bad.name, err, bad.want)
				}
			}
			// Several signatures (a receiver mid-rotation gets one per key): any match.
			h2 := hd.Clone()
			h2.Set("webhook-signature", "v1,bm90IGl0 "+hd.Get("webhook-signature"))
			if err := verifyStandardWebhook(tc.secret, tc.raw, h2, body, at); err != nil {
				t.Errorf("a list with the good signature second: %v", err)
			}
		})
	}
}

// TestWebhookSecretWhsec: a whsec_ secret whose rest is not base64 is refused with the
// field named and the value not shown.
func TestWebhookSecretWhsec(t *testing.T) {
	t.Parallel()
	for secret, want := range map[string]string{
		"whsec_not base64!": "not base64",
		"whsec_":            "no key",
	} {
		_, err := hooks.FromConfig([]config.Hook{{Webhook: &config.Webhook{URL: "https://hooks.example.org/x", Secret: config.Secret(secret)}}},
			hooks.Deps{HTTPClient: http.DefaultClient})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "base64!") {
			t.Errorf("%q: err %v, want one saying %q without the value", secret, err, want)
		}
	}
	// Padding lost in a copy still decodes.
	k1, err1 := config.WebhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	k2, err2 := config.WebhookKey("whsec_" + base64.RawStdEncoding.EncodeToString([]byte("abcd")))
	if err1 != nil || err2 != nil || len(k1) != 24 || string(k2) != "abcd" {
		t.Errorf("WebhookKey: %v %v %d %q", err1, err2, len(k1), k2)
	}
}
