// Package r53sim is a local stand-in for Amazon Route 53 (REST-XML API 2013-04-01) that
// the real aws-sdk-go-v2 route53 client can talk to, plus the "published" DNS view that
// the sandbox's DNS server answers from.
//
// It follows the documented behaviour of Route 53 closely enough that code passing its
// tests passes against AWS: all-or-nothing change batches, exact-match DELETE, quoted
// TXT strings, per-batch limits, PENDING then INSYNC changes, Throttling. It never
// starts goroutines: time-dependent state (INSYNC, the DNS view) is computed from the
// clock when read, so tests can drive it with an injected clock.
package r53sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

// Options configure a Service.
type Options struct {
	Calls       *calls.Registry  // required; every request is counted and may be faulted
	InsyncAfter time.Duration    // a change is PENDING until this passes, then INSYNC (0 = at once)
	RequestRate float64          // requests per second before Throttling (0 = unlimited)
	Burst       int              // token bucket size (<= 0 means 1 when RequestRate is set)
	Now         func() time.Time // clock; default time.Now
	// DefaultAccount owns the zones CreateZone makes and is the account of callers
	// AccountOf does not know (see accounts.go). Empty is fine with one account.
	DefaultAccount string
	// AccountOf maps an access key id to its account; nil: every caller is the
	// default account.
	AccountOf func(accessKeyID string) (account string, ok bool)
}

// RecordSet is one resource record set as the API and the DNS view see it.
type RecordSet struct {
	Name             string   // lowercase FQDN with trailing dot, special characters as \ooo
	Type             string   // "TXT", "CNAME", ...
	TTL              int64    // seconds
	Values           []string // as stored by Route 53: TXT values include their quotes
	SetIdentifier    string
	MultiValueAnswer *bool
	Weight           *int64
}

func (rs RecordSet) clone() RecordSet {
	rs.Values = append([]string(nil), rs.Values...)
	if rs.MultiValueAnswer != nil {
		v := *rs.MultiValueAnswer
		rs.MultiValueAnswer = &v
	}
	if rs.Weight != nil {
		v := *rs.Weight
		rs.Weight = &v
	}
	return rs
}

// LookupResult is what the DNS view knows about one query name.
type LookupResult struct {
	Zone   string      // apex of the longest-suffix public zone; "" if no public zone holds qname
	Sets   []RecordSet // every set at exactly qname, sorted by type then set identifier
	Exists bool        // qname has record sets or descendants (an empty non-terminal exists)
	SOA    *RecordSet  // the zone's SOA set, for negative answers
	NS     *RecordSet  // the zone's apex NS set
}

// rrKey identifies a record set: Route 53 tells sets apart by name, type and set identifier.
type rrKey struct{ name, typ, setID string }

func keyOf(rs RecordSet) rrKey { return rrKey{rs.Name, rs.Type, rs.SetIdentifier} }

type zone struct {
	id, name, callerRef, comment string
	private                      bool
	account                      string // owner (see accounts.go)
	changed                      int    // change batches accepted
	vpc                          *xmlVPC
	seq                          int // creation order, to break ties between zones of one name

	// current is the API view: every accepted change applied.
	current map[rrKey]RecordSet
	// published is what DNS servers answer: only changes that turned INSYNC.
	published map[rrKey]RecordSet
	// pending holds accepted changes not yet applied to published, oldest first.
	pending []pendingChange
}

// pendingChange is the net effect of one accepted batch: per key, the new set or
// nil for a deletion.
type pendingChange struct {
	insyncAt time.Time
	diff     map[rrKey]*RecordSet
}

// Service is the Route 53 stand-in. It is safe for concurrent use; one mutex guards
// all of its state.
type Service struct {
	calls       *calls.Registry
	insyncAfter time.Duration
	now         func() time.Time
	limiter     *rate.Limiter // nil: unlimited

	mu      sync.Mutex
	zones   map[string]*zone // by ID
	refs    map[string]string
	changes map[string]*change
	seq     int

	defaultAccount string
	accountOf      func(string) (string, bool)
}

