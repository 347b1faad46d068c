package dnssim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/r53sim"
	"github.com/certferry/certferry/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSource is a hand-written Source: one public zone, example.com.
type fakeSource map[string]r53sim.LookupResult

func (f fakeSource) Lookup(q string) r53sim.LookupResult {
	q = strings.ToLower(q)
	if r, ok := f[q]; ok {
		return r
	}
	if strings.HasSuffix(q, ".example.com.") || q == "example.com." {
		return r53sim.LookupResult{Zone: "example.com.", SOA: &soa}
	}
	return r53sim.LookupResult{}
}

var soa = r53sim.RecordSet{Name: "example.com.", Type: "SOA", TTL: 900,
	Values: []string{"ns-1.awsdns-sandbox.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}}

func newFake() fakeSource {
	return fakeSource{
		"_acme-challenge.example.com.": {Zone: "example.com.", Exists: true, SOA: &soa, Sets: []r53sim.RecordSet{
			{Name: "_acme-challenge.example.com.", Type: "TXT", TTL: 60, Values: []string{`"tok-1"`, `"part \"one\"" "part two"`}},
		}},
		"b.example.com.":    {Zone: "example.com.", Exists: true, SOA: &soa}, // empty non-terminal
		"www.example.com.":  {Zone: "example.com.", Exists: true, SOA: &soa, Sets: []r53sim.RecordSet{{Name: "www.example.com.", Type: "CNAME", TTL: 300, Values: []string{"host.example.com"}}}},
		"host.example.com.": {Zone: "example.com.", Exists: true, SOA: &soa, Sets: []r53sim.RecordSet{{Name: "host.example.com.", Type: "A", TTL: 300, Values: []string{"192.0.2.7"}}}},
		"ext.example.com.":  {Zone: "example.com.", Exists: true, SOA: &soa, Sets: []r53sim.RecordSet{{Name: "ext.example.com.", Type: "CNAME", TTL: 300, Values: []string{"elsewhere.net."}}}},
	}
}

func start(t *testing.T, src Source) *Server {
	t.Helper()
	s, err := Start(context.Background(), "127.0.0.1:0", src)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: testwait.For(0)} // a local query: a step
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

func txtOf(r *dns.Msg) [][]string {
	var out [][]string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, t.Txt)
		}
	}
	return out
}

func TestAnswers(t *testing.T) {
	s := start(t, newFake())
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers []string // answer RR types in order
		soa     bool     // SOA in authority
		aa      bool
	}{
		{"TXT", "_acme-challenge.example.com.", dns.TypeTXT, dns.RcodeSuccess, []string{"TXT", "TXT"}, false, true},
		{"case-insensitive", "_ACME-Challenge.Example.COM.", dns.TypeTXT, dns.RcodeSuccess, []string{"TXT", "TXT"}, false, true},
		{"NODATA: name exists, no such type", "_acme-challenge.example.com.", dns.TypeA, dns.RcodeSuccess, nil, true, true},
		{"NODATA: empty non-terminal", "b.example.com.", dns.TypeTXT, dns.RcodeSuccess, nil, true, true},
		{"NXDOMAIN", "nope.example.com.", dns.TypeTXT, dns.RcodeNameError, nil, true, true},
		{"REFUSED outside every zone", "example.org.", dns.TypeTXT, dns.RcodeRefused, nil, false, false},
		{"CNAME chased inside the zone", "www.example.com.", dns.TypeA, dns.RcodeSuccess, []string{"CNAME", "A"}, false, true},
		{"CNAME asked for itself", "www.example.com.", dns.TypeCNAME, dns.RcodeSuccess, []string{"CNAME"}, false, true},
		{"CNAME out of the zones", "ext.example.com.", dns.TypeTXT, dns.RcodeSuccess, []string{"CNAME"}, false, true},
	}
	for _, tc := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				r := query(t, s.Addr(), network, tc.qname, tc.qtype)
				if r.Rcode != tc.rcode {
					t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				if r.Authoritative != tc.aa {
					t.Errorf("AA = %v, want %v", r.Authoritative, tc.aa)
				}
				var got []string
				for _, rr := range r.Answer {
					got = append(got, dns.TypeToString[rr.Header().Rrtype])
				}
				if !slices.Equal(got, tc.answers) {
					t.Errorf("answer types = %v, want %v", got, tc.answers)
				}
				hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
				if hasSOA != tc.soa {
					t.Errorf("SOA in authority = %v, want %v (ns %v)", hasSOA, tc.soa, r.Ns)
				}
				if hasSOA && r.Ns[0].Header().Ttl != 900 {
					t.Errorf("negative TTL = %d, want min(SOA TTL, MINIMUM) = 900", r.Ns[0].Header().Ttl)
				}
			})
		}
	}
	// Route 53 quoting is turned into TXT character strings, escapes resolved.
	r := query(t, s.Addr(), "udp", "_acme-challenge.example.com.", dns.TypeTXT)
	want := [][]string{{"tok-1"}, {`part \"one\"`, "part two"}} // miekg keeps TXT strings escaped
	if got := txtOf(r); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("TXT strings = %q, want %q", got, want)
	}
	if r.Answer[0].Header().Name != "_acme-challenge.example.com." || r.Answer[0].Header().Ttl != 60 {
		t.Errorf("answer header = %+v", r.Answer[0].Header())
	}
}

