package hooks_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

const webhookSecret = "s3cr3t-hmac-key"

// receiver is a test webhook endpoint over TLS. It verifies every delivery's signature and
// answers with the next status of its script (200 once the script is used up).
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	bodies   [][]byte
	badSig   int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.bodies = append(rc.bodies, body)
		if hooks.Sign(body, webhookSecret) != r.Header.Get(hooks.SignatureHeader) {
			rc.badSig++
		}
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "120") // capped by Deps.MaxRetryAfter
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) calls() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func (rc *receiver) hook(t *testing.T, path string) hooks.Hook {
	t.Helper()
	return one(t, config.Hook{Webhook: &config.Webhook{URL: rc.srv.URL + path, Secret: webhookSecret}, Timeout: quick},
		hooks.Deps{
			HTTPClient:    rc.srv.Client(),
			RetryBase:     time.Millisecond,
			MaxRetryAfter: 5 * time.Millisecond,
			Now:           func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		})
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	h := rc.hook(t, "/hooks/certferry?token=abc")
	if h.Name() != "webhook:"+rc.srv.URL {
		t.Errorf("Name = %q (must show only the scheme and host)", h.Name())
	}
	if err := h.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rc.calls() != 1 || rc.badSig != 0 {
		t.Fatalf("calls = %d, bad signatures = %d", rc.calls(), rc.badSig)
	}
	hd := rc.headers[0]
	for k, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "certferry", hooks.EventHeader: "renew",
	} {
		if got := hd.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(hd.Get(hooks.SignatureHeader), "sha256=") || len(hd.Get(hooks.DeliveryHeader)) != 36 || hd.Get(hooks.IDHeader) != hd.Get(hooks.DeliveryHeader) {
		t.Errorf("signature %q, delivery %q", hd.Get(hooks.SignatureHeader), hd.Get(hooks.DeliveryHeader))
	}
	want := `{"name":"example","domains":["www.example.com","example.com"],` +
		`"secret_arn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:certificate-AbCdEf",` +
		`"version_id":"00000000-0000-4000-8000-000000000001","not_after":"2026-06-01T11:00:00Z",` +
		`"event":"renew","sent_at":"2026-03-01T12:00:00Z"}`
	if string(rc.bodies[0]) != want {
		t.Errorf("body:\n got %s\nwant %s", rc.bodies[0], want)
	}
	var m map[string]any
	if err := json.Unmarshal(rc.bodies[0], &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["key"]; ok {
		t.Error("payload has a key field")
	}
}

func TestWebhookFailureEvent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	ev := hooks.Event{Name: "example", Domains: []string{"example.com"}, Kind: hooks.KindFailure, Error: "dns: zone not found"}
	if err := rc.hook(t, "/").Run(t.Context(), ev); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var p hooks.Payload
	if err := json.Unmarshal(rc.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Event != "failure" || p.Error != "dns: zone not found" || p.NotAfter != "" {
		t.Errorf("payload = %+v", p)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		statuses  []int
		wantCalls int
		wantErr   string // "" for success
		permanent bool
	}{
		{"500 then success", []int{500}, 2, "", false},
		{"429 then success (Retry-After capped)", []int{429}, 2, "", false},
		{"502 503 then success", []int{502, 503}, 3, "", false},
		{"three 500s", []int{500, 500, 500, 500}, 3, "answered 500 Internal Server Error: Internal Server Error", false},
		{"permanent 400", []int{400}, 1, "answered 400 Bad Request: Bad Request", true},
		{"permanent 404", []int{404}, 1, "answered 404 Not Found: Not Found", true},
		{"redirect is not followed", []int{302}, 1, "answered 302 Found: Found", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tc.statuses...)
			err := rc.hook(t, "/h").Run(t.Context(), event)
			if rc.calls() != tc.wantCalls {
				t.Errorf("calls = %d, want %d", rc.calls(), tc.wantCalls)
			}
			if rc.badSig != 0 {
				t.Errorf("%d deliveries with a bad signature", rc.badSig)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Run = %v", err)
				}
				// Every attempt sends the same delivery: same ID, same body.
				for i := 1; i < len(rc.bodies); i++ {
					if string(rc.bodies[i]) != string(rc.bodies[0]) || rc.headers[i].Get(hooks.DeliveryHeader) != rc.headers[0].Get(hooks.DeliveryHeader) {
						t.Errorf("attempt %d differs from the first", i+1)
					}
				}
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("Run = %v, want ...%s", err, tc.wantErr)
			}
			if hooks.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", hooks.IsPermanent(err), tc.permanent)
			}
			var se *hooks.StatusError
			if !errors.As(err, &se) {
				t.Errorf("error is not a *StatusError")
			}
		})
	}
}

// TestWebhookNetworkError: a closed receiver is retried, then reported without the URL's query.
func TestWebhookNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	url, client := srv.URL, srv.Client()
	srv.Close()
	h := one(t, config.Hook{Webhook: &config.Webhook{URL: url + "/x?token=secret-token", Secret: webhookSecret}},
		hooks.Deps{HTTPClient: client, RetryBase: time.Millisecond})
	err := h.Run(t.Context(), event)
	if err == nil || hooks.IsPermanent(err) {
		t.Fatalf("Run = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error shows the URL's query: %v", err)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	body := []byte(`{"name":"example"}`)
	good := hooks.Sign(body, webhookSecret)
	for _, tc := range []struct {
		name   string
		body   []byte
		header string
		secret string
		want   bool
	}{
		{"good", body, good, webhookSecret, true},
		{"known vector (openssl dgst -sha256 -hmac key)", []byte("hello"), "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b", "key", true},
		{"wrong secret", body, good, "other", false},
		{"tampered body", []byte(`{"name":"examplf"}`), good, webhookSecret, false},
		{"no prefix", body, strings.TrimPrefix(good, "sha256="), webhookSecret, false},
		{"sha1 prefix", body, "sha1=" + strings.TrimPrefix(good, "sha256="), webhookSecret, false},
		{"bad hex", body, "sha256=zz", webhookSecret, false},
		{"empty", body, "", webhookSecret, false},
	} {
		if got := hooks.Sign(tc.body, tc.secret) == tc.header; got != tc.want {
			t.Errorf("%s: Sign matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
