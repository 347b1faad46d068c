package config

import (
	"strings"
	"testing"
)

// TestIssuanceGuardWarning: an issuance_guard longer than the week the CA's duplicate
// limit counts is warned about: it holds a due certificate until it has expired, and
// "issuance_guard: 90d" passed validate silently while every certificate ran out.
func TestIssuanceGuardWarning(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ guard, warn string }{
		{"0s", ""},
		{"24h", ""},
		{"168h", ""},
		{"169h", "issuance_guard: 169h is longer than a week"},
		{"90d", "is held until it has expired"},
	} {
		doc := "acme: {email: ops@example-corp.net}\naws: {region: us-east-1}\nissuance_guard: " + c.guard +
			"\ncertificates:\n  - name: web\n    domains: [www.example.com]\n    sinks: {secretsmanager: {secret: certs/web}}\n"
		cfg, err := Parse([]byte(doc), nil)
		if err != nil {
			t.Errorf("issuance_guard %s: %v", c.guard, err)
			continue
		}
		got := strings.Join(cfg.Warnings, "\n")
		if (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("issuance_guard %s: warnings %q, want %q", c.guard, got, c.warn)
		}
	}
}
