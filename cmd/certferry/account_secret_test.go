package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestCLIRetireNeverTakesAnAccountForACertificate: a certferry:name tag added by hand (or
// by a tagging policy) to an ACME account's secret puts it in the inventory. It must
// still never be listed as an orphan, revoked or retired: `retire --delete-secret`
// scheduled the account's deletion. Checked for the configured account secret without
// its kind tag, and for another configuration's account secret (kind tag only).
func TestCLIRetireNeverTakesAnAccountForACertificate(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, lifecycleConfig)
	if err := os.MkdirAll(filepath.Join(e.Dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.mustRenew(t)
	tag := func(secret string, tags ...string) {
		t.Helper()
		var ts []smtypes.Tag
		for i := 0; i < len(tags); i += 2 {
			ts = append(ts, smtypes.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
		}
		if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String(secret), Tags: ts}); err != nil {
			t.Fatal(err)
		}
	}
	// The configured account secret: its kind tag removed, a certificate name added.
	tag("certferry/acme-account", smsink.TagName, "acct")
	if _, err := e.SM.UntagResource(t.Context(), &awssm.UntagResourceInput{SecretId: aws.String("certferry/acme-account"), TagKeys: []string{smsink.TagKind}}); err != nil {
		t.Fatal(err)
	}
	// Another configuration's account secret.
	if _, err := e.SM.CreateSecret(t.Context(), &awssm.CreateSecretInput{Name: aws.String("certferry/other-account"), SecretString: aws.String(`{"accounts":[]}`)}); err != nil {
		t.Fatal(err)
	}
	tag("certferry/other-account", smsink.TagKind, "acme-account", smsink.TagName, "other")

	if o := e.orphans(t); len(o) != 0 {
		t.Errorf("orphans = %+v, want none (account secrets are not certificates)", o)
	}
	for _, args := range [][]string{
		{"retire", "acct", "--delete-secret"},
		{"retire", "certferry/acme-account", "--delete-secret"},
		{"retire", "other", "--delete-secret", "--recovery-window", "7d"},
		{"retire", "certferry/other-account"},
		{"revoke", "acct"},
	} {
		code, _, errOut := cli(t, append(args, "--config", e.cfg)...)
		if code != exitFailed || !strings.Contains(errOut, "is left alone") {
			t.Errorf("%q: exit %d, want %d and a refusal: %s", args, code, exitFailed, errOut)
		}
	}
	for _, secret := range []string{"certferry/acme-account", "certferry/other-account"} {
		d, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(secret)})
		if err != nil || d.DeletedDate != nil {
			t.Errorf("%s: deletion scheduled (%v) or gone: %v", secret, d.DeletedDate, err)
		}
		if tags := e.tags(t, secret); tags["certferry:retired"] != "" {
			t.Errorf("%s tagged retired: %v", secret, tags)
		}
	}
	// The account still works.
	e.mustRenew(t, "--force")
}
