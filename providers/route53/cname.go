package route53

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// Where a record's TXT goes (docs/dns.md): at its own name, unless
//   - Record.Alias names another place (no lookup), or
//   - a CNAME sits at the name: Route 53 refuses a TXT beside a CNAME, and the CA
//     follows the CNAME anyway, so the TXT goes to the end of the chain.
//
// A CNAME is read through the Route 53 API when its name lies in a hosted zone the
// provider knows (configured or listed), through DNS otherwise (the name's zone is
// elsewhere: another account, another DNS provider). Chains are bounded (maxChain)
// and a loop is an error naming the chain.

const (
	// maxChain bounds the CNAMEs followed from a record's name.
	maxChain = 8
	// defaultDNSTimeout bounds one DNS query of a CNAME lookup.
	defaultDNSTimeout = 5 * time.Second
	// targetFresh: a target resolved this recently (by Resolve, the preflight) is
	// reused by Present instead of being resolved again.
	targetFresh = 10 * time.Minute
	// targetKeep: how long a target is kept for CleanUp, which must remove the TXT
	// where Present wrote it even when the CNAME changed since.
	targetKeep = 24 * time.Hour
	// dnsParallel bounds concurrent DNS lookups.
	dnsParallel = 8
)

// ErrCNAMELoop is wrapped by the error of a record whose CNAME chain comes back to
// a name it already passed; ErrCNAMEChain by one whose chain is longer than 8.
var (
	ErrCNAMELoop  = errors.New("CNAME loop")
	ErrCNAMEChain = errors.New("CNAME chain too long")
)

// Target is where a record's TXT goes.
type Target struct {
	FQDN   string   // canonical, with the trailing dot
	ZoneID string   // the hosted zone that holds FQDN
	Chain  []string // the names from the record's first name to FQDN (one when no CNAME)
}

// Resolve finds where each record's TXT would go (following CNAMEs, applying
// aliases, finding and reading the zones) without writing anything: the check to
// make before any order. The result is index-aligned with recs; an error names the
// record and says why (no zone holds the name, a CNAME loop, a zone that refuses
// access and the role to use). Targets found are reused by a Present that follows
// within 10 minutes.
func (p *Provider) Resolve(ctx context.Context, recs []Record) []error {
	_, errs := p.Targets(ctx, recs)
	return errs
}

// Targets is Resolve that also returns the targets (zero where the error is set).
func (p *Provider) Targets(ctx context.Context, recs []Record) ([]Target, []error) {
	errs := make([]error, len(recs))
	out := make([]Target, len(recs))
	mapped, snaps := p.mapTargets(ctx, recs, errs, opResolve)
	if snaps == nil {
		snaps = map[string]*zoneSnap{}
	}
	// A target whose zone no read touched (an alias, follow_cname off, a target found
	// earlier) is read now: a zone the credentials cannot reach, or a CNAME where the
	// TXT would go, fails before the order; and the write reuses the read.
	fresh := map[string]bool{}
	read := map[[2]string]error{}
	for i, r := range mapped {
		if errs[i] != nil || r.FQDN == "" {
			continue
		}
		name := canonicalName(r.FQDN)
		if snaps[r.ZoneID] == nil {
			snaps[r.ZoneID], fresh[r.ZoneID] = newZoneSnap(), true
		}
		if fresh[r.ZoneID] {
			k := [2]string{r.ZoneID, name}
			if _, done := read[k]; !done {
				s := snaps[r.ZoneID]
				err := p.readName(ctx, r.ZoneID, name, s, p.log.With(zap.String("zone", r.ZoneID)))
				if err == nil && s.cname[name] != "" {
					err = fmt.Errorf("%s is a CNAME (to %s): Route 53 refuses a TXT beside it; follow it (dns.follow_cname) or point the alias at its end",
						displayName(name), displayName(canonicalName(s.cname[name])))
				}
				read[k] = err
			}
			if err := read[k]; err != nil {
				errs[i] = fmt.Errorf("route53: resolve %s: %w", targetName(recs[i].FQDN, name), err)
				continue
			}
		}
		out[i], _ = p.cache.get(keyOf(recs[i]), p.opts.Now(), targetKeep)
	}
	p.cache.keepSnaps(snaps, p.opts.Now())
	for i := range recs {
		if recs[i].FQDN == "" && errs[i] == nil {
			errs[i] = fmt.Errorf("route53: resolve record %d: empty name", i)
		}
	}
	return out, errs
}

