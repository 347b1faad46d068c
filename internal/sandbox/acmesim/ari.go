package acmesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// SetRenewalInfo makes the CA's ARI answer for the certificate (the first PEM block of
// certPEM, which the CA must have issued) suggest the window [start, end).
func (c *CA) SetRenewalInfo(ctx context.Context, certPEM []byte, start, end time.Time) error {
	var w struct {
		SuggestedWindow struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"suggestedWindow"`
	}
	w.SuggestedWindow.Start = start.UTC().Format(time.RFC3339)
	w.SuggestedWindow.End = end.UTC().Format(time.RFC3339)
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("acmesim: set renewal info: %w", err)
	}
	return c.SetRenewalInfoRaw(ctx, certPEM, string(b))
}

// SetRenewalInfoRaw makes the CA answer ARI requests for the certificate with body,
// verbatim: it may be malformed on purpose.
func (c *CA) SetRenewalInfoRaw(ctx context.Context, certPEM []byte, body string) error {
	in := struct {
		Certificate string
		ARIResponse string
	}{string(certPEM), body}
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("acmesim: set renewal info: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.mgmtURL+"/set-renewal-info/", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("acmesim: set renewal info: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certferry-acmesim") // Pebble rejects requests without one
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("acmesim: set renewal info: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("acmesim: set renewal info: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
