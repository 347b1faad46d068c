package route53

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go"
)

// Zone is a hosted zone the operator named (dns.zones), typically in another AWS
// account: which zone, and the client that may read and write it.
type Zone struct {
	// Name is the zone's apex ("example.org"). A name inside it goes to this zone
	// (the longest such configured zone) without discovery. Empty: the zone only
	// serves records pinned to ID.
	Name string
	// ID pins the hosted zone; empty: the zone named Name is found by listing the
	// hosted zones through API (once).
	ID string
	// Private lets that listing pick a private zone of the name.
	Private bool
	// API reads and writes the zone (a client on a role of the zone's account); nil
	// is the provider's own client.
	API API
	// Role is the role API assumes, for messages; empty when API is the provider's.
	Role string
}

// router is the provider's API: each call goes to the client of its zone (a
// configured zone's, else the default one). GetChange names no zone: it goes to the
// client that made the change, remembered from ChangeResourceRecordSets.
type router struct {
	def API

	mu      sync.Mutex
	byZone  map[string]routed
	changes map[string]changeOwner // change id -> the client that made it
}

type routed struct {
	api  API
	role string
	name string // zone name, canonical, when known
}

type changeOwner struct {
	api API
	at  time.Time
}

// changeKeep bounds how long a change's client is remembered (INSYNC waits are far
// shorter; a wait cut short never forgets it otherwise).
const changeKeep = time.Hour

var _ API = (*router)(nil)

func newRouter(def API) *router {
	return &router{def: def, byZone: map[string]routed{}, changes: map[string]changeOwner{}}
}

// set routes a zone to api (nil: the default client).
func (r *router) set(zoneID, name string, api API, role string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byZone[bareZoneID(zoneID)] = routed{api: api, role: role, name: name}
}

func (r *router) zone(id string) routed {
	r.mu.Lock()
	defer r.mu.Unlock()
	z, ok := r.byZone[bareZoneID(id)]
	if !ok || z.api == nil {
		z.api = r.def
	}
	return z
}

func (r *router) ListHostedZones(ctx context.Context, in *route53.ListHostedZonesInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesOutput, error) {
	return r.def.ListHostedZones(ctx, in, optFns...)
}

func (r *router) ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	id := deref(in.HostedZoneId)
	z := r.zone(id)
	out, err := z.api.ListResourceRecordSets(ctx, in, optFns...)
	return out, z.denied(id, err)
}

func (r *router) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	id := deref(in.HostedZoneId)
	z := r.zone(id)
	out, err := z.api.ChangeResourceRecordSets(ctx, in, optFns...)
	if err == nil && out != nil && out.ChangeInfo != nil {
		now := time.Now()
		r.mu.Lock()
		for k, c := range r.changes {
			if now.Sub(c.at) > changeKeep {
				delete(r.changes, k)
			}
		}
		r.changes[strings.TrimPrefix(deref(out.ChangeInfo.Id), "/change/")] = changeOwner{api: z.api, at: now}
		r.mu.Unlock()
	}
	return out, z.denied(id, err)
}

func (r *router) GetHostedZone(ctx context.Context, in *route53.GetHostedZoneInput, optFns ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error) {
	id := deref(in.Id)
	z := r.zone(id)
	out, err := z.api.GetHostedZone(ctx, in, optFns...)
	return out, z.denied(id, err)
}

func (r *router) GetChange(ctx context.Context, in *route53.GetChangeInput, optFns ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	id := strings.TrimPrefix(deref(in.Id), "/change/")
	r.mu.Lock()
	c, ok := r.changes[id]
	r.mu.Unlock()
	api := r.def
	if ok {
		api = c.api
	}
	out, err := api.GetChange(ctx, in, optFns...)
	if err == nil && out != nil && out.ChangeInfo != nil && out.ChangeInfo.Status == "INSYNC" {
		r.mu.Lock()
		delete(r.changes, id)
		r.mu.Unlock()
	}
	return out, err
}

// ZoneAccessError is the error of a call a hosted zone refused (AccessDenied): the
// zone is in another account, or the policy does not allow it. It says which
// credentials were used and what to configure.
type ZoneAccessError struct {
	ZoneID string
	Zone   string // name, when known
	Role   string // the role used; empty: certferry's own credentials
	Err    error
}