// errNothingWritten marks a record CleanUp skips: its Present wrote nothing.
var errNothingWritten = errors.New("nothing written")

// opResolve is Resolve's operation: targets only, no write.
const opResolve op = -1

// targetKey is what decides a record's target.
type targetKey struct {
	fqdn, zoneID, alias string
	noFollow            bool
}

func keyOf(r Record) targetKey {
	k := targetKey{fqdn: canonicalName(r.FQDN), zoneID: bareZoneID(r.ZoneID), noFollow: r.NoFollow}
	if strings.TrimSpace(r.Alias) != "" {
		k.alias = aliasName(r.Alias)
	}
	return k
}

// aliasName is where an alias puts the TXT: "_acme-challenge." in front of a domain
// (acme.sh's --challenge-alias), or a name already starting with it as it is.
func aliasName(alias string) string {
	n := canonicalName(strings.TrimPrefix(strings.TrimSpace(alias), "*."))
	if strings.HasPrefix(n, "_acme-challenge.") {
		return n
	}
	return "_acme-challenge." + n
}

// targetName is a record's name in errors: the name itself, and its target when the
// TXT went elsewhere.
func targetName(fqdn, target string) string {
	name := canonicalName(fqdn)
	if name == target || fqdn == "" {
		return displayName(target)
	}
	return displayName(name) + " (at " + displayName(target) + ")"
}

func chainString(chain []string) string {
	out := make([]string, len(chain))
	for i, n := range chain {
		out[i] = displayName(n)
	}
	return strings.Join(out, " -> ")
}

// targetCache remembers where each record's TXT went: CleanUp removes it there.
type targetCache struct {
	mu sync.Mutex
	m  map[targetKey]cachedTarget
	// unwritten: records whose Present failed to resolve a target, so wrote nothing;
	// their CleanUp has nothing to remove (and must not report a record left behind).
	unwritten map[targetKey]time.Time
	// snaps: what Resolve read of each zone, for the Present that follows it (so the
	// preflight costs no read twice). Taken once; never used by CleanUp, which must
	// see Present's own writes.
	snaps map[string]keptSnap
}

type keptSnap struct {
	s  *zoneSnap
	at time.Time
}

// snapFresh bounds how old a Resolve's reads may be for Present to use them: orders
// begin in between. Anything that moved since is caught by the compare-and-swap.
const snapFresh = 2 * time.Minute

func (c *targetCache) keepSnaps(snaps map[string]*zoneSnap, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.snaps {
		if now.Sub(k.at) > snapFresh {
			delete(c.snaps, id)
		}
	}
	for id, s := range snaps {
		c.snaps[id] = keptSnap{s: s, at: now}
	}
}

func (c *targetCache) takeSnap(zoneID string, now time.Time) *zoneSnap {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.snaps[zoneID]
	delete(c.snaps, zoneID)
	if !ok || now.Sub(k.at) > snapFresh {
		return nil
	}
	return k.s
}

type cachedTarget struct {
	t  Target
	at time.Time
}

func newTargetCache() *targetCache {
	return &targetCache{m: map[targetKey]cachedTarget{}, unwritten: map[targetKey]time.Time{}, snaps: map[string]keptSnap{}}
}

// markUnwritten notes that Present wrote nothing for k.
func (c *targetCache) markUnwritten(k targetKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, at := range c.unwritten {
		if now.Sub(at) > targetKeep {
			delete(c.unwritten, k)
		}
	}
	c.unwritten[k] = now
}

// takeUnwritten reports (and forgets) whether Present wrote nothing for k.
func (c *targetCache) takeUnwritten(k targetKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.unwritten[k]
	delete(c.unwritten, k)
	return ok
}

