package config

import (
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DNS configures where DNS-01 records are written beyond discovery (dns: in the
// file): hosted zones named explicitly, each with the credentials that may write it.
type DNS struct {
	Zones []DNSZone
}

// DNSZone is one entry of dns.zones: a hosted zone, by name or id (or both), and the
// role that reads and writes it (a zone in another AWS account).
type DNSZone struct {
	// Name is the zone's apex, normalised (lower case, no trailing dot). A name inside
	// it is written to this zone without discovery.
	Name string
	// HostedZoneID pins the zone ("Z..."); with only an id, the entry gives the
	// credentials of certificates pinned to that zone (hosted_zone_id).
	HostedZoneID string
	// AssumeRoleARN is the role assumed for this zone (from aws: credentials);
	// empty: certferry's own credentials.
	AssumeRoleARN string
	ExternalID    string
	// Private: the zone of Name is a private hosted zone.
	Private bool
}

// CertificateDNS is a certificate's dns: mapping.
type CertificateDNS struct {
	// NoFollowCNAME is set by follow_cname: false: the TXT goes to
	// _acme-challenge.<name> itself, never to the end of a CNAME there.
	NoFollowCNAME bool
	// ChallengeAlias, when set, is where every name's TXT goes, with no lookup:
	// _acme-challenge.<alias> (acme.sh's --challenge-alias), or the alias itself when
	// it starts with "_acme-challenge.". Normalised like a domain.
	ChallengeAlias string
	// HostedZoneIDs pins the zone per name (normalised domain -> "Z..."); it wins
	// over the certificate's hosted_zone_id.
	HostedZoneIDs map[string]string
}

// Role is a role to assume, with its external ID.
type Role struct {
	AssumeRoleARN string
	ExternalID    string
}

func (d *decoder) dns(p string, n *yaml.Node) {
	d.object(n, p, "a mapping with zones", []field{
		{"zones", func(p string, n *yaml.Node) {
			d.list(n, p, "a list of hosted zones", func(i int, p string, item *yaml.Node) {
				var z DNSZone
				d.object(item, p, "a mapping (one hosted zone)", []field{
					{"name", d.str(&z.Name)},
					{"hosted_zone_id", d.str(&z.HostedZoneID)},
					{"assume_role_arn", d.str(&z.AssumeRoleARN)},
					{"external_id", d.str(&z.ExternalID)},
					{"private", d.boolean(&z.Private)},
				})
				d.c.DNS.Zones = append(d.c.DNS.Zones, z)
			})
		}},
	})
}

func (d *decoder) role(dst *Role) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		d.object(n, p, "a mapping with assume_role_arn and external_id", []field{
			{"assume_role_arn", d.str(&dst.AssumeRoleARN)},
			{"external_id", d.str(&dst.ExternalID)},
		})
	}
}

func (d *decoder) certDNS(c *Certificate) func(string, *yaml.Node) {
	return func(p string, n *yaml.Node) {
		follow := true
		d.object(n, p, "a mapping with follow_cname, challenge_alias and hosted_zone_ids", []field{
			{"follow_cname", d.boolean(&follow)},
			{"challenge_alias", d.str(&c.DNS.ChallengeAlias)},
			{"hosted_zone_ids", func(p string, n *yaml.Node) {
				n = d.node(n)
				if isNull(n) {
					return
				}
				if n.Kind != yaml.MappingNode {
					d.problem(p, n.Line, "expected a mapping of name: hosted zone ID, got %s", describe(n))
					return
				}
				c.DNS.HostedZoneIDs = map[string]string{}
				for i := 0; i+1 < len(n.Content); i += 2 {
					name, id := "", ""
					kp := child(p, d.node(n.Content[i]).Value)
					d.str(&name)(kp, n.Content[i])
					d.str(&id)(kp, n.Content[i+1])
					if _, dup := c.DNS.HostedZoneIDs[name]; dup {
						d.problem(kp, n.Content[i].Line, "duplicate name")
						continue
					}
					d.lines[kp] = n.Content[i].Line
					c.DNS.HostedZoneIDs[name] = id
				}
			}},
		})
		c.DNS.NoFollowCNAME = !follow
	}
}

// checkRole checks an assume_role_arn and its external_id at path.
func (k *checker) checkRole(path string, r Role) {
	if r.AssumeRoleARN != "" && !roleARNRE.MatchString(r.AssumeRoleARN) {
		k.addf(path+".assume_role_arn", "%q: write arn:aws:iam::<12-digit account>:role/<name>", r.AssumeRoleARN)
	}
	switch {
	case r.ExternalID != "" && r.AssumeRoleARN == "":
		k.addf(path+".external_id", "only used with assume_role_arn: set that too, or drop this")
	case r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !externalIDRE.MatchString(r.ExternalID)):
		k.addf(path+".external_id", "an external ID is 2 to 1224 of letters, digits and +=,.@:/-_")
	}
}

