package faults_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// setTag writes one tag on a secret, as a hand edit in the console would.
func (e *env) setTag(t *testing.T, secret, key, value string) {
	t.Helper()
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String(secret),
		Tags: []smtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}}); err != nil {
		t.Fatal(err)
	}
}

// TestTagsThatLie: the tags are a cache of the secret's value, never the truth. A
// not-after edited by hand (to 2020, or to 2099) no longer matches the certferry:sum that
// binds the tags to their version: the pass reads the value, decides from it (nothing due,
// the real expiry reported) and rewrites the tags from it.
func TestTagsThatLie(t *testing.T) {
	t.Parallel()
	for _, lie := range []string{"2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"} {
		t.Run(lie[:4], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			a := e.App(t, e.Config(t, webCert))
			e.Pass(t, a, renew.Options{})
			real := e.Stored(t, "certferry/web", "AWSCURRENT")
			e.setTag(t, "certferry/web", smsink.TagNotAfter, lie)
			orders := e.orders()
			sum := e.Pass(t, a, renew.Options{})
			r := result(t, sum, "web")
			if r.Reason != scheduler.ReasonNotDue || r.NotAfter.Format(time.RFC3339) != real.Leaf.NotAfter.UTC().Format(time.RFC3339) || e.orders() != orders {
				t.Fatalf("tag %s: %+v, %d orders", lie, r, e.orders()-orders)
			}
			inv, err := smsink.New(e.SM, nil, smsink.Options{}).Inventory(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if st := inv["certferry/web"]; !st.TagsCurrent || st.NotAfter.Format(time.RFC3339) == lie {
				t.Errorf("the tags were not rewritten from the value: %+v", st)
			}
		})
	}
}

// TestStalePendingNeverShortens: a version still labelled CERTFERRY_PENDING that expires
// earlier than AWSCURRENT is never promoted over it, even when AWSCURRENT's not-after
// tag was edited to say it expires first.
func TestStalePendingNeverShortens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	// A 6-day certificate, then (a deliberate profile change) a 90-day one.
	e.Pass(t, e.App(t, e.Config(t, strings.Replace(webCert, "profile: default", "profile: shortlived", 1))), renew.Options{})
	old, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web")})
	if err != nil {
		t.Fatal(err)
	}
	a := e.App(t, e.Config(t, webCert))
	if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Reason != scheduler.ReasonProfileChanged || r.Err() != nil {
		t.Fatalf("profile change: %+v", r)
	}
	current := e.Stored(t, "certferry/web", "AWSCURRENT")
	// The older certificate, written again as an interrupted write.
	if _, err := e.SM.PutSecretValue(t.Context(), &awssm.PutSecretValueInput{SecretId: aws.String("certferry/web"),
		SecretString: old.SecretString, ClientRequestToken: aws.String("stale-pending-version-0000000000000000"),
		VersionStages: []string{smsink.StagePending}}); err != nil {
		t.Fatal(err)
	}
	e.setTag(t, "certferry/web", smsink.TagNotAfter, "2020-01-01T00:00:00Z")
	e.Pass(t, a, renew.Options{})
	if now := e.Stored(t, "certferry/web", "AWSCURRENT"); now.Serial != current.Serial {
		t.Fatalf("AWSCURRENT moved from %s to %s: a shorter certificate was promoted", current.Serial, now.Serial)
	}
}