func (c *targetCache) get(k targetKey, now time.Time, maxAge time.Duration) (Target, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.at) > maxAge {
		return Target{}, false
	}
	return e.t, true
}

func (c *targetCache) put(k targetKey, t Target, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if now.Sub(e.at) > targetKeep {
			delete(c.m, k) // never cleaned up (a pass that stopped): bounded by age
		}
	}
	c.m[k] = cachedTarget{t: t, at: now}
	delete(c.unwritten, k)
}

func (c *targetCache) drop(k targetKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// mapTargets returns recs with each FQDN replaced by its target and ZoneID by the
// target's zone. Records whose target cannot be found get an error in errs. The
// snapshots are what the resolution read of each zone (see zoneSnap).
func (p *Provider) mapTargets(ctx context.Context, recs []Record, errs []error, o op) ([]Record, map[string]*zoneSnap) {
	out := make([]Record, len(recs))
	maxAge := targetFresh
	if o == opCleanUp {
		maxAge = targetKeep // remove where Present wrote, even if the CNAME moved since
	}
	now := p.opts.Now()
	todo := map[targetKey][]int{}
	var keys []targetKey
	for i, r := range recs {
		out[i] = r
		if errs[i] != nil || r.FQDN == "" {
			continue
		}
		k := keyOf(r)
		if t, ok := p.cache.get(k, now, maxAge); ok {
			out[i] = Record{FQDN: t.FQDN, Value: r.Value, ZoneID: t.ZoneID, Persist: r.Persist}
			continue
		}
		if o == opCleanUp && p.cache.takeUnwritten(k) {
			errs[i] = errNothingWritten
			continue
		}
		if todo[k] == nil {
			keys = append(keys, k)
		}
		todo[k] = append(todo[k], i)
	}
	if len(keys) == 0 {
		return out, nil
	}
	res := &resolution{p: p, snaps: map[string]*zoneSnap{}}
	walks := res.run(ctx, keys)
	delegated := 0
	for _, w := range walks {
		for _, i := range todo[w.key] {
			if w.err != nil {
				// The cause names the record's name or its chain (find zone for X,
				// CNAME loop: X -> Y -> X, read CNAME at X).
				errs[i] = fmt.Errorf("route53: %w", w.err)
				if o == opPresent {
					p.cache.markUnwritten(w.key, now)
				}
				continue
			}
			out[i] = Record{FQDN: w.target.FQDN, Value: recs[i].Value, ZoneID: w.target.ZoneID, Persist: recs[i].Persist}
		}
		if w.err == nil {
			if len(w.target.Chain) > 1 {
				delegated++
				p.log.Debug("DNS-01 record delegated", zap.String("fqdn", displayName(w.key.fqdn)),
					zap.String("target", displayName(w.target.FQDN)), zap.String("chain", chainString(w.target.Chain)))
			}
			p.cache.put(w.key, w.target, now)
		}
	}
	if delegated > 0 {
		p.log.Info("DNS-01 names delegated by CNAME: writing at the chains' ends", zap.Int("names", delegated), zap.Int("resolved", len(walks)))
	}
	return out, res.snaps
}

// resolution is one call's resolving work: the zone snapshots it read and the
// zone-finding state (the hosted zones are listed again at most once per call).
type resolution struct {
	p     *Provider
	snaps map[string]*zoneSnap // by zone id
	find  findState
}

// walk follows one record's chain.
type walk struct {
	key    targetKey
	name   string   // the name being looked at
	chain  []string // names so far, name last
	pin    string   // zone id of name, if pinned
	follow bool
	zone   string // zone of name, "" when in none (looked up in DNS)
	done   bool
	target Target
	err    error
	cname  string // the CNAME read at name, "" if none
}

// run walks every chain one step at a time, so that each step reads each zone
// once for all the names in it, zones in parallel.
func (r *resolution) run(ctx context.Context, keys []targetKey) []*walk {
	walks := make([]*walk, len(keys))
	for i, k := range keys {
		start := k.fqdn
		if k.alias != "" {
			start = k.alias
		}
		walks[i] = &walk{key: k, name: start, chain: []string{start}, pin: k.zoneID, follow: !k.noFollow && k.alias == ""}
	}
	for {
		var active []*walk
		for _, w := range walks {
			if !w.done {
				active = append(active, w)
			}
		}
		if len(active) == 0 {
			return walks
		}
		if err := ctx.Err(); err != nil {
			for _, w := range active {
				w.done, w.err = true, err
			}
			return walks
		}
		r.step(ctx, active)
	}
}

// step finds the zone of each walk's name, reads the CNAMEs there (or in DNS), and
// moves each walk one name on, or ends it.
func (r *resolution) step(ctx context.Context, active []*walk) {
	byZone, zoneOrder, viaDNS := r.sortByZone(ctx, active)
	var wg sync.WaitGroup
	for _, id := range zoneOrder {
		ws, snap := byZone[id], r.snaps[id]
		wg.Go(func() { r.p.readCNAMEs(ctx, id, snap, ws) })
	}
	sem := make(chan struct{}, dnsParallel)
	for _, w := range viaDNS {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				w.done, w.err = true, ctx.Err()
				return
			}
			w.cname, w.err = r.p.lookupCNAME(ctx, w.name)
			if w.err != nil {
				w.done = true
				w.err = r.noZone(w, fmt.Errorf("%w, and DNS could not say whether a CNAME is there: %w", ErrNoZone, w.err))
			}
		})
	}
	wg.Wait()
	for _, w := range active {
		if !w.done {
			r.advance(w)
		}
	}
}

