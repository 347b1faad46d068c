package sandbox_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/certferry/certferry/internal/sandbox"
)

// TestAccountsAndAssumeRole: a zone of another account is invisible to the default
// credentials (not listed, AccessDenied on its records and changes) and readable and
// writable through the account's role; a wrong external ID is AccessDenied.
func TestAccountsAndAssumeRole(t *testing.T) {
	t.Parallel()
	other := sandbox.Account{ID: "210987654321", Zones: []string{"example.org"}, ExternalID: "certferry-test"}
	sb := start(t, sandbox.Options{Zones: []string{"example.com"}, Accounts: []sandbox.Account{other}})
	ctx := t.Context()
	info := sb.Info()
	orgID := info.Zones["example.org."]
	if orgID == "" || len(info.Accounts) != 1 || info.Accounts[0].RoleARN != "arn:aws:iam::210987654321:role/certferry-dns" {
		t.Fatalf("info: zones %v accounts %+v", info.Zones, info.Accounts)
	}
	base := sb.AWSConfig(ctx)
	home := route53.NewFromConfig(base)

	zones, err := home.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(zones.HostedZones) != 1 || aws.ToString(zones.HostedZones[0].Name) != "example.com." {
		t.Errorf("home account lists %d zones, want example.com only", len(zones.HostedZones))
	}
	_, err = home.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(orgID)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "hostedzone/"+orgID) {
		t.Fatalf("home account reading example.org: %v, want AccessDenied naming the zone", err)
	}

	assumed := func(externalID string) *route53.Client {
		cfg := base.Copy()
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), other.RoleARN(),
			func(o *stscreds.AssumeRoleOptions) { o.ExternalID = aws.String(externalID) }))
		return route53.NewFromConfig(cfg)
	}
	_, err = assumed("wrong").ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("wrong external ID: %v, want AccessDenied", err)
	}

	c := assumed(other.ExternalID)
	zones, err = c.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil || len(zones.HostedZones) != 1 || aws.ToString(zones.HostedZones[0].Name) != "example.org." {
		t.Fatalf("role lists %v, %v; want example.org only", zones, err)
	}
	ch, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(orgID),
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String("_acme-challenge.example.org"), Type: types.RRTypeTxt, TTL: aws.Int64(60),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String(`"v"`)}}}}}}})
	if err != nil {
		t.Fatalf("role writing example.org: %v", err)
	}
	if _, err := c.GetChange(ctx, &route53.GetChangeInput{Id: ch.ChangeInfo.Id}); err != nil {
		t.Errorf("role GetChange: %v", err)
	}
	if _, err := home.GetChange(ctx, &route53.GetChangeInput{Id: ch.ChangeInfo.Id}); err == nil {
		t.Error("the home account sees another account's change")
	}
	if n := sb.Route53().Changes(orgID); n != 1 {
		t.Errorf("example.org accepted %d changes, want 1", n)
	}

	out, err := sts.NewFromConfig(base).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(other.RoleARN()),
		RoleSessionName: aws.String("t"), ExternalId: aws.String(other.ExternalID)})
	if err != nil {
		t.Fatal(err)
	}
	if exp := aws.ToTime(out.Credentials.Expiration); exp.Before(time.Now().Add(50*time.Minute)) || !strings.HasPrefix(aws.ToString(out.Credentials.AccessKeyId), "ASIA") {
		t.Errorf("credentials %+v", out.Credentials)
	}
	if got, ok := sb.STS().AccountOf(aws.ToString(out.Credentials.AccessKeyId)); !ok || got != other.ID {
		t.Errorf("AccountOf = %q, %v", got, ok)
	}
	id, err := sts.NewFromConfig(base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != sandbox.AccountID {
		t.Errorf("GetCallerIdentity = %v, %v", id, err)
	}
}

// TestStartCNAMEs: Options.CNAMEs land in the zone holding each name, whichever account
// owns it; a name in no zone, or at an apex, fails the start.
func TestStartCNAMEs(t *testing.T) {
	t.Parallel()
	sb := start(t, sandbox.Options{Zones: []string{"example.org"}, Accounts: []sandbox.Account{{ID: "210987654321", Zones: []string{"example.com"}}},
		CNAMEs: map[string]string{"_acme-challenge.www.example.com": "_acme-challenge.www.example.com.example.org"}})
	found := false
	for _, rs := range sb.Route53().Records(sb.Info().Zones["example.com."]) {
		if rs.Type == "CNAME" && rs.Name == "_acme-challenge.www.example.com." && rs.Values[0] == "_acme-challenge.www.example.com.example.org." {
			found = true
		}
	}
	if !found {
		t.Error("the CNAME is not in example.com")
	}
	for _, bad := range []map[string]string{{"www.example.net": "x.example.org"}, {"example.org": "x.example.org"}} {
		if _, err := sandbox.Start(t.Context(), sandbox.Options{Zones: []string{"example.org"}, CNAMEs: bad}); err == nil {
			t.Errorf("Start accepted CNAMEs %v", bad)
		}
	}
}
