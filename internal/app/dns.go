package app

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
)

// roles hands out AWS configurations on assumed roles, one per (role, external ID):
// each role is assumed once and its credentials cached until shortly before they
// expire (aws.CredentialsCache), however many zones or services use it.
type roles struct {
	base aws.Config
	sts  *sts.Client
	m    map[config.Role]aws.Config
}

func newRoles(base aws.Config) *roles {
	return &roles{base: base, sts: sts.NewFromConfig(base), m: map[config.Role]aws.Config{}}
}

// config returns base with the role's credentials (base itself for no role).
func (r *roles) config(role config.Role) aws.Config {
	if role.AssumeRoleARN == "" {
		return r.base
	}
	if c, ok := r.m[role]; ok {
		return c
	}
	c := r.base.Copy()
	c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(r.sts, role.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "certferry"
		if role.ExternalID != "" {
			o.ExternalID = aws.String(role.ExternalID)
		}
	}))
	r.m[role] = c
	return c
}

// dnsZones turns dns.zones into the provider's zones, each with a Route 53 client on
// its role (one client per role).
func dnsZones(zs []config.DNSZone, r *roles, def *awsroute53.Client) []route53.Zone {
	clients := map[config.Role]*awsroute53.Client{}
	var out []route53.Zone
	for _, z := range zs {
		role := config.Role{AssumeRoleARN: z.AssumeRoleARN, ExternalID: z.ExternalID}
		var api route53.API = def
		if role.AssumeRoleARN != "" {
			c := clients[role]
			if c == nil {
				c = awsroute53.NewFromConfig(r.config(role))
				clients[role] = c
			}
			api = c
		}
		out = append(out, route53.Zone{Name: z.Name, ID: z.HostedZoneID, Private: z.Private, API: api, Role: z.AssumeRoleARN})
	}
	return out
}

// certDNS is what the pass needs of a certificate's dns settings.
func certDNS(c config.Certificate) renew.Route {
	return renew.Route{NoFollow: c.DNS.NoFollowCNAME, Alias: c.DNS.ChallengeAlias, ZoneIDs: c.DNS.HostedZoneIDs}
}

// RenewDNS is p as the DNS of a pass (renew.DNS, whose types are renew's own).
func RenewDNS(p *route53.Provider) renew.DNS { return renewDNS{p} }

type renewDNS struct{ p *route53.Provider }

var _ renew.DNS = renewDNS{}

func (d renewDNS) Resolve(ctx context.Context, recs []renew.Record) []error {
	return d.p.Resolve(ctx, Route53Records(recs))
}

func (d renewDNS) Present(ctx context.Context, recs []renew.Record) []error {
	return d.p.Present(ctx, Route53Records(recs))
}

func (d renewDNS) CleanUp(ctx context.Context, recs []renew.Record) []error {
	return d.p.CleanUp(ctx, Route53Records(recs))
}

// Route53Records are renew's records as providers/route53 writes them: each sent where
// its certificate's dns: keys say (route53.CertDNS).
func Route53Records(recs []renew.Record) []route53.Record {
	out := make([]route53.Record, len(recs))
	for i, r := range recs {
		c := route53.CertDNS(r.Route)
		if r.Persist != nil {
			out[i] = c.PersistRecord(r.FQDN, r.Value, r.ZoneID, r.Persist)
		} else {
			out[i] = c.Record(r.FQDN, r.Value, r.ZoneID)
		}
	}
	return out
}
