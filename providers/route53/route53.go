// Package route53 is certferry's DNS-01 provider for Amazon Route 53.
//
// It works a renewal pass at a time: Present takes every TXT record of the pass at
// once, writes them with one ChangeResourceRecordSets per hosted zone (split only
// where AWS's limits demand) and waits for each change to be INSYNC with one
// GetChange loop per change; CleanUp takes them all back in one change per zone.
//
// Each record first goes to its target (cname.go, docs/dns.md): the end of the CNAME
// chain at its name (read through the API in zones the provider knows, through DNS
// elsewhere), or its alias; the zones above are the targets' zones, so delegated
// names of many certificates still share one change per zone. Resolve finds the
// targets without writing, for the check before any order. Each zone is read and
// written through its own client (Options.Zones: a role in the zone's account).
//
// What it must never do: overwrite or delete TXT values it was not given. Values at
// the same name written by another tool or another runner are read, kept and written
// back, with a compare-and-swap (DELETE of the exact set read, CREATE of the new one,
// in one atomic batch), never with a blind UPSERT.
//
// Retries: every call passes the SDK's standard retryer configured from Options
// (MaxAttempts, a backoff from RetryDelay, no client-side retry quota; see newRetryer)
// as a per-call option, so Throttling streaks and PriorRequestNotComplete are waited
// out without touching the retryer the caller configured on the client for its other
// calls.
//
// A Provider is safe for concurrent use. It keeps the hosted-zone list, read once
// through the API, and, in memory, where each record's TXT went (so CleanUp removes
// it there) for at most a day.
package route53

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"go.uber.org/zap"
)

