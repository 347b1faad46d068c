package route53

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"go.uber.org/zap"
)

// ErrNoZone is wrapped by the error for a name that no hosted zone contains.
var ErrNoZone = errors.New("no hosted zone contains the name")

// zone is what discovery keeps of a hosted zone.
type zone struct {
	id      string // bare id, without "/hostedzone/"
	name    string // canonical: lower case, trailing dot
	private bool
	records int64 // ResourceRecordSetCount at listing time; -1 when unknown
}

// bareZoneID strips the "/hostedzone/" prefix the API puts on ids.
func bareZoneID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "/hostedzone/")
	return strings.TrimPrefix(id, "hostedzone/")
}

// inZone reports whether fqdn is zoneName or below it, on label boundaries.
// Both are canonical.
func inZone(fqdn, zoneName string) bool {
	return fqdn == zoneName || zoneName == "." || strings.HasSuffix(fqdn, "."+zoneName)
}

// matchZone picks the hosted zone whose name is the longest suffix of fqdn (on label
// boundaries). Private zones are candidates only when private is set. Two candidate
// zones with the same name (AWS allows duplicate public zones, and a public and a
// private zone may share a name) are ambiguous: which one is delegated is not
// something the API says, so the caller must name the zone with Record.ZoneID.
func matchZone(zones []zone, fqdn string, private bool) (zone, error) {
	var best []zone
	for _, z := range zones {
		if z.private && !private {
			continue
		}
		if !inZone(fqdn, z.name) {
			continue
		}
		switch {
		case len(best) == 0 || len(z.name) > len(best[0].name):
			best = []zone{z}
		case len(z.name) == len(best[0].name):
			best = append(best, z)
		}
	}
	switch len(best) {
	case 0:
		return zone{}, ErrNoZone
	case 1:
		return best[0], nil
	}
	ids := make([]string, len(best))
	for i, z := range best {
		ids[i] = z.id
	}
	return zone{}, fmt.Errorf("hosted zones %s all have the name %s: set the record's zone id", strings.Join(ids, ", "), best[0].name)
}

// zones returns the hosted zones, listing them (all pages) on first use, and again when
// stale is the time of the cached listing (a caller that found it out of date; callers
// that raced it share one new listing). A failed listing is not cached, so the next
// call tries again. Callers wait for a listing in progress, or for their context.
func (p *Provider) zones(ctx context.Context, stale time.Time) ([]zone, error) {
	select {
	case p.zoneLock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.zoneLock }()
	p.cacheMu.RLock()
	cached, listedAt := p.zoneCache, p.listedAt
	p.cacheMu.RUnlock()
	if cached != nil && (stale.IsZero() || !listedAt.Equal(stale)) {
		return cached, nil
	}
	now := p.opts.Now()
	var (
		all    = []zone{}
		marker *string
	)
	for page := 1; ; page++ {
		in := &route53.ListHostedZonesInput{Marker: marker}
		out, err := p.api.ListHostedZones(ctx, in, p.retryOpt)
		if err != nil {
			return nil, fmt.Errorf("list hosted zones: %w", err)
		}
		for _, hz := range out.HostedZones {
			z := zone{id: bareZoneID(deref(hz.Id)), name: canonicalName(deref(hz.Name)), records: -1}
			if hz.Config != nil {
				z.private = hz.Config.PrivateZone
			}
			if hz.ResourceRecordSetCount != nil {
				z.records = *hz.ResourceRecordSetCount
			}
			all = append(all, z)
		}
		if !out.IsTruncated || out.NextMarker == nil || *out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
	}
	p.log.Debug("hosted zones listed", zap.Int("zones", len(all)))
	p.cacheMu.Lock()
	p.zoneCache, p.listedAt = all, now
	p.cacheMu.Unlock()
	return all, nil
}

// relist lists the hosted zones again for name, which no listed zone contains, when the
// listing is at least zoneRelistAfter old (a zone may have been created since; a name
// that no zone will ever hold costs one listing a minute, not one per name). ok is false
// when the listing is too recent to repeat.
func (p *Provider) relist(ctx context.Context, name string) (zs []zone, ok bool, err error) {
	p.cacheMu.RLock()
	listedAt := p.listedAt
	p.cacheMu.RUnlock()
	if p.opts.Now().Sub(listedAt) < zoneRelistAfter {
		return nil, false, nil
	}
	p.log.Debug("no hosted zone contains the name: listing the zones again", zap.String("name", displayName(name)))
	if zs, err = p.zones(ctx, listedAt); err != nil {
		return nil, false, err
	}
	return zs, true, nil
}

// zoneByID returns what discovery knows of a zone, if it has already listed.
// It never lists: an explicit zone id needs no ListHostedZones permission.
//
// It used to give up when the listing lock was busy, which another zone's goroutine
// merely reading the cache was enough for: the zone then looked unknown and its records
// were read one name at a time (50 extra calls in a 100-certificate pass). The cache now
// has its own read lock.
func (p *Provider) zoneByID(id string) (zone, bool) {
	p.cacheMu.RLock()
	defer p.cacheMu.RUnlock()
	for _, z := range p.zoneCache {
		if z.id == id {
			return z, true
		}
	}
	return zone{}, false
}

// FindZone returns the hosted zone that holds fqdn: the id without "/hostedzone/"
// and the zone's name (lower case, with the trailing dot). A zone of Options.Zones
// that contains the name wins (see findZone). Otherwise the zones are listed through
// the API once per Provider, so discovery works where DNS does not reach the public
// name servers (inside a VPC); a name no listed zone contains lists them again, at
// most once a minute, so that a zone created later is found without a restart. Only
// public zones are considered unless Options.PrivateZones is set.
func (p *Provider) FindZone(ctx context.Context, fqdn string) (zoneID, zoneName string, err error) {
	name := canonicalName(fqdn)
	z, err := p.findZone(ctx, name, &findState{})
	if err != nil {
		return "", "", fmt.Errorf("route53: find zone for %s: %w", displayName(name), err)
	}
	return z.id, z.name, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// findState is zone finding's state across one call: the listing it used, or the
// error of that listing (not repeated per record), and whether it listed again.
type findState struct {
	zones    []zone
	listErr  error
	relisted bool
}

// findZone returns the hosted zone of fqdn: the configured zone that holds it (see
// Options.Zones), else the one discovery finds (listed once per Provider, again at
// most once per call for a name no listed zone holds).
func (p *Provider) findZone(ctx context.Context, fqdn string, st *findState) (zone, error) {
	if z, ok, err := p.conf.find(ctx, p, fqdn); ok {
		return z, err
	}
	if st.zones == nil && st.listErr == nil {
		st.zones, st.listErr = p.zones(ctx, time.Time{})
	}
	if st.listErr != nil {
		return zone{}, st.listErr
	}
	z, err := matchZone(st.zones, fqdn, p.opts.PrivateZones)
	if errors.Is(err, ErrNoZone) && !st.relisted {
		st.relisted = true
		zs, ok, lerr := p.relist(ctx, fqdn)
		if lerr != nil {
			return zone{}, lerr
		}
		if ok {
			st.zones = zs
			z, err = matchZone(zs, fqdn, p.opts.PrivateZones)
		}
	}
	return z, err
}
