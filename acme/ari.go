package acme

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/certferry/certferry/internal/retryafter"
)

// RenewalInfo is the CA's suggested renewal window for a certificate (RFC 9773).
type RenewalInfo struct {
	Start, End     time.Time
	RetryAfter     time.Duration // when to ask again; zero when the CA did not say
	ExplanationURL string
}

// CertID is the ARI certificate identifier of leaf (RFC 9773 §4.1):
// base64url(authority key identifier) "." base64url(DER serial number content).
func CertID(leaf *x509.Certificate) (string, error) {
	if leaf == nil || len(leaf.AuthorityKeyId) == 0 {
		return "", errors.New("acme: ARI certificate ID: the certificate has no authority key identifier")
	}
	if leaf.SerialNumber == nil || leaf.SerialNumber.Sign() <= 0 {
		return "", errors.New("acme: ARI certificate ID: the certificate has no positive serial number")
	}
	serial := leaf.SerialNumber.Bytes()
	if serial[0]&0x80 != 0 { // DER INTEGER: a leading zero keeps it positive
		serial = append([]byte{0}, serial...)
	}
	return base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." + base64.RawURLEncoding.EncodeToString(serial), nil
}

// RenewalInfo asks the CA for leaf's renewal window. It returns an error wrapping
// ErrNoRenewalInfo when the CA offers no ARI or has none for leaf (404). issuer is used
// only when leaf carries no authority key identifier (its subject key identifier
// stands in); it may be nil.
func (c *Client) RenewalInfo(ctx context.Context, leaf, issuer *x509.Certificate) (*RenewalInfo, error) {
	if leaf != nil && len(leaf.AuthorityKeyId) == 0 && issuer != nil && len(issuer.SubjectKeyId) > 0 {
		l := *leaf
		l.AuthorityKeyId = issuer.SubjectKeyId
		leaf = &l
	}
	id, err := CertID(leaf)
	if err != nil {
		return nil, err
	}
	return c.RenewalInfoByID(ctx, id)
}

// RenewalInfoByID asks the CA for the renewal window of the certificate whose ARI
// identifier is id (as stored with the certificate), without needing the certificate.
func (c *Client) RenewalInfoByID(ctx context.Context, id string) (*RenewalInfo, error) {
	if id == "" || !strings.Contains(id, ".") {
		return nil, fmt.Errorf("acme: renewal info: %q is not an ARI certificate identifier", id)
	}
	core, _, err := c.newCore(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info %s: %w", id, err)
	}
	base := core.GetDirectory().RenewalInfo
	if base == "" {
		return nil, fmt.Errorf("acme: renewal info %s: the directory has no renewalInfo: %w", id, ErrNoRenewalInfo)
	}
	url := strings.TrimSuffix(base, "/") + "/" + id
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info %s: %w", id, err)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := core.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info %s: %w", id, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("acme: renewal info %s: the CA does not know the certificate: %w", id, ErrNoRenewalInfo)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("acme: renewal info %s: %w", id, httpProblem(resp, body, c.now()))
	}
	var ri struct {
		SuggestedWindow struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"suggestedWindow"`
		ExplanationURL string `json:"explanationURL"`
	}
	if err := json.Unmarshal(body, &ri); err != nil {
		return nil, fmt.Errorf("acme: renewal info %s: malformed answer: %w", id, err)
	}
	w := ri.SuggestedWindow
	if w.Start.IsZero() || w.End.IsZero() || !w.End.After(w.Start) {
		return nil, fmt.Errorf("acme: renewal info %s: malformed window [%s, %s]", id,
			w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	}
	return &RenewalInfo{
		Start:          w.Start,
		End:            w.End,
		RetryAfter:     retryafter.Parse(resp.Header.Get("Retry-After"), c.now()),
		ExplanationURL: ri.ExplanationURL,
	}, nil
}

// httpProblem is the error of a non-200 answer to a request lego did not make.
func httpProblem(resp *http.Response, body []byte, now time.Time) error {
	var p struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) != nil || p.Type == "" {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	pe := &ProblemError{Type: p.Type, Detail: p.Detail, Status: resp.StatusCode}
	if p.Type == ProblemRateLimited {
		return &RateLimitedError{RetryAfter: retryafter.Parse(resp.Header.Get("Retry-After"), now), Detail: p.Detail, problem: pe}
	}
	return pe
}