// sortByZone finds the zone of each walk's name: the walks to follow in a zone, by
// zone (in the order first met), and those whose name no listed zone holds, to follow
// through DNS. A walk that must not follow its name, or fails, ends here.
func (r *resolution) sortByZone(ctx context.Context, active []*walk) (byZone map[string][]*walk, zoneOrder []string, viaDNS []*walk) {
	byZone = map[string][]*walk{}
	for _, w := range active {
		w.cname, w.zone = "", ""
		zoneID := bareZoneID(w.pin)
		if zoneID != "" {
			if err := r.p.checkPin(ctx, zoneID, w.name); err != nil {
				w.done, w.err = true, err
				continue
			}
		}
		if zoneID == "" {
			z, err := r.p.findZone(ctx, w.name, &r.find)
			switch {
			case errors.Is(err, ErrNoZone) && w.follow:
				viaDNS = append(viaDNS, w)
				continue
			case err != nil:
				w.done, w.err = true, r.noZone(w, err)
				continue
			}
			zoneID = z.id
		}
		w.zone = zoneID
		if !w.follow {
			w.done, w.target = true, Target{FQDN: w.name, ZoneID: zoneID, Chain: w.chain}
			continue
		}
		if byZone[zoneID] == nil {
			zoneOrder = append(zoneOrder, zoneID)
			if r.snaps[zoneID] == nil {
				r.snaps[zoneID] = newZoneSnap()
			}
		}
		byZone[zoneID] = append(byZone[zoneID], w)
	}
	return byZone, zoneOrder, viaDNS
}

// advance moves w to the CNAME found at its name, or ends it: at its target when there
// is none, with an error on a loop or a chain too long.
func (r *resolution) advance(w *walk) {
	if w.cname == "" {
		if w.zone == "" {
			w.done, w.err = true, r.noZone(w, ErrNoZone)
			return
		}
		w.done, w.target = true, Target{FQDN: w.name, ZoneID: w.zone, Chain: w.chain}
		return
	}
	next := canonicalName(w.cname)
	if slices.Contains(w.chain, next) {
		w.done, w.err = true, fmt.Errorf("%w: %s", ErrCNAMELoop, chainString(append(slices.Clone(w.chain), next)))
		return
	}
	if len(w.chain) > maxChain {
		w.done, w.err = true, fmt.Errorf("%w: more than %d CNAMEs, the chain starts %s", ErrCNAMEChain, maxChain, chainString(w.chain))
		return
	}
	w.chain = append(w.chain, next)
	w.name, w.pin = next, ""
}