// API is the part of *route53.Client the provider uses; tests may pass a fake.
type API interface {
	ListHostedZones(ctx context.Context, in *route53.ListHostedZonesInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, optFns ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	GetHostedZone(ctx context.Context, in *route53.GetHostedZoneInput, optFns ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error)
}

var _ API = (*route53.Client)(nil)

// Checker is an optional extra readiness check, called once per TXT name after the
// change that wrote it is INSYNC (for example a query of the zone's authoritative
// servers). values are the raw values that must now be served, ours and others'.
// An error fails the records of that name. Check is called from one goroutine per
// hosted zone, so it may run concurrently for names of different zones.
type Checker interface {
	Check(ctx context.Context, fqdn string, values []string) error
}

// Options configures a Provider. Zero values take the defaults.
type Options struct {
	// InsyncTimeout bounds the wait for a zone's changes to become INSYNC (one
	// deadline per zone and call, however many changes the batch was split into).
	// Default 10m.
	InsyncTimeout time.Duration
	// PollInterval is the delay between GetChange calls while a change is not INSYNC.
	// Default 2s.
	PollInterval time.Duration
	// PrivateZones lets zone discovery pick private hosted zones. Default: public only.
	PrivateZones bool
	// TTL of record sets the provider creates. Default 60. A set that already
	// exists keeps its TTL.
	TTL int64
	// MaxBatchRecords and MaxBatchChars are AWS's per-request limits on
	// ResourceRecord elements and Value characters. Defaults 1000 and 32000.
	MaxBatchRecords int
	MaxBatchChars   int
	// MaxAttempts bounds the attempts of each API call (Throttling,
	// PriorRequestNotComplete and the SDK's other retryable errors are tried again).
	// Default 8. The provider's retryer replaces the client's for its own calls only.
	MaxAttempts int
	// RetryDelay is the first pause between those attempts; it doubles, with jitter,
	// up to 20s. Default 500ms.
	RetryDelay time.Duration
	// Checker, if set, is called after INSYNC. See Checker.
	Checker Checker
	// Logger; named "route53". Default: no logging.
	Logger *zap.Logger
	// Now is the clock that ages the hosted-zone listing (see FindZone) and times the
	// INSYNC wait's progress reports; nil is time.Now.
	Now func() time.Time
	// Zones are hosted zones the operator named (dns.zones): each with the client
	// that may read and write it (a role in the zone's account). A name inside one of
	// them goes to the longest such zone without discovery. See Zone.
	Zones []Zone
	// Resolvers (host:port) answer the CNAME lookups of names that lie in no hosted
	// zone the provider can read; empty means those of /etc/resolv.conf.
	Resolvers []string
	// DNSTimeout bounds one DNS query of those lookups. Default 5s.
	DNSTimeout time.Duration
}

const (
	defaultInsyncTimeout   = 10 * time.Minute
	defaultPollInterval    = 2 * time.Second
	defaultTTL             = 60
	defaultMaxBatchRecords = 1000
	defaultMaxBatchChars   = 32000
	defaultMaxAttempts     = 8
	defaultRetryDelay      = 500 * time.Millisecond
	maxRetryDelay          = 20 * time.Second
	// maxCAS bounds the re-reads after a compare-and-swap lost to another writer.
	maxCAS = 5
	// zoneRelistAfter: a name no listed hosted zone contains makes the provider list
	// the zones again when the listing is at least this old (a zone created since).
	zoneRelistAfter = time.Minute
	// listPageSize is the most record sets one ListResourceRecordSets returns.
	listPageSize = 300
)

// Record is one DNS-01 TXT record.
type Record struct {
	// FQDN is the record's name, such as "_acme-challenge.www.example.com."
	// (the trailing dot is optional).
	FQDN string
	// Value is the raw TXT value, unquoted.
	Value string
	// ZoneID optionally names the hosted zone ("Z123" or "/hostedzone/Z123") of the
	// first name of the record's chain (FQDN, or the alias name); it wins over
	// discovery, so that name costs no ListHostedZones.
	ZoneID string
	// Alias, when set, is where the TXT goes instead of FQDN, with no CNAME lookup
	// (dns.challenge_alias): "_acme-challenge." is put in front of a domain, as
	// acme.sh's --challenge-alias does; a name that already starts with
	// "_acme-challenge." is used as it is. See docs/dns.md.
	Alias string
	// NoFollow turns CNAME following off for the record (dns.follow_cname: false):
	// the TXT goes to FQDN itself. By default a CNAME at FQDN is followed to the end
	// of its chain and the TXT goes there (see Resolve).
	NoFollow bool
	// Persist, when set, makes the record a dns-persist-01 record (persist.go):
	// Present writes Value only when no value at the name is current, replacing the
	// record's own stale values; CleanUp removes the record's own values (not only
	// Value). Alias does not apply to it.
	Persist Persist
}

// Provider presents and cleans up DNS-01 records in Route 53.
type Provider struct {
	api    API     // the router: every call goes to the client of its zone
	router *router // the same, typed
	opts   Options
	log    *zap.Logger
	conf   *configured // Options.Zones and what was learnt of them
	cache  *targetCache
	// retryOpt puts the provider's retryer (newRetryer) on one call.
	retryOpt func(*route53.Options)

	zoneLock  chan struct{} // one listing at a time; waiters also watch their ctx
	cacheMu   sync.RWMutex  // guards zoneCache: readers never wait for a listing
	zoneCache []zone        // nil until listed
	listedAt  time.Time     // when zoneCache was listed

	pinMu       sync.Mutex
	pinnedNames map[string]string // pinned zone id -> its name, from GetHostedZone
}

// New returns a Provider that calls api (a *route53.Client, configured by the
// caller, retryer included).
func New(api API, opts Options) *Provider {
	if opts.InsyncTimeout <= 0 {
		opts.InsyncTimeout = defaultInsyncTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	if opts.TTL <= 0 {
		opts.TTL = defaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatchRecords <= 0 {
		opts.MaxBatchRecords = defaultMaxBatchRecords
	}
	if opts.MaxBatchChars <= 0 {
		opts.MaxBatchChars = defaultMaxBatchChars
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = defaultRetryDelay
	}
	if opts.DNSTimeout <= 0 {
		opts.DNSTimeout = defaultDNSTimeout
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	r := newRouter(api)
	rt := newRetryer(opts)
	p := &Provider{api: r, router: r, opts: opts, log: log.Named("route53"), zoneLock: make(chan struct{}, 1), cache: newTargetCache(),
		retryOpt: func(o *route53.Options) { o.Retryer = rt }}
	p.conf = newConfigured(opts.Zones, r)
	return p
}

// Present writes every record, merged with the values already at its name, and
// returns when the changes are INSYNC (and the Checker, if any, agrees) or have
// failed. The result is index-aligned with recs: nil means the record is served.
//
// Records of one zone go out in one ChangeResourceRecordSets (more only when AWS's
// limits or a rejected record demand it) and share one GetChange loop; zones are
// worked in parallel. A value that is already at its name needs no change and is
// not waited for. After a failure (an INSYNC timeout included) the caller should
// still CleanUp the records: some may have been written.
func (p *Provider) Present(ctx context.Context, recs []Record) []error {
	return p.run(ctx, recs, opPresent)
}

// CleanUp removes the records' values and only those: other values at the same
// name are written back; a set left empty is deleted. A value already gone counts
// as removed. CleanUp does not wait for INSYNC. The result is index-aligned with
// recs. Callers whose pass may be cancelled should pass context.WithoutCancel plus
// a timeout.
func (p *Provider) CleanUp(ctx context.Context, recs []Record) []error {
	return p.run(ctx, recs, opCleanUp)
}

// zoneGroup is the work of one hosted zone.
type zoneGroup struct {
	id    string
	units []*unit
	snap  *zoneSnap // what resolving the targets already read of the zone, or nil
}

func (p *Provider) run(ctx context.Context, recs []Record, o op) []error {
	errs := make([]error, len(recs))
	// Each record goes to the end of its CNAME chain (or its alias); the records are
	// then grouped by the target's zone, so batching holds across certificates.
	targets, snap := p.mapTargets(ctx, recs, errs, o)
	groups := p.group(ctx, targets, errs, o)
	for _, g := range groups {
		g.snap = snap[g.id]
		if g.snap == nil && o == opPresent {
			g.snap = p.cache.takeSnap(g.id, p.opts.Now()) // what the preflight's Resolve read
		}
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { p.doZone(ctx, g, o) })
	}
	wg.Wait()
	for _, g := range groups {
		for _, u := range g.units {
			if u.err == nil {
				continue
			}
			for _, i := range u.idx {
				errs[i] = fmt.Errorf("route53: %s %s: %w", o.verb(), targetName(recs[i].FQDN, u.fqdn), u.err)
			}
		}
	}
	if o == opCleanUp {
		for i, r := range recs {
			if errs[i] == errNothingWritten {
				errs[i] = nil // Present failed before writing it: nothing to remove
			}
			if errs[i] == nil && r.FQDN != "" {
				p.cache.drop(keyOf(r)) // removed: the next Present resolves afresh
			}
		}
	}
	return errs
}

// group resolves each record's zone and gathers the records by zone, then by name,
// in the order they come. Errors of single records land in errs.
func (p *Provider) group(ctx context.Context, recs []Record, errs []error, o op) []*zoneGroup {
	var (
		groups   []*zoneGroup
		zones    []zone
		listErr  error
		relisted bool
		byZone   = map[string]*zoneGroup{}
		byName   = map[[2]string]*unit{}
	)
	for i, r := range recs {
		if errs[i] != nil {
			continue // failed before (resolving its target)
		}
		if r.FQDN == "" {
			errs[i] = fmt.Errorf("route53: %s record %d: empty name", o.verb(), i)
			continue
		}
		fqdn := canonicalName(r.FQDN)
		zoneID := bareZoneID(r.ZoneID)
		if zoneID == "" {
			// Listed once per Provider; a failed listing fails every record of
			// this call with the same error instead of being repeated per record.
			if zones == nil && listErr == nil {
				zones, listErr = p.zones(ctx, time.Time{})
			}
			if listErr != nil {
				errs[i] = fmt.Errorf("route53: find zone for %s: %w", displayName(fqdn), listErr)
				continue
			}
			z, err := matchZone(zones, fqdn, p.opts.PrivateZones)
			if errors.Is(err, ErrNoZone) && !relisted {
				// Perhaps a zone created since the listing: list again, once per call.
				relisted = true
				if zs, ok, lerr := p.relist(ctx, fqdn); lerr != nil {
					errs[i] = fmt.Errorf("route53: find zone for %s: %w", displayName(fqdn), lerr)
					continue
				} else if ok {
					zones = zs
					z, err = matchZone(zones, fqdn, p.opts.PrivateZones)
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("route53: find zone for %s: %w", displayName(fqdn), err)
				continue
			}
			zoneID = z.id
		}
		g := byZone[zoneID]
		if g == nil {
			g = &zoneGroup{id: zoneID}
			byZone[zoneID] = g
			groups = append(groups, g)
		}
		k := [2]string{zoneID, fqdn}
		u := byName[k]
		if u == nil {
			u = &unit{fqdn: fqdn}
			byName[k] = u
			g.units = append(g.units, u)
		}
		u.idx = append(u.idx, i)
		if r.Persist != nil {
			u.persist = append(u.persist, persistWant{value: r.Value, p: r.Persist})
		} else if !slices.Contains(u.values, r.Value) {
			u.values = append(u.values, r.Value)
		}
	}
	return groups
}

// doZone does one zone's part of a pass: read the current sets, plan, write in as
// few batches as the limits allow, then (Present) wait for INSYNC and check.
func (p *Provider) doZone(ctx context.Context, g *zoneGroup, o op) {
	log := p.log.With(zap.String("zone", g.id))
	if err := ctx.Err(); err != nil {
		for _, u := range g.units {
			u.err = err
		}
		return
	}
	p.readSets(ctx, g, log)
	var todo []*unit
	for _, u := range g.units {
		if u.err != nil {
			continue
		}
		u.plan(o, p.opts.TTL)
		if len(u.changes) > 0 {
			todo = append(todo, u)
		}
	}
	var done []applied
	for _, batch := range splitBatches(todo, p.opts.MaxBatchRecords, p.opts.MaxBatchChars) {
		p.applyBatch(ctx, g.id, batch, o, log, &done)
	}
	if o != opPresent {
		return
	}
	// One GetChange loop per change, shared by every record in it. The changes of
	// a zone share one deadline: a bisected batch does not multiply the timeout.
	deadline := time.Now().Add(p.opts.InsyncTimeout)
	for _, a := range done {
		if err := p.waitInsync(ctx, a.id, deadline, log); err != nil {
			for _, u := range a.units {
				u.err = err
			}
		}
	}
	if p.opts.Checker == nil {
		return
	}
	for _, u := range g.units {
		if u.err != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			u.err = err
			continue
		}
		raw := make([]string, len(u.want))
		for i, w := range u.want {
			raw[i] = decodeTXT(w)
		}
		if err := p.opts.Checker.Check(ctx, u.fqdn, raw); err != nil {
			u.err = fmt.Errorf("check: %w", err)
		}
	}
}
