package route53

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// ErrPinnedZoneMismatch is wrapped by the error for a record pinned to a hosted zone
// (hosted_zone_id) whose name does not cover it: Route 53 would refuse the record after
// the order was placed, so the pin is checked first.
var ErrPinnedZoneMismatch = errors.New("the pinned hosted zone does not hold the name")

// pinnedZoneName is the name of the pinned hosted zone id: from a listing already made,
// else from GetHostedZone (once per Provider and zone; a failure is not kept, so the
// next pass asks again). It never lists: a pinned zone needs no ListHostedZones.
func (p *Provider) pinnedZoneName(ctx context.Context, id string) (string, error) {
	if z, ok := p.zoneByID(id); ok {
		return z.name, nil
	}
	p.pinMu.Lock()
	name, ok := p.pinnedNames[id]
	p.pinMu.Unlock()
	if ok {
		return name, nil
	}
	out, err := p.api.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)}, p.retryOpt)
	if err != nil {
		return "", fmt.Errorf("get hosted zone %s: %w", id, err)
	}
	if out.HostedZone == nil || deref(out.HostedZone.Name) == "" {
		return "", fmt.Errorf("get hosted zone %s: the answer names no zone", id)
	}
	name = canonicalName(deref(out.HostedZone.Name))
	p.pinMu.Lock()
	if p.pinnedNames == nil {
		p.pinnedNames = map[string]string{}
	}
	p.pinnedNames[id] = name
	p.pinMu.Unlock()
	return name, nil
}

// checkPin reports an error when the hosted zone id pinned for fqdn does not cover it,
// naming both.
func (p *Provider) checkPin(ctx context.Context, id, fqdn string) error {
	name, err := p.pinnedZoneName(ctx, id)
	if err != nil {
		return err
	}
	if !inZone(fqdn, name) {
		return fmt.Errorf("%w: hosted zone %s is %s, which does not hold %s (fix hosted_zone_id, or leave it out to find the zone by name)",
			ErrPinnedZoneMismatch, id, displayName(name), displayName(fqdn))
	}
	return nil
}
