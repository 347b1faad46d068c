package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

const persistSynopsis = `plan | apply   [--only NAME]... [--timeout D] [--config F] [--log-level L] [--log-format F]`

const persistHelp = `dns-persist-01 (experimental; docs/dns.md): the standing _validation-persist TXT records
of the certificates configured with challenge: dns-persist-01.

  plan   prints each record (zone, name, value) and whether it is in place, and the CAA
         record to add; writes nothing
  apply  writes the records that are missing or out of date (one change per zone), for a
         role allowed to change the zones (deploy/iam/certferry-persist-apply-policy.json)

--timeout bounds the whole command (default 2m for plan, which only reads; 35m for apply,
which waits for Route 53 to report its changes INSYNC): a call that has not answered by
then ends it with exit 3, naming the call.

Exit codes: plan: 0 every record in place, 1 some missing or out of date; apply: 0 every
record in place, 1 a write failed; both: 2 bad usage or configuration, 3 the CA or AWS did
not answer (or not within --timeout).`

// cmdPersist is `certferry persist plan|apply`.
func cmdPersist(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("persist", persistSynopsis, stderr)
	fs.Usage = usageWith(fs, stderr, "persist", persistSynopsis, persistHelp)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	var only stringList
	fs.Var(&only, "only", "only this certificate (repeatable)")
	timeout := timeoutFlag(fs, "2m for plan, 35m for apply")
	logs := logging.AddFlags(fs, "")
	pos, code, ok := parseWithArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || (pos[0] != "plan" && pos[0] != "apply") {
		fmt.Fprintf(stderr, "certferry persist: want plan or apply, got %q\n", strings.Join(pos, " "))
		return exitUsage
	}
	ctx, finish, ok := bound(ctx, fs, "persist", *timeout, map[bool]time.Duration{false: defaultReadTimeout, true: defaultOrderTimeout}[pos[0] == "apply"], stderr)
	if !ok {
		return exitUsage
	}
	defer finish(&code)
	a, done, code := lifecycleApp(ctx, "persist", *cfgPath, logs, stderr)
	if code != 0 {
		return code
	}
	defer done()
	if msg := persistOnly(a.Config, only); msg != "" {
		fmt.Fprintf(stderr, "certferry persist: %s\n", msg)
		return exitUsage
	}
	p, err := a.Persist(ctx, only)
	if err != nil {
		fmt.Fprintf(stderr, "certferry persist: %v\n", err)
		return exitUnknown
	}
	states, errs := a.DNS().CheckPersist(ctx, p.DNSRecords())
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "certferry persist: %v\n", err)
		return exitUnknown
	}
	if pos[0] == "plan" {
		printPersist(stdout, p, states)
		for _, s := range states {
			if !s.Current {
				return exitFailed
			}
		}
		return exitOK
	}
	return persistApply(ctx, a, p, states, stdout, stderr)
}

// persistOnly checks --only: every name a configured certificate that uses
// dns-persist-01, and at least one such certificate configured.
func persistOnly(cfg *config.Config, only []string) string {
	var persist []string
	for _, c := range cfg.Certificates {
		if c.Challenge == config.ChallengeDNSPersist01 {
			persist = append(persist, c.Name)
		}
	}
	if len(persist) == 0 {
		return "no certificate is configured with challenge: dns-persist-01"
	}
	for _, n := range only {
		if !slices.Contains(persist, n) {
			return fmt.Sprintf("--only %q: not a configured certificate with challenge: dns-persist-01 (those are %s)", n, strings.Join(persist, ", "))
		}
	}
	return ""
}

// persistApply writes the records not in place and prints the result.
func persistApply(ctx context.Context, a *app.App, p *app.Persist, states []route53.PersistState, stdout, stderr io.Writer) int {
	recs := p.DNSRecords()
	var todo []route53.Record
	var idx []int
	for i, s := range states {
		if !s.Current {
			todo = append(todo, recs[i])
			idx = append(idx, i)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "every record is in place (%d)\n", len(recs))
		return exitOK
	}
	// One line per name written (a wildcard and its apex share one), naming the
	// certificates it serves.
	var names []string
	certsOf := map[string][]string{}
	bad := map[string]bool{}
	for j, err := range a.DNS().Present(ctx, todo) {
		r, name := p.Records[idx[j]], strings.TrimSuffix(states[idx[j]].Target.FQDN, ".")
		if err != nil {
			fmt.Fprintf(stderr, "certferry persist: %s: %v\n", r.Cert, err)
			bad[name] = true
			continue
		}
		if certsOf[name] == nil {
			names = append(names, name)
		}
		certsOf[name] = append(certsOf[name], r.Cert)
	}
	for _, n := range names {
		if !bad[n] {
			fmt.Fprintf(stdout, "written: %s (%s)\n", n, strings.Join(certsOf[n], ", "))
		}
	}
	if len(bad) > 0 {
		return exitFailed
	}
	return exitOK
}

