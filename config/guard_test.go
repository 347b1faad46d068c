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

// TestHookTimeoutFloor: a hook timeout under a second is refused, naming the field: with
// "timeout: 1ns" (or 5ms meant as 5m) every run of the hook was killed at once, the
// deploy never happened and the hook was retried on every pass.
func TestHookTimeoutFloor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ timeout, err string }{
		{"1s", ""},
		{"5m", ""},
		{"1ns", "certificates[0].hooks.on_renew[0].timeout: 1ns: at least 1s"},
		{"5ms", "certificates[0].hooks.on_renew[0].timeout: 5ms: at least 1s"},
	} {
		doc := "acme: {email: ops@example-corp.net}\naws: {region: us-east-1}\ncertificates:\n  - name: web\n    domains: [www.example.com]\n" +
			"    sinks: {secretsmanager: {secret: certs/web}}\n    hooks:\n      on_renew:\n        - exec: [/bin/true]\n          timeout: " + c.timeout + "\n"
		_, err := Parse([]byte(doc), nil)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("timeout %s: %v", c.timeout, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("timeout %s: err = %v, want %q", c.timeout, err, c.err)
		}
	}
}
