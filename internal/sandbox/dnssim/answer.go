package dnssim

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"

	"github.com/certferry/certferry/internal/sandbox/r53sim"
)

// maxCNAMEChain bounds CNAME chasing inside the served zones (loops are possible).
const maxCNAMEChain = 8

func serve(w dns.ResponseWriter, r *dns.Msg, src Source) {
	m := answer(r, src)
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		// Many TXT values outgrow a datagram: truncate (TC bit) so the client retries over TCP.
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m) // a client that went away is not our problem
}

// answer builds the authoritative response to r.
func answer(r *dns.Msg, src Source) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = false
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		if len(r.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
		}
		return m
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return m
	}
	// Answers keep the question's spelling: resolvers that randomize case (0x20) check it.
	name := q.Name
	res := src.Lookup(octalEscapes(name))
	if res.Zone == "" {
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true

	seen := map[string]bool{}
	for range maxCNAMEChain {
		seen[strings.ToLower(name)] = true
		if cname := pick(res.Sets, "CNAME"); cname != nil && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, toRRs(name, *cname)...)
			target := strings.ToLower(dns.Fqdn(firstValue(*cname)))
			next := src.Lookup(octalEscapes(target))
			if next.Zone == "" || seen[target] {
				// Out of our zones (the resolver follows it) or a loop: answer what we have.
				return m
			}
			name, res = target, next
			continue
		}
		break
	}

	for _, rs := range res.Sets {
		if q.Qtype == dns.TypeANY || dns.StringToType[rs.Type] == q.Qtype {
			m.Answer = append(m.Answer, toRRs(name, rs)...)
		}
	}
	if len(m.Answer) > 0 {
		return m
	}
	if !res.Exists {
		m.Rcode = dns.RcodeNameError
	}
	// NXDOMAIN or NODATA: the SOA in authority lets resolvers cache the negative answer.
	if res.SOA != nil {
		m.Ns = append(m.Ns, negativeSOA(*res.SOA)...)
	}
	return m
}

// octalEscapes rewrites miekg/dns's decimal \DDD escapes as the \ooo octal escapes
// Route 53 uses, so names with unusual characters reach the source unchanged.
func octalEscapes(name string) string {
	if !strings.Contains(name, "\\") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]) {
			v := int(name[i+1]-'0')*100 + int(name[i+2]-'0')*10 + int(name[i+3]-'0')
			fmt.Fprintf(&b, "\\%03o", v)
			i += 3
			continue
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// pick returns the first set of type typ, if any.
func pick(sets []r53sim.RecordSet, typ string) *r53sim.RecordSet {
	for i := range sets {
		if sets[i].Type == typ {
			return &sets[i]
		}
	}
	return nil
}

func firstValue(rs r53sim.RecordSet) string {
	if len(rs.Values) == 0 {
		return ""
	}
	return rs.Values[0]
}

// negativeSOA returns the SOA with the TTL RFC 2308 asks for: min(SOA TTL, SOA MINIMUM).
func negativeSOA(rs r53sim.RecordSet) []dns.RR {
	rrs := toRRs(rs.Name, rs)
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && soa.Minttl < soa.Hdr.Ttl {
			soa.Hdr.Ttl = soa.Minttl
		}
	}
	return rrs
}

// toRRs converts a Route 53 record set to DNS records owned by owner. Route 53 stores
// values in presentation format, so everything but TXT goes through the zone-file parser;
// TXT is parsed with r53sim.ParseTXT so quoting works exactly as Route 53 defines it.
func toRRs(owner string, rs r53sim.RecordSet) []dns.RR {
	ttl := uint32(rs.TTL)
	var out []dns.RR
	for _, v := range rs.Values {
		switch rs.Type {
		case "TXT", "SPF":
			strs, err := r53sim.ParseTXT(v)
			if err != nil {
				continue // r53sim accepted nothing else; skip rather than answer garbage
			}
			hdr := dns.RR_Header{Name: owner, Rrtype: dns.StringToType[rs.Type], Class: dns.ClassINET, Ttl: ttl}
			// miekg/dns keeps TXT strings in escaped presentation form when packing.
			esc := make([]string, len(strs))
			for i, s := range strs {
				esc[i] = escapeTXT(s)
			}
			if rs.Type == "SPF" {
				out = append(out, &dns.SPF{Hdr: hdr, Txt: esc})
			} else {
				out = append(out, &dns.TXT{Hdr: hdr, Txt: esc})
			}
		default:
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", owner, ttl, rs.Type, v))
			if err != nil || rr == nil {
				continue
			}
			out = append(out, rr)
		}
	}
	return out
}

// escapeTXT turns raw bytes into the escaped form miekg/dns expects in TXT.Txt.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
