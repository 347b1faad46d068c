package acmesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// CertStatus is what the CA knows of a certificate it issued, as Pebble's management
// interface reports it (GET /cert-status-by-serial/<hex serial>).
type CertStatus struct {
	Status    string // "Valid" or "Revoked"
	Serial    string // lowercase hex, no leading zeros
	Reason    *uint  // the CRL reason code of a revocation, when one was given
	RevokedAt string // when it was revoked, as Pebble prints it
}

// Revoked reports whether the CA revoked the certificate.
func (s CertStatus) Revoked() bool { return s.Status == "Revoked" }

// ErrUnknownCertificate: the CA issued no certificate with that serial.
var ErrUnknownCertificate = errors.New("acmesim: no certificate with that serial")

// CertStatus asks the CA about the certificate with the given serial (hex, as
// certferry's secrets and tags hold it; leading zeros and case do not matter).
func (c *CA) CertStatus(ctx context.Context, serialHex string) (CertStatus, error) {
	serial := strings.TrimLeft(strings.ToLower(serialHex), "0")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.mgmtURL+"/cert-status-by-serial/"+url.PathEscape(serial), nil)
	if err != nil {
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: %w", serialHex, err)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: %w", serialHex, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: %w", serialHex, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: %w", serialHex, ErrUnknownCertificate)
	default:
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: HTTP %d", serialHex, resp.StatusCode)
	}
	var st CertStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return CertStatus{}, fmt.Errorf("acmesim: cert status %s: %w", serialHex, err)
	}
	return st, nil
}