// New returns a Service with no hosted zones.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("r53sim: New: Options.Calls is required")
	}
	s := &Service{
		calls:       opts.Calls,
		insyncAfter: opts.InsyncAfter,
		now:         opts.Now,
		zones:       map[string]*zone{},
		refs:        map[string]string{},
		changes:     map[string]*change{},

		defaultAccount: opts.DefaultAccount,
		accountOf:      opts.AccountOf,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.limiter = newLimiter(opts.RequestRate, opts.Burst)
	return s
}

// nameServers are the sandbox's stand-ins for the four awsdns servers of a delegation set.
var nameServers = []string{
	"ns-1.awsdns-sandbox.com.",
	"ns-2.awsdns-sandbox.net.",
	"ns-3.awsdns-sandbox.org.",
	"ns-4.awsdns-sandbox.co.uk.",
}

// CreateZone creates a hosted zone from Go, with the same effect as CreateHostedZone.
// A private zone is associated with a made-up VPC and is never served by Lookup.
func (s *Service) CreateZone(name string, private bool) (string, error) {
	var vpc *xmlVPC
	if private {
		vpc = &xmlVPC{VPCRegion: "us-east-1", VPCID: "vpc-sandbox"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, _, err := s.createZoneLocked(name, "r53sim-"+randomID(16), "", vpc)
	if err != nil {
		return "", fmt.Errorf("r53sim: create zone %s: %w", name, err)
	}
	return z.id, nil
}

func (s *Service) createZoneLocked(name, callerRef, comment string, vpc *xmlVPC) (*zone, *change, *apiError) {
	apex, err := normalizeName(name)
	if err != nil || apex == "." {
		return nil, nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidDomainName", Message: fmt.Sprintf("%s is reserved by AWS!", name)}
	}
	if callerRef == "" {
		return nil, nil, errInvalidInput("CallerReference is required")
	}
	if _, dup := s.refs[callerRef]; dup {
		return nil, nil, &apiError{Status: http.StatusConflict, Code: "HostedZoneAlreadyExists",
			Message: "A hosted zone has already been created with the specified caller reference."}
	}
	id := "Z" + randomID(20)
	for s.zones[id] != nil {
		id = "Z" + randomID(20)
	}
	s.seq++
	z := &zone{
		id: id, name: apex, callerRef: callerRef, comment: comment,
		private: vpc != nil, vpc: vpc, seq: s.seq, account: s.defaultAccount,
		current: map[rrKey]RecordSet{}, published: map[rrKey]RecordSet{},
	}
	// Route 53 creates the apex SOA and NS sets with every new zone.
	soa := RecordSet{Name: apex, Type: "SOA", TTL: 900,
		Values: []string{nameServers[0] + " awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}}
	ns := RecordSet{Name: apex, Type: "NS", TTL: 172800, Values: append([]string(nil), nameServers...)}
	for _, rs := range []RecordSet{soa, ns} {
		z.current[keyOf(rs)] = rs.clone()
		// The zone's own records are served at once: a zone that exists without its SOA
		// would make the DNS view inconsistent, and no test waits on zone creation.
		z.published[keyOf(rs)] = rs.clone()
	}
	s.zones[id] = z
	s.refs[callerRef] = id
	c := s.newChangeLocked(comment)
	return z, c, nil
}

// Records returns the zone's record sets as the API sees them (every accepted change,
// PENDING or not), in ListResourceRecordSets order. Unknown zone: nil.
func (s *Service) Records(zoneID string) []RecordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[trimID(zoneID, "/hostedzone/")]
	if z == nil {
		return nil
	}
	return sortedSets(z.current)
}

// Lookup answers the DNS view: only public zones, only changes that are INSYNC.
func (s *Service) Lookup(qname string) LookupResult {
	q, err := normalizeName(qname)
	if err != nil {
		return LookupResult{}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *zone
	for _, z := range s.zones {
		if z.private || !inZone(q, z.name) {
			continue
		}
		if best == nil || len(z.name) > len(best.name) || (len(z.name) == len(best.name) && z.seq < best.seq) {
			best = z
		}
	}
	if best == nil {
		return LookupResult{}
	}
	best.publish(now)
	res := LookupResult{Zone: best.name}
	for k, rs := range best.published {
		if k.name == q {
			res.Sets = append(res.Sets, rs.clone())
			res.Exists = true
		} else if strings.HasSuffix(k.name, "."+q) {
			res.Exists = true
		}
	}
	sortSetSlice(res.Sets)
	if rs, ok := best.published[rrKey{best.name, "SOA", ""}]; ok {
		c := rs.clone()
		res.SOA = &c
	}
	if rs, ok := best.published[rrKey{best.name, "NS", ""}]; ok {
		c := rs.clone()
		res.NS = &c
	}
	return res
}

// publish applies, in order, the pending changes whose INSYNC time has come.
func (z *zone) publish(now time.Time) {
	n := 0
	for _, pc := range z.pending {
		if now.Before(pc.insyncAt) {
			break
		}
		for k, rs := range pc.diff {
			if rs == nil {
				delete(z.published, k)
			} else {
				z.published[k] = rs.clone()
			}
		}
		n++
	}
	z.pending = z.pending[n:]
}

func (z *zone) hostedZoneXML() xmlHostedZone {
	h := xmlHostedZone{ID: "/hostedzone/" + z.id, Name: z.name, CallerReference: z.callerRef,
		ResourceRecordSetCount: len(z.current)}
	h.Config.Comment = z.comment
	h.Config.PrivateZone = z.private
	return h
}

// normalizeName returns name as Route 53 stores it: lowercase, absolute, and with every
// character other than a-z, 0-9, '-', '_' and '.' written as a \ooo octal escape.
// Escapes in the input (\ooo octal, or \c) are decoded first.
func normalizeName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty name")
	}
	var raw []byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '\\' {
			if i+3 < len(name) && isOctal(name[i+1]) && isOctal(name[i+2]) && isOctal(name[i+3]) {
				raw = append(raw, (name[i+1]-'0')*64+(name[i+2]-'0')*8+(name[i+3]-'0'))
				i += 3
				continue
			}
			if i+1 < len(name) {
				raw = append(raw, name[i+1])
				i++
				continue
			}
		}
		raw = append(raw, c)
	}
	s := strings.ToLower(string(raw))
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	if s != "." && (strings.HasPrefix(s, ".") || strings.Contains(s, "..")) {
		return "", fmt.Errorf("empty label in %q", name)
	}
	if len(s) > 255 {
		return "", fmt.Errorf("name longer than 255 characters")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	return b.String(), nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// inZone reports whether the normalized name lies in (or is) the zone apex.
func inZone(name, apex string) bool {
	return name == apex || apex == "." || strings.HasSuffix(name, "."+apex)
}

// reversedKey orders names as Route 53 lists them: labels reversed, trailing dot kept,
// so "www.example.com." sorts as "com.example.www.".
func reversedKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".") + "."
}

func lessSet(a, b RecordSet) bool {
	ka, kb := reversedKey(a.Name), reversedKey(b.Name)
	if ka != kb {
		return ka < kb
	}
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	return a.SetIdentifier < b.SetIdentifier
}

func sortSetSlice(sets []RecordSet) {
	sort.Slice(sets, func(i, j int) bool { return lessSet(sets[i], sets[j]) })
}

func sortedSets(m map[rrKey]RecordSet) []RecordSet {
	out := make([]RecordSet, 0, len(m))
	for _, rs := range m {
		out = append(out, rs.clone())
	}
	sortSetSlice(out)
	return out
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID returns n random uppercase letters and digits, the alphabet of Route 53 IDs.
func randomID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}

// trimID strips the resource prefix ("/hostedzone/", "/change/") the SDK may send.
func trimID(id, prefix string) string {
	id = strings.TrimPrefix(id, prefix)
	return strings.TrimPrefix(id, strings.TrimPrefix(prefix, "/"))
}