// noZone says which name of the chain no zone holds, and, when no zone certferry can
// list holds it, how to reach a zone of another account.
func (r *resolution) noZone(w *walk, err error) error {
	hint := ""
	if errors.Is(err, ErrNoZone) {
		hint = " (a zone in another AWS account: add it to dns.zones with the assume_role_arn of a role there)"
	}
	if len(w.chain) > 1 {
		return fmt.Errorf("find zone for %s (through %s): %w%s", displayName(w.name), chainString(w.chain), err, hint)
	}
	return fmt.Errorf("find zone for %s: %w%s", displayName(w.name), err, hint)
}

// zoneSnap is what resolving read of one zone during one call: the CNAMEs, and the
// TXT sets seen on the way, which the write that follows uses instead of reading
// them again (its compare-and-swap catches anything that moved since).
type zoneSnap struct {
	listed bool                // the whole zone was listed: every name is known
	cname  map[string]string   // name -> CNAME target
	alias  map[string]bool     // names holding an alias record of type CNAME
	txt    map[string]*rrset   // name -> TXT set (nil: known to have none)
	bad    map[string]error    // name -> a TXT set that cannot be merged into
	known  map[string]bool     // names whose TXT set is known
	read   map[string]struct{} // names read one by one
}

func newZoneSnap() *zoneSnap {
	return &zoneSnap{cname: map[string]string{}, alias: map[string]bool{}, txt: map[string]*rrset{}, bad: map[string]error{},
		known: map[string]bool{}, read: map[string]struct{}{}}
}

// fill gives the group's units the TXT sets the snapshot holds; false (and nothing
// set) when one of them is unknown, and readSets reads as usual.
func (s *zoneSnap) fill(g *zoneGroup) bool {
	if s == nil {
		return false
	}
	for _, u := range g.units {
		if !s.listed && !s.known[u.fqdn] {
			return false
		}
	}
	for _, u := range g.units {
		u.old, u.err = s.txt[u.fqdn], s.bad[u.fqdn]
	}
	return true
}

// readCNAMEs reads the CNAME (if any) at each walk's name in the zone: one listing
// of the zone when that costs fewer calls than one read per name (as readSets
// decides), one read per name otherwise.
func (p *Provider) readCNAMEs(ctx context.Context, zoneID string, s *zoneSnap, ws []*walk) {
	log := p.log.With(zap.String("zone", zoneID))
	var unread []string
	for _, w := range ws {
		if _, ok := s.read[w.name]; !ok && !s.listed && !slices.Contains(unread, w.name) {
			unread = append(unread, w.name)
		}
	}
	if len(unread) > 0 {
		if z, ok := p.zoneByID(zoneID); ok && z.records >= 0 && int((z.records+listPageSize-1)/listPageSize) < len(unread) {
			if err := p.listSnap(ctx, zoneID, s, log); err != nil {
				for _, w := range ws {
					w.done, w.err = true, fmt.Errorf("read CNAME at %s: %w", displayName(w.name), err)
				}
				return
			}
		}
	}
	for _, w := range ws {
		if !s.listed {
			if _, ok := s.read[w.name]; !ok {
				if err := p.readName(ctx, zoneID, w.name, s, log); err != nil {
					w.done, w.err = true, fmt.Errorf("read CNAME at %s: %w", displayName(w.name), err)
					continue
				}
			}
		}
		if s.alias[w.name] {
			w.done, w.err = true, fmt.Errorf("%s is an alias record of type CNAME: not supported; point a plain CNAME at the zone certferry writes", displayName(w.name))
			continue
		}
		w.cname = s.cname[w.name]
	}
}

