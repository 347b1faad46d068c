package hooks_test

import (
	"slices"
	"testing"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// TestPassThroughEnv: only the allowlisted variables of the process environment reach a hook,
// after the fixed PATH; credentials, the process's PATH and look-alikes stay out.
func TestPassThroughEnv(t *testing.T) {
	t.Parallel()
	environ := []string{
		"PATH=/home/op/bin:/usr/bin", // not passed: hooks get the fixed PATH
		"AWS_REGION=eu-west-3",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=must-not-leak",
		"AWS_SESSION_TOKEN=must-not-leak",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_PROFILE=certs",
		"AWS_CONFIG_FILE=/etc/certferry/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/etc/certferry/aws-credentials",
		"AWS_ENDPOINT_URL=http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:4567",
		"AWS_ENDPOINT_URL_=bare prefix",
		"AWS_ENDPOINT_URLX=look-alike",
		"AWS_CA_BUNDLE=/etc/certferry/ca.pem",
		"TZ=Europe/Paris",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"LC_=bare prefix",
		"LANGUAGE=fr",
		"HOOK_SECRET=must-not-leak",
		"CERTFERRY_CONFIG=/etc/certferry/config.yaml",
		"HOME=/root",
		"malformed",
	}
	want := []string{
		hooks.DefaultBaseEnv[0],
		"AWS_REGION=eu-west-3",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_PROFILE=certs",
		"AWS_CONFIG_FILE=/etc/certferry/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/etc/certferry/aws-credentials",
		"AWS_ENDPOINT_URL=http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:4567",
		"AWS_CA_BUNDLE=/etc/certferry/ca.pem",
		"TZ=Europe/Paris",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
	}
	if got := hooks.PassThroughEnv(environ); !slices.Equal(got, want) {
		t.Errorf("PassThroughEnv:\n got %q\nwant %q", got, want)
	}
	if got := hooks.PassThroughEnv(nil); !slices.Equal(got, hooks.DefaultBaseEnv) {
		t.Errorf("PassThroughEnv(nil) = %q, want %q", got, hooks.DefaultBaseEnv)
	}
}

// TestExecEnvMap: a hook's env map adds variables (sorted) and replaces a base variable in
// place; every name appears once, and the CERTFERRY_* variables come last. The hook really
// runs with it (/usr/bin/env prints it).
func TestExecEnvMap(t *testing.T) {
	t.Parallel()
	base := []string{"PATH=/usr/bin:/bin", "AWS_REGION=eu-west-3", "TZ=UTC"}
	h := config.Hook{
		Exec:    []string{"/usr/bin/env"},
		Timeout: quick,
		Env:     map[string]config.Secret{"TOKEN": "t0ken", "AWS_REGION": "us-east-1", "A_FIRST": "", "PATH": "/opt/bin:/usr/bin"},
	}
	log, logs := observed()
	hk := one(t, h, hooks.Deps{Logger: log, BaseEnv: base})
	if err := hk.Run(t.Context(), event); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"PATH=/opt/bin:/usr/bin",
		"AWS_REGION=us-east-1",
		"TZ=UTC",
		"A_FIRST=",
		"TOKEN=t0ken",
		"CERTFERRY_NAME=example",
		"CERTFERRY_DOMAINS=www.example.com,example.com",
		"CERTFERRY_SECRET_ARN=" + event.SecretARN,
		"CERTFERRY_VERSION_ID=" + event.VersionID,
		"CERTFERRY_NOT_AFTER=2026-06-01T11:00:00Z",
		"CERTFERRY_EVENT=renew",
	}
	if got := outputLines(logs, "stdout"); !slices.Equal(got, want) {
		t.Errorf("environment:\n got %q\nwant %q", got, want)
	}
	// The base slice the caller passed is not modified.
	if !slices.Equal(base, []string{"PATH=/usr/bin:/bin", "AWS_REGION=eu-west-3", "TZ=UTC"}) {
		t.Errorf("base environment modified: %q", base)
	}
	// Another hook with the same deps and no env map gets the base unchanged.
	plain := one(t, config.Hook{Exec: []string{"/usr/bin/env"}, Timeout: quick}, hooks.Deps{BaseEnv: base})
	if got := plain.(*hooks.Exec).Env(event)[:3]; !slices.Equal(got, base) {
		t.Errorf("hook without env: %q", got)
	}
}