func (e *ZoneAccessError) Error() string {
	zone := e.ZoneID
	if e.Zone != "" {
		zone = e.ZoneID + " (" + displayName(e.Zone) + ")"
	}
	if e.Role != "" {
		return fmt.Sprintf("hosted zone %s refused role %s: %v: the role must be in the zone's account and allow route53:ListResourceRecordSets, GetHostedZone, ChangeResourceRecordSets and GetChange on it (see docs/dns.md)", zone, e.Role, e.Err)
	}
	return fmt.Sprintf("hosted zone %s refused certferry's credentials: %v: if the zone is in another AWS account, add it to dns.zones with the assume_role_arn of a role in that account (hosted_zone_id: %s, assume_role_arn: arn:aws:iam::<zone's account>:role/<name>); see docs/dns.md", zone, e.Err, e.ZoneID)
}

func (e *ZoneAccessError) Unwrap() error { return e.Err }

// denied wraps an AccessDenied answer of the zone in a ZoneAccessError.
func (z routed) denied(zoneID string, err error) error {
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException":
		return &ZoneAccessError{ZoneID: bareZoneID(zoneID), Zone: z.name, Role: z.role, Err: err}
	}
	return err
}

// configured holds Options.Zones and the ids learnt for those given by name.
type configured struct {
	router *router

	mu    sync.Mutex
	zones []*confZone
}

type confZone struct {
	Zone
	name string // canonical
	id   string // bare; learnt by listing when not configured
}

func newConfigured(zs []Zone, r *router) *configured {
	c := &configured{router: r}
	for _, z := range zs {
		cz := &confZone{Zone: z, id: bareZoneID(z.ID)}
		if strings.TrimSpace(z.Name) != "" {
			cz.name = canonicalName(z.Name)
		}
		if cz.id != "" {
			r.set(cz.id, cz.name, z.API, z.Role)
		}
		c.zones = append(c.zones, cz)
	}
	return c
}

// find returns the configured zone of fqdn (the longest name that contains it),
// listing the hosted zones through its client once if its id is not configured.
// ok is false when no configured zone contains fqdn.
func (c *configured) find(ctx context.Context, p *Provider, fqdn string) (z zone, ok bool, err error) {
	var best *confZone
	for _, cz := range c.zones {
		if cz.name != "" && inZone(fqdn, cz.name) && (best == nil || len(cz.name) > len(best.name)) {
			best = cz
		}
	}
	if best == nil {
		return zone{}, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if best.id == "" {
		api := best.API
		if api == nil {
			api = c.router.def
		}
		id, err := p.listZoneNamed(ctx, api, best.name, best.Private)
		if err != nil {
			via := "certferry's credentials"
			if best.Role != "" {
				via = "role " + best.Role
			}
			return zone{}, true, fmt.Errorf("dns.zones %s: find the hosted zone through %s: %w", displayName(best.name), via, err)
		}
		best.id = id
		c.router.set(id, best.name, best.API, best.Role)
	}
	return zone{id: best.id, name: best.name, private: best.Private, records: -1}, true, nil
}

// listZoneNamed lists the hosted zones api sees and returns the id of the one named
// name (public, or private when private is set); two of them is an error naming both.
func (p *Provider) listZoneNamed(ctx context.Context, api API, name string, private bool) (string, error) {
	var (
		ids    []string
		marker *string
	)
	for {
		in := &route53.ListHostedZonesInput{Marker: marker}
		out, err := api.ListHostedZones(ctx, in, p.retryOpt)
		if err != nil {
			return "", fmt.Errorf("list hosted zones: %w", err)
		}
		for _, hz := range out.HostedZones {
			isPrivate := hz.Config != nil && hz.Config.PrivateZone
			if canonicalName(deref(hz.Name)) == name && isPrivate == private {
				ids = append(ids, bareZoneID(deref(hz.Id)))
			}
		}
		if !out.IsTruncated || out.NextMarker == nil || *out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
	}
	switch len(ids) {
	case 0:
		kind := "public"
		if private {
			kind = "private"
		}
		// Not ErrNoZone: the operator named this zone, so its absence is an error, never a
		// reason to look for a CNAME in DNS instead.
		return "", fmt.Errorf("these credentials see no %s hosted zone named %s", kind, displayName(name))
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("hosted zones %s all have the name %s: set its hosted_zone_id", strings.Join(ids, ", "), displayName(name))
}