// readName reads the first record set at or after name. A CNAME is alone at its
// name, so it is that first set when there is one; a TXT set found there is kept
// for the write.
func (p *Provider) readName(ctx context.Context, zoneID, name string, s *zoneSnap, log *zap.Logger) error {
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(name), MaxItems: aws.Int32(1)}
	out, err := p.api.ListResourceRecordSets(ctx, in, p.retryOpt)
	if err != nil {
		return err
	}
	s.read[name] = struct{}{}
	if len(out.ResourceRecordSets) == 0 || canonicalName(deref(out.ResourceRecordSets[0].Name)) != name {
		s.known[name] = true // nothing at the name
		return nil
	}
	s.add(out.ResourceRecordSets[0])
	return nil
}

// listSnap lists every record set of the zone into the snapshot.
func (p *Provider) listSnap(ctx context.Context, zoneID string, s *zoneSnap, log *zap.Logger) error {
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), MaxItems: aws.Int32(listPageSize)}
	for {
		out, err := p.api.ListResourceRecordSets(ctx, in, p.retryOpt)
		if err != nil {
			return err
		}
		for _, rs := range out.ResourceRecordSets {
			s.add(rs)
		}
		if !out.IsTruncated || out.NextRecordName == nil {
			s.listed = true
			return nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
}

// add notes one record set read from the zone.
func (s *zoneSnap) add(rs types.ResourceRecordSet) {
	name := canonicalName(deref(rs.Name))
	switch rs.Type {
	case types.RRTypeCname:
		if rs.AliasTarget != nil || len(rs.ResourceRecords) == 0 {
			s.alias[name] = true
			return
		}
		s.cname[name] = deref(rs.ResourceRecords[0].Value)
	case types.RRTypeTxt:
		set, err := toRRSet(rs)
		if err != nil {
			s.bad[name] = err
		} else {
			s.txt[name] = set
		}
		s.known[name] = true
	}
}

// lookupCNAME asks the resolvers for a CNAME at name: its target, or "" when the
// name has none (NOERROR without one, or NXDOMAIN). The first resolver that answers
// decides; each query is bounded by DNSTimeout.
func (p *Provider) lookupCNAME(ctx context.Context, name string) (string, error) {
	servers := p.opts.Resolvers
	if len(servers) == 0 {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return "", fmt.Errorf("no resolvers configured and %w", err)
		}
		for _, s := range conf.Servers {
			servers = append(servers, net.JoinHostPort(s, conf.Port))
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeCNAME)
	m.RecursionDesired = true
	var last error
	for _, s := range servers {
		in, _, err := (&dns.Client{Net: "udp", Timeout: p.opts.DNSTimeout}).ExchangeContext(ctx, m, s)
		if err == nil && in.Truncated {
			in, _, err = (&dns.Client{Net: "tcp", Timeout: p.opts.DNSTimeout}).ExchangeContext(ctx, m, s)
		}
		if err != nil {
			last = fmt.Errorf("%s: %w", s, err)
			continue
		}
		if in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError {
			last = fmt.Errorf("%s answered %s", s, dns.RcodeToString[in.Rcode])
			continue
		}
		for _, rr := range in.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, dns.Fqdn(name)) {
				return strings.ToLower(c.Target), nil
			}
		}
		return "", nil
	}
	if last == nil {
		last = errors.New("no resolver")
	}
	return "", fmt.Errorf("look up CNAME at %s: %w", displayName(name), last)
}

// CertDNS is one certificate's DNS-01 settings (its dns: keys): what the pass puts
// in the Records of its challenges.
type CertDNS struct {
	NoFollow bool              // dns.follow_cname: false
	Alias    string            // dns.challenge_alias
	ZoneIDs  map[string]string // dns.hosted_zone_ids: domain (without "*.") -> zone id
}

// Record is the record of one challenge of the certificate: fqdn is
// "_acme-challenge.<domain>"; zoneID is the certificate's hosted_zone_id, which a
// zone pinned for the domain overrides.
func (c CertDNS) Record(fqdn, value, zoneID string) Record {
	if id, ok := c.ZoneIDs[strings.TrimSuffix(strings.TrimPrefix(canonicalName(fqdn), "_acme-challenge."), ".")]; ok {
		zoneID = id
	}
	return Record{FQDN: fqdn, Value: value, ZoneID: zoneID, Alias: c.Alias, NoFollow: c.NoFollow}
}