// checkZoneID normalises a hosted zone id at path and checks its form.
func (k *checker) checkZoneID(path string, id *string) {
	if *id == "" {
		return
	}
	bare := strings.TrimPrefix(strings.TrimSpace(*id), "/hostedzone/")
	k.normal(path, id, bare)
	if !zoneIDRE.MatchString(bare) {
		k.addf(path, "%q: a hosted zone ID is \"Z\" followed by uppercase letters and digits", *id)
	}
}

func (k *checker) dnsZones() {
	names, ids := map[string]int{}, map[string]int{}
	for i := range k.c.DNS.Zones {
		z := &k.c.DNS.Zones[i]
		p := index("dns.zones", i)
		if z.Name == "" && z.HostedZoneID == "" {
			k.addf(p, "set name, hosted_zone_id, or both")
		}
		if z.Name != "" {
			n, err := NormalizeDomain(z.Name)
			switch {
			case err != nil:
				k.addf(p+".name", "%q: %v", z.Name, err)
			case strings.HasPrefix(n, "*."):
				k.addf(p+".name", "%q: a zone name has no wildcard", z.Name)
			default:
				k.normal(p+".name", &z.Name, n)
				key := n
				if z.Private {
					key += " (private)"
				}
				if j, dup := names[key]; dup {
					k.addf(p+".name", "%q is already %s", n, k.at(index("dns.zones", j)))
				}
				names[key] = i
			}
		}
		k.checkZoneID(p+".hosted_zone_id", &z.HostedZoneID)
		if z.HostedZoneID != "" {
			if j, dup := ids[z.HostedZoneID]; dup {
				k.addf(p+".hosted_zone_id", "%q is already %s", z.HostedZoneID, k.at(index("dns.zones", j)))
			}
			ids[z.HostedZoneID] = i
		}
		k.checkRole(p, Role{AssumeRoleARN: z.AssumeRoleARN, ExternalID: z.ExternalID})
	}
}

func (k *checker) certDNS(p string, cert *Certificate) {
	if a := cert.DNS.ChallengeAlias; a != "" {
		n, err := NormalizeDomain(a)
		switch {
		case err != nil:
			k.addf(p+".dns.challenge_alias", "%q: %v", a, err)
		case strings.HasPrefix(n, "*."):
			k.addf(p+".dns.challenge_alias", "%q: an alias has no wildcard", a)
		default:
			k.normal(p+".dns.challenge_alias", &cert.DNS.ChallengeAlias, n)
		}
		if cert.DNS.NoFollowCNAME {
			k.warnf(p+".dns.follow_cname", "no effect with dns.challenge_alias, which never looks CNAMEs up")
		}
	}
	if len(cert.DNS.HostedZoneIDs) == 0 {
		return
	}
	out := make(map[string]string, len(cert.DNS.HostedZoneIDs))
	names := make([]string, 0, len(cert.DNS.HostedZoneIDs))
	for name := range cert.DNS.HostedZoneIDs {
		names = append(names, name)
	}
	sort.Strings(names) // problems in a stable order
	for _, name := range names {
		id := cert.DNS.HostedZoneIDs[name]
		path := p + ".dns.hosted_zone_ids." + name
		n, err := NormalizeDomain(name)
		if err != nil {
			k.addf(path, "%q: %v", name, err)
			continue
		}
		n = strings.TrimPrefix(n, "*.") // a wildcard validates at its base name
		k.checkZoneID(path, &id)
		found := false
		for _, d := range cert.Domains {
			if strings.TrimPrefix(d, "*.") == n {
				found = true
			}
		}
		if !found {
			k.addf(path, "%q is not one of the certificate's domains", name)
		}
		if prev, dup := out[n]; dup && prev != id {
			// A wildcard validates at its base name: one record, one zone.
			k.addf(path, "%q names another zone (%s) than the other name of _acme-challenge.%s (%s)", name, id, n, prev)
		}
		out[n] = id
	}
	cert.DNS.HostedZoneIDs = out
}

// followsCNAMEs reports whether some certificate looks CNAMEs up (in DNS, with
// route53.resolvers, when its zone is not one certferry reads).
func (k *checker) followsCNAMEs() bool {
	for _, c := range k.c.Certificates {
		if !c.DNS.NoFollowCNAME && c.DNS.ChallengeAlias == "" {
			return true
		}
	}
	return false
}
