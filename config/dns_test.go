package config

import (
	"maps"
	"strings"
	"testing"
)

const dnsHead = `acme:
  email: ops@example-corp.net
`

const dnsCert = `certificates:
  - name: www
    domains: [www.example.org, "*.example.org"]
    sinks:
      secretsmanager: { secret: certs/www }
`

func TestDNSKeys(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(dnsHead+`aws:
  secretsmanager: { assume_role_arn: "arn:aws:iam::111111111111:role/secrets", external_id: ext-1 }
dns:
  zones:
    - { name: Example.NET, assume_role_arn: "arn:aws:iam::210987654321:role/dns", external_id: certferry }
    - { hosted_zone_id: /hostedzone/Z2ABC }
    - { name: corp.example.net, private: true }
certificates:
  - name: www
    domains: [www.example.org, "*.example.org"]
    dns:
      follow_cname: false
      hosted_zone_ids: { "*.example.org": Z9XYZ }
    sinks:
      secretsmanager: { secret: certs/www }
  - name: api
    domains: [api.example.org]
    dns: { challenge_alias: ACME.example.net }
    sinks:
      secretsmanager: { secret: certs/api }
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []DNSZone{
		{Name: "example.net", AssumeRoleARN: "arn:aws:iam::210987654321:role/dns", ExternalID: "certferry"},
		{HostedZoneID: "Z2ABC"},
		{Name: "corp.example.net", Private: true},
	}
	if len(c.DNS.Zones) != len(want) {
		t.Fatalf("zones %+v", c.DNS.Zones)
	}
	for i := range want {
		if c.DNS.Zones[i] != want[i] {
			t.Errorf("zone %d = %+v, want %+v", i, c.DNS.Zones[i], want[i])
		}
	}
	if c.AWS.SecretsManager != (Role{AssumeRoleARN: "arn:aws:iam::111111111111:role/secrets", ExternalID: "ext-1"}) {
		t.Errorf("secretsmanager role %+v", c.AWS.SecretsManager)
	}
	www, api := c.Certificate("www").DNS, c.Certificate("api").DNS
	if !www.NoFollowCNAME || !maps.Equal(www.HostedZoneIDs, map[string]string{"example.org": "Z9XYZ"}) {
		t.Errorf("www dns %+v", www)
	}
	if api.NoFollowCNAME || api.ChallengeAlias != "acme.example.net" {
		t.Errorf("api dns %+v", api)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestDNSKeysBad(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"zone without name or id", "dns:\n  zones:\n    - { private: true }\n" + dnsCert,
			"line 5: dns.zones[0]: set name, hosted_zone_id, or both"},
		{"bad role", "dns:\n  zones:\n    - { name: example.net, assume_role_arn: role/dns, external_id: x }\n" + dnsCert,
			`line 5: dns.zones[0].assume_role_arn: "role/dns": write arn:aws:iam::<12-digit account>:role/<name>` + "\n" +
				"line 5: dns.zones[0].external_id: an external ID is 2 to 1224 of letters, digits and +=,.@:/-_"},
		{"external id alone", "dns:\n  zones:\n    - { name: example.net, external_id: abc }\n" + dnsCert,
			"line 5: dns.zones[0].external_id: only used with assume_role_arn: set that too, or drop this"},
		{"duplicate zone", "dns:\n  zones:\n    - { name: example.net }\n    - { name: EXAMPLE.net }\n" + dnsCert,
			`line 6: dns.zones[1].name: "example.net" is already dns.zones[0] (line 5)`},
		{"bad zone id", "dns:\n  zones:\n    - { hosted_zone_id: z-lower }\n" + dnsCert,
			`line 5: dns.zones[0].hosted_zone_id: "z-lower": a hosted zone ID is "Z" followed by uppercase letters and digits`},
		{"wildcard zone", "dns:\n  zones:\n    - { name: \"*.example.net\" }\n" + dnsCert,
			`line 5: dns.zones[0].name: "*.example.net": a zone name has no wildcard`},
		{"secretsmanager role", "aws:\n  secretsmanager: { external_id: abc }\n" + dnsCert,
			"line 4: aws.secretsmanager.external_id: only used with assume_role_arn: set that too, or drop this"},
		{"pin of another name", dnsCert + "    dns: { hosted_zone_ids: { api.example.org: Z1 } }\n",
			`line 8: certificates[0].dns.hosted_zone_ids.api.example.org: "api.example.org" is not one of the certificate's domains`},
		{"wildcard and base pinned apart", strings.Replace(dnsCert, "www.example.org, ", "example.org, ", 1) + "    dns: { hosted_zone_ids: { \"*.example.org\": Z1, example.org: Z2 } }\n",
			`line 8: certificates[0].dns.hosted_zone_ids.example.org: "example.org" names another zone (Z2) than the other name of _acme-challenge.example.org (Z1)`},
		{"alias wildcard", dnsCert + "    dns: { challenge_alias: \"*.example.net\" }\n",
			`line 8: certificates[0].dns.challenge_alias: "*.example.net": an alias has no wildcard`},
		{"unknown key", dnsCert + "    dns: { follow_cnames: false }\n",
			`line 8: certificates[0].dns.follow_cnames: unknown key "follow_cnames" (did you mean "follow_cname"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(dnsHead+tt.yaml), env(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := strings.TrimSpace(err.Error()); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
