package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	yaml "go.yaml.in/yaml/v3"
)

const (
	testHMACKey = "c2VjcmV0LWhtYWMta2V5LXgx"
	testHookKey = "hunter2-hook-secret"
)

// secretConfig is a parsed Config holding an EAB HMAC key and a webhook secret.
func secretConfig(t *testing.T) *Config {
	t.Helper()
	data := []byte(`acme:
  email: ops@example.org
  eab: { kid: kid-123, hmac_key: "${EAB_HMAC}" }
certificates:
  - name: www
    domains: [www.example.org]
    sinks: { secretsmanager: { secret: certs/www } }
    hooks:
      on_renew:
        - webhook: { url: "https://hooks.example.org/deploy", secret: "${HOOK_SECRET}" }
`)
	c, err := Parse(data, env(map[string]string{"EAB_HMAC": testHMACKey, "HOOK_SECRET": testHookKey}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ACME.EAB.HMACKey.Reveal() != testHMACKey || c.Certificates[0].Hooks.OnRenew[0].Webhook.Secret.Reveal() != testHookKey {
		t.Fatalf("Reveal: %q, %q", c.ACME.EAB.HMACKey.Reveal(), c.Certificates[0].Hooks.OnRenew[0].Webhook.Secret.Reveal())
	}
	return c
}

func assertHidden(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{testHMACKey, testHookKey} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows a secret: %s", what, out)
		}
	}
}

// TestSecretFormatting: a Config, and every struct on the way to its secrets, prints no secret
// with any fmt verb, with encoding/json, yaml or zap; the secret fields show REDACTED.
func TestSecretFormatting(t *testing.T) {
	t.Parallel()
	c := secretConfig(t)
	wh := c.Certificates[0].Hooks.OnRenew[0].Webhook
	values := map[string]any{
		"Config": *c, "*Config": c, "ACME": c.ACME, "EAB": *c.ACME.EAB, "*EAB": c.ACME.EAB,
		"Certificate": c.Certificates[0], "Hook": c.Certificates[0].Hooks.OnRenew[0],
		"Webhook": *wh, "*Webhook": wh, "Secret": wh.Secret,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%-8v"} {
			assertHidden(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s): %v", name, err)
		}
		assertHidden(t, "json "+name, string(out))
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatalf("yaml.Marshal(%s): %v", name, err)
		}
		assertHidden(t, "yaml "+name, string(y))
	}
	for _, s := range []string{
		fmt.Sprintf("%v", *c.ACME.EAB), fmt.Sprintf("%+v", *wh), fmt.Sprintf("%#v", *wh),
		fmt.Sprint(wh.Secret), fmt.Sprintf("%s", wh.Secret), wh.Secret.String(),
	} {
		if !strings.Contains(s, RedactedValue) {
			t.Errorf("%q does not say %s", s, RedactedValue)
		}
	}
	if got := fmt.Sprintf("%q|%#v|%x", wh.Secret, wh.Secret, wh.Secret); got != `"REDACTED"|"REDACTED"|REDACTED` {
		t.Errorf("verbs: %s", got)
	}
	if out, _ := json.Marshal(c); !bytes.Contains(out, []byte(`"HMACKey":"REDACTED"`)) || !bytes.Contains(out, []byte(`"Secret":"REDACTED"`)) {
		t.Errorf("json: %s", out)
	}
	// Empty stays empty: "unset" is not shown as set.
	if got := fmt.Sprintf("%v|%q|%#v", Secret(""), Secret(""), Secret("")); got != `|""|""` {
		t.Errorf("empty Secret: %s", got)
	}
	if out, _ := json.Marshal(Secret("")); string(out) != `""` {
		t.Errorf("empty Secret json: %s", out)
	}
}

// TestSecretZap: zap.Any of a Secret, of a Config and of the structs holding secrets logs
// REDACTED, through an observer and through the JSON and console encoders.
func TestSecretZap(t *testing.T) {
	t.Parallel()
	c := secretConfig(t)
	wh := c.Certificates[0].Hooks.OnRenew[0].Webhook
	fields := []zap.Field{
		zap.Any("key", c.ACME.EAB.HMACKey), zap.Any("secret", wh.Secret), zap.Any("config", c),
		zap.Any("eab", c.ACME.EAB), zap.Any("webhook", wh), zap.Reflect("cfg", *c), zap.Stringer("s", wh.Secret),
	}

	core, logs := observer.New(zapcore.DebugLevel)
	zap.New(core).Info("config", fields...)
	entries := logs.AllUntimed()
	if len(entries) != 1 {
		t.Fatalf("%d entries", len(entries))
	}
	m := entries[0].ContextMap()
	if m["key"] != RedactedValue || m["secret"] != RedactedValue || m["s"] != RedactedValue {
		t.Errorf("observer: key=%v secret=%v s=%v", m["key"], m["secret"], m["s"])
	}
	assertHidden(t, "observer", fmt.Sprintf("%+v", m))

	for name, enc := range map[string]zapcore.Encoder{
		"json":    zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		"console": zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
	} {
		var buf bytes.Buffer
		zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)).Info("config", fields...)
		assertHidden(t, name, buf.String())
		if !strings.Contains(buf.String(), `"HMACKey":"REDACTED"`) || !strings.Contains(buf.String(), `"Secret":"REDACTED"`) {
			t.Errorf("%s: %s", name, buf.String())
		}
	}
}

// TestExpandSensitive: expandSensitive's errors never copy the value; expand's quote it.
func TestExpandSensitive(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"A": "alpha"})
	tests := []struct{ in, want string }{
		{"tOpS3cret${A", `unterminated ${...}: missing "}" (value not shown)`},
		{"tOpS3cret${tOp-S3cret}", `${...}: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${") (value not shown)`},
		{"tOpS3cret${U:-${tOpS3cret}}", `${...}: a default cannot contain another ${...} (value not shown)`},
		{"tOpS3cret${UNSET}", "environment variable UNSET is not set (use ${UNSET:-default} to give a default)"},
	}
	for _, tt := range tests {
		if _, err := expandSensitive(tt.in, getenv); err == nil || err.Error() != tt.want || strings.Contains(err.Error(), "S3cret") {
			t.Errorf("expandSensitive(%q) = %v, want %q", tt.in, err, tt.want)
		}
		if _, err := expand(tt.in, getenv); err == nil {
			t.Errorf("expand(%q) accepted it", tt.in)
		}
	}
	if got, err := expandSensitive("x-${A}-${U:-d}", getenv); err != nil || got != "x-alpha-d" {
		t.Errorf("expandSensitive = %q, %v", got, err)
	}
}
