package sandbox

import (
	"fmt"
	"sort"
	"strings"

	"github.com/certferry/certferry/internal/sandbox/r53sim"
)

// createCNAMEs writes each CNAME into the longest zone (of any account) holding its
// name, in a stable order.
func (s *Sandbox) createCNAMEs(cnames map[string]string, zones map[string]string) error {
	names := make([]string, 0, len(cnames))
	for n := range cnames {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		name := fqdn(n)
		best := ""
		for z := range zones {
			if (name == z || strings.HasSuffix(name, "."+z)) && len(z) > len(best) {
				best = z
			}
		}
		if best == "" {
			return fmt.Errorf("sandbox: start: CNAME %s: no hosted zone holds the name", n)
		}
		if name == best {
			return fmt.Errorf("sandbox: start: CNAME %s: not allowed at a zone's apex", n)
		}
		rs := r53sim.RecordSet{Name: name, Type: "CNAME", TTL: 300, Values: []string{fqdn(cnames[n])}}
		if err := s.r53.PutRecordSet(zones[best], rs); err != nil {
			return fmt.Errorf("sandbox: start: %w", err)
		}
	}
	return nil
}