// r53 wires a real r53sim behind HTTP, to drive it the way clients do.
type r53 struct {
	svc *r53sim.Service
	url string
	mu  sync.Mutex
	now time.Time
}

func (e *r53) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *r53) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *r53) upsertTXT(t *testing.T, zoneID, name, value string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change>
<Action>UPSERT</Action><ResourceRecordSet><Name>` + name + `</Name><Type>TXT</Type><TTL>60</TTL>
<ResourceRecords><ResourceRecord><Value>` + value + `</Value></ResourceRecord></ResourceRecords>
</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
	resp, err := http.Post(e.url+"/2013-04-01/hostedzone/"+zoneID+"/rrset", "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ChangeResourceRecordSets: HTTP %d", resp.StatusCode)
	}
}

func TestServesOnlyInsyncChanges(t *testing.T) {
	e := &r53{now: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	e.svc = r53sim.New(r53sim.Options{Calls: calls.New(), InsyncAfter: time.Minute, Now: e.clock})
	hs := httptest.NewServer(e.svc)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	pub, err := e.svc.CreateZone("example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := e.svc.CreateZone("corp.example.net", true)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, e.svc)

	e.upsertTXT(t, pub, "_acme-challenge.example.com", `"\&quot;token\&quot;"`)
	e.upsertTXT(t, priv, "_acme-challenge.corp.example.net", `"secret"`)

	for _, network := range []string{"udp", "tcp"} {
		if r := query(t, s.Addr(), network, "_acme-challenge.example.com.", dns.TypeTXT); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s while PENDING: rcode %s, want NXDOMAIN", network, dns.RcodeToString[r.Rcode])
		}
	}
	e.advance(time.Minute)
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, s.Addr(), network, "_acme-challenge.example.com.", dns.TypeTXT)
		if got := txtOf(r); r.Rcode != dns.RcodeSuccess || len(got) != 1 || !slices.Equal(got[0], []string{`\"token\"`}) {
			t.Errorf("%s after INSYNC: rcode %s, TXT %q", network, dns.RcodeToString[r.Rcode], got)
		}
		if r := query(t, s.Addr(), network, "example.com.", dns.TypeNS); len(r.Answer) != 4 {
			t.Errorf("%s apex NS: %v", network, r.Answer)
		}
		if r := query(t, s.Addr(), network, "example.com.", dns.TypeSOA); len(r.Answer) != 1 {
			t.Errorf("%s apex SOA: %v", network, r.Answer)
		}
		// A private zone is never served, even INSYNC.
		if r := query(t, s.Addr(), network, "_acme-challenge.corp.example.net.", dns.TypeTXT); r.Rcode != dns.RcodeRefused {
			t.Errorf("%s private zone: rcode %s, want REFUSED", network, dns.RcodeToString[r.Rcode])
		}
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := Start(context.Background(), "127.0.0.1:0", newFake())
	if err != nil {
		t.Fatal(err)
	}
	query(t, s.Addr(), "udp", "_acme-challenge.example.com.", dns.TypeTXT)
	query(t, s.Addr(), "tcp", "_acme-challenge.example.com.", dns.TypeTXT)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(context.Background(), "127.0.0.1:0", nil); err == nil {
		t.Error("nil source: want an error")
	}
	if _, err := Start(context.Background(), "not-an-address", newFake()); err == nil {
		t.Error("bad address: want an error")
	}
}

func TestLargeAnswerTruncatedOverUDP(t *testing.T) {
	var values []string
	for i := range 40 {
		values = append(values, `"`+strings.Repeat("v", 40)+string(rune('a'+i%26))+`"`)
	}
	src := newFake()
	src["big.example.com."] = r53sim.LookupResult{Zone: "example.com.", Exists: true, SOA: &soa,
		Sets: []r53sim.RecordSet{{Name: "big.example.com.", Type: "TXT", TTL: 60, Values: values}}}
	s := start(t, src)
	m := new(dns.Msg)
	m.SetQuestion("big.example.com.", dns.TypeTXT)
	r, _, err := (&dns.Client{Net: "udp", Timeout: testwait.For(0)}).Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("udp: %v", err)
	}
	if !r.Truncated {
		t.Errorf("a %d-value answer over plain UDP should be truncated", len(values))
	}
	if r := query(t, s.Addr(), "tcp", "big.example.com.", dns.TypeTXT); len(r.Answer) != len(values) {
		t.Errorf("tcp: %d answers, want %d", len(r.Answer), len(values))
	}
}
