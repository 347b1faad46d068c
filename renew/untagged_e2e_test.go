package renew_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestE2ETagsRemoved: a certificate's secret whose certferry tags were all removed (by
// hand, or by a tool that manages the secret's tags) is not in the inventory, which lists
// the secrets tagged certferry:name. Planned as missing, every pass ordered a certificate
// that the store then dropped as equivalent to the stored one (a duplicate at the CA each
// time) and wrote no tags back. Its value decides instead, and its tags are rewritten.
func TestE2ETagsRemoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tg := range out.Tags {
		keys = append(keys, aws.ToString(tg.Key))
	}
	if _, err := e.SM.UntagResource(t.Context(), &awssm.UntagResourceInput{SecretId: aws.String("certferry/web"), TagKeys: keys}); err != nil {
		t.Fatal(err)
	}
	e.SB.Calls().Reset()
	r := wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
	if r.Condition != renew.ConditionReady {
		t.Errorf("condition %s", r.Condition)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders for a certificate the secret holds", n)
	}
	out, err = e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err != nil {
		t.Fatal(err)
	}
	named := false
	for _, tg := range out.Tags {
		named = named || aws.ToString(tg.Key) == "certferry:name" && aws.ToString(tg.Value) == "web"
	}
	if !named {
		t.Errorf("tags not rewritten: %v", out.Tags)
	}
	e.SB.Calls().Reset()
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
	if got := smCalls(e.SB.Calls()); len(got) != 1 || got["ListSecrets"] != 1 {
		t.Errorf("the pass after: Secrets Manager calls %v, want one ListSecrets", got)
	}
}
