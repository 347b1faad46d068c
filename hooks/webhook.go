package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/retryafter"
)

// Webhook headers. A delivery is signed by the Standard Webhooks scheme
// (https://www.standardwebhooks.com; docs/webhooks.md), which receivers verify with an
// off-the-shelf library: webhook-id, webhook-timestamp and webhook-signature.
const (
	IDHeader        = "webhook-id"        // the delivery's ID: the same on every attempt, for deduplication
	TimestampHeader = "webhook-timestamp" // the attempt's time, whole seconds since the epoch
	// StandardSignatureHeader is "v1," and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"
	// keyed with the secret (the base64-decoded rest of "whsec_<base64>", else its bytes).
	StandardSignatureHeader = "webhook-signature"

	// SignatureHeader is "sha256=" and the hex HMAC-SHA256 of the exact body keyed with
	// the secret as written. Deprecated: sent for one more release so receivers can move
	// to webhook-signature; it signs no timestamp, so it does not stop a replay.
	SignatureHeader = "X-Certferry-Signature"
	DeliveryHeader  = "X-Certferry-Delivery" // the same value as webhook-id
	EventHeader     = "X-Certferry-Event"    // "renew" or "failure"
)

// webhookAttempts bounds the attempts of one delivery.
const webhookAttempts = 3

// Payload is the JSON body a webhook receiver gets. The signatures cover the exact bytes,
// so a receiver must verify before parsing. SentAt is set once per delivery (retries send
// the same body); webhook-timestamp, which is signed with it, is the attempt's time, and
// receivers reject a delivery whose timestamp is too far from their clock (replays) and
// remember webhook-id values (duplicates).
type Payload struct {
	Name      string   `json:"name"`
	Domains   []string `json:"domains"`
	SecretARN string   `json:"secret_arn"`
	VersionID string   `json:"version_id"`
	NotAfter  string   `json:"not_after"` // RFC 3339, UTC
	Event     string   `json:"event"`     // "renew" or "failure"
	Error     string   `json:"error,omitempty"`
	SentAt    string   `json:"sent_at"` // RFC 3339, UTC
}

// SignStandard returns the webhook-signature value of one attempt: "v1," and the base64
// HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with key (config.WebhookKey).
func SignStandard(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the deprecated X-Certferry-Signature value of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret as written.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook POSTs the event as JSON. An attempt is bounded by the hook's timeout; a network
// error, 5xx or 429 is retried (3 attempts in all, exponential backoff with jitter, a
// Retry-After honoured up to Deps.MaxRetryAfter); any other non-2xx answer is permanent.
// Redirects are not followed (a redirected POST would lose its body or method).
type Webhook struct {
	url, secret   string
	key           []byte // the Standard Webhooks key, from secret
	timeout       time.Duration
	client        *http.Client
	now           func() time.Time
	base, maxWait time.Duration
	log           *zap.Logger
	name          string
}

var _ Hook = (*Webhook)(nil)

func newWebhook(h config.Hook, d Deps) (*Webhook, error) {
	u, err := url.Parse(h.Webhook.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("webhook: url must be an absolute http(s) URL")
	}
	// The name is the scheme and host only: the path (Slack and Discord put the token there),
	// the query and the user info may all hold a token.
	name := "webhook:" + (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	key, err := config.WebhookKey(h.Webhook.Secret.Reveal())
	if err != nil {
		return nil, fmt.Errorf("webhook: secret: %w", err)
	}
	c := *d.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{
		url:     h.Webhook.URL,
		secret:  h.Webhook.Secret.Reveal(),
		key:     key,
		timeout: timeoutOr(h.Timeout, config.DefaultWebhookTimeout),
		client:  &c,
		now:     d.Now,
		base:    d.RetryBase,
		maxWait: d.MaxRetryAfter,
		log:     d.Logger.Named("hooks").With(zap.String("hook", name)),
		name:    name,
	}, nil
}

// Name returns "webhook:" and the URL's scheme and host ("webhook:https://hooks.example.org"):
// no path, query or user info.
func (w *Webhook) Name() string { return w.name }

// Body returns the JSON payload of ev, as sent.
func (w *Webhook) Body(ev Event) ([]byte, error) {
	return json.Marshal(Payload{
		Name:      ev.Name,
		Domains:   nonNil(ev.Domains),
		SecretARN: ev.SecretARN,
		VersionID: ev.VersionID,
		NotAfter:  rfc3339(ev.NotAfter),
		Event:     ev.Kind,
		Error:     ev.Error,
		SentAt:    rfc3339(w.now()),
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// StatusError is a webhook receiver's non-2xx answer.
type StatusError struct {
	Status int
	Body   string // the start of the answer's body, for the log
}

func (e *StatusError) Error() string {
	s := "answered " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Run delivers ev.
func (w *Webhook) Run(ctx context.Context, ev Event) error {
	body, err := w.Body(ev)
	if err != nil {
		return fmt.Errorf("hooks: %s: encode: %w", w.name, err)
	}
	sig := Sign(body, w.secret)
	delivery := randomID()
	log := w.log.With(zap.String("cert", ev.Name), zap.String("event", ev.Kind), zap.String("delivery", delivery))

	var lastErr error
	for attempt := 1; ; attempt++ {
		wait, err := w.attempt(ctx, body, sig, delivery, ev.Kind)
		if err == nil {
			log.Info("webhook delivered", zap.Int("attempt", attempt))
			return nil
		}
		lastErr = err
		if IsPermanent(err) || attempt >= webhookAttempts || ctx.Err() != nil {
			break
		}
		if wait <= 0 {
			wait = w.backoff(attempt)
		}
		wait = min(wait, w.maxWait)
		log.Warn("webhook attempt failed, retrying", zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("hooks: %s: attempt %d: %w (then %w)", w.name, attempt, lastErr, ctx.Err())
		case <-t.C:
		}
	}
	log.Warn("webhook failed", zap.Error(lastErr))
	return fmt.Errorf("hooks: %s: %w", w.name, lastErr)
}

// attempt makes one POST. It returns the receiver's Retry-After (0 if none) with a retryable
// error, or a *PermanentError.
func (w *Webhook) attempt(ctx context.Context, body []byte, sig, delivery, kind string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, &PermanentError{fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certferry")
	// Signed per attempt: a retry carries its own time, so it passes a receiver's
	// tolerance however long the backoff was.
	ts := w.now().Unix()
	req.Header.Set(IDHeader, delivery)
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(StandardSignatureHeader, SignStandard(w.key, delivery, ts, body))
	req.Header.Set(SignatureHeader, sig)
	req.Header.Set(DeliveryHeader, delivery)
	req.Header.Set(EventHeader, kind)
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold a token in its query: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	se := &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?"))}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return retryafter.Parse(resp.Header.Get("Retry-After"), w.now()), se
	}
	return 0, &PermanentError{se}
}

// backoff is base * 2^(attempt-1), with up to half of it added at random.
func (w *Webhook) backoff(attempt int) time.Duration {
	d := w.base << (attempt - 1)
	if half := int64(d / 2); half > 0 {
		n, err := rand.Int(rand.Reader, big.NewInt(half))
		if err == nil {
			d += time.Duration(n.Int64())
		}
	}
	return d
}

// randomID is a delivery's ID, "msg_" and 32 hex digits (the form Standard Webhooks'
// examples use; receivers treat it as opaque).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}
