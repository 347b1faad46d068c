package route53

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSChecker is the optional check after INSYNC (route53.propagation_check): it asks
// each resolver for the TXT name until every one of them answers every value. INSYNC
// means Route 53's own name servers serve the change; this is for setups where
// something else stands between them and the CA (a split-horizon or forwarding
// resolver the operator wants to see agree first).
type DNSChecker struct {
	// Resolvers are host:port addresses; empty means those of /etc/resolv.conf.
	Resolvers []string
	// Timeout bounds the wait for one name (default 2m); Interval is the pause between
	// rounds (default 2s).
	Timeout, Interval time.Duration
}

var _ Checker = DNSChecker{}

// Check waits until every resolver serves all of values at fqdn.
func (c DNSChecker) Check(ctx context.Context, fqdn string, values []string) error {
	servers := c.Resolvers
	if len(servers) == 0 {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return fmt.Errorf("propagation check %s: no resolvers configured and %w", fqdn, err)
		}
		for _, s := range conf.Servers {
			servers = append(servers, net.JoinHostPort(s, conf.Port))
		}
	}
	timeout, interval := c.Timeout, c.Interval
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	name := dns.Fqdn(fqdn)
	var last error
	for {
		err := c.round(ctx, servers, name, values)
		if err == nil {
			return nil
		}
		// A round the deadline cut short failed with "i/o timeout" or the like, which
		// says nothing about the record: keep what the last complete round found (say,
		// "serves 1 of 2 values") so the error tells the operator what is wrong. The
		// clock, not ctx.Err, tells: the socket's deadline can fire before ctx's timer.
		if cutShort := ctx.Err() != nil || !time.Now().Before(deadline); last == nil || !cutShort {
			last = err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("propagation check %s: %w (last: %w)", fqdn, context.Cause(ctx), last)
		case <-t.C:
		}
	}
}

// round asks every server once; nil means all of them serve every value.
func (c DNSChecker) round(ctx context.Context, servers []string, name string, values []string) error {
	for _, s := range servers {
		got, err := lookupTXT(ctx, s, name)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if missing := missingValues(values, got); len(missing) > 0 {
			return fmt.Errorf("%s does not serve %d of %d value(s) yet", s, len(missing), len(values))
		}
	}
	return nil
}

// lookupTXT asks server for the TXT strings at name, over UDP with a retry over TCP
// when the answer was truncated.
func lookupTXT(ctx context.Context, server, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.RecursionDesired = true
	in, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		in, _, err = (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, err
	}
	if in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError {
		return nil, errors.New("answered " + dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.EqualFold(txt.Hdr.Name, name) {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out, nil
}

func missingValues(want, got []string) []string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	return missing
}