// printPersist prints the records and the CAA record to add.
func printPersist(w io.Writer, p *app.Persist, states []route53.PersistState) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE\tZONE\tNAME\tSTATE\tVALUE")
	zones := map[string]bool{}
	wild := map[string]bool{}
	var zoneList []string
	for i, r := range p.Records {
		s := states[i]
		state := "in place"
		switch {
		case s.Current:
		case slices.ContainsFunc(s.Values, r.Want.Owns):
			state = "out of date"
		default:
			state = "missing"
		}
		name := strings.TrimSuffix(s.Target.FQDN, ".")
		if s.Target.FQDN != r.Want.FQDN {
			name += " (CNAME from " + strings.TrimSuffix(r.Want.FQDN, ".") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%q\n", r.Cert, s.Target.ZoneID, name, state, r.DNS.Value)
		if !zones[r.Want.Domain] {
			zones[r.Want.Domain] = true
			zoneList = append(zoneList, r.Want.Domain)
		}
		wild[r.Want.Domain] = wild[r.Want.Domain] || r.Want.Wildcard
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nCAA: allow only this account and only dns-persist-01 (RFC 8657; docs/dns.md), at each name or its zone apex:\n")
	for _, d := range zoneList {
		fmt.Fprintf(w, "  %s. CAA 0 issue %q\n", d, p.CAA())
		if wild[d] {
			fmt.Fprintf(w, "  %s. CAA 0 issuewild %q\n", d, p.CAA())
		}
	}
}

// retirePersist removes the dns-persist-01 records of a retired certificate that no
// other configured certificate needs (only this CA's values for this account), also
// when no configured certificate uses dns-persist-01 any more: the retired one may have
// (a certificate switched back to dns-01, the last one removed from the configuration).
// It reads only the stored account, never registering one. A record whose CNAME leads
// where a record another certificate needs lives is kept. When no configured
// certificate uses dns-persist-01, a failed check is only a note: the certificate most
// likely never had records.
func retirePersist(ctx context.Context, a *app.App, st smsink.Stored, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		if !a.UsesPersist() {
			fmt.Fprintf(stderr, "certferry retire: note: could not check for dns-persist-01 records: %v\n", err)
			return exitOK
		}
		fmt.Fprintf(stderr, "certferry retire: dns-persist-01 records: %v\n", err)
		return exitFailed
	}
	domains := st.Domains
	if st.DomainsTruncated {
		b, _, err := a.Secrets().Get(ctx, st.Secret)
		if err != nil {
			return fail(fmt.Errorf("read the names: %w", err))
		}
		domains = b.Domains
	}
	p, keep, err := a.RetiredPersist(ctx, st.Name, domains)
	if err != nil {
		return fail(err)
	}
	rm, names, err := retiredRecords(ctx, a, p, keep)
	if err != nil {
		return fail(err)
	}
	failed := false
	for i, err := range a.DNS().CleanUp(ctx, rm) {
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "certferry retire: %v\n", err)
			continue
		}
		fmt.Fprintf(stdout, "%s: removed the dns-persist-01 record at %s\n", st.Secret, names[i])
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

// retiredRecords returns the records of p that hold a value of this CA and account and
// whose target (the end of their CNAME chain) is not where one of keep lives, with the
// target names to print.
func retiredRecords(ctx context.Context, a *app.App, p *app.Persist, keep []renew.PersistRecord) ([]route53.Record, []string, error) {
	if len(p.Records) == 0 {
		return nil, nil, nil
	}
	recs := p.DNSRecords()
	states, errs := a.DNS().CheckPersist(ctx, recs)
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	kept := map[[2]string]bool{}
	if len(keep) > 0 {
		others := make([]renew.Record, len(keep))
		for i, r := range keep {
			others[i] = r.DNS
		}
		targets, errs := a.DNS().Targets(ctx, app.Route53Records(others))
		if err := errors.Join(errs...); err != nil {
			return nil, nil, fmt.Errorf("where the other certificates' records live (nothing removed): %w", err)
		}
		for _, t := range targets {
			kept[[2]string{t.ZoneID, t.FQDN}] = true
		}
	}
	var rm []route53.Record
	var names []string
	for i, s := range states {
		if kept[[2]string{s.Target.ZoneID, s.Target.FQDN}] || !slices.ContainsFunc(s.Values, p.Records[i].Want.Owns) {
			continue
		}
		rm = append(rm, recs[i])
		names = append(names, strings.TrimSuffix(s.Target.FQDN, "."))
	}
	return rm, names, nil
}
