package app

import (
	"context"
	"slices"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
)

// Persist is what the dns-persist-01 commands (persist plan and apply, status,
// validate, retire) work on: the records of the configured certificates that use it
// (docs/dns.md), for the configured CA and account.
type Persist struct {
	Issuer     string
	AccountURL string
	Records    []renew.PersistRecord
}

// UsesPersist reports whether any configured certificate uses dns-persist-01.
func (a *App) UsesPersist() bool {
	return slices.ContainsFunc(a.certs, func(c renew.Cert) bool { return c.Challenge == renew.ChallengeDNSPersist01 })
}

// Persist returns the dns-persist-01 records of the configured certificates named in
// only (every one when empty). It opens the ACME account (and registers it, once, as a
// pass would) to learn its URL, and reads the CA's issuer domain name; a CA that names
// none is acme.ErrNoPersistIssuer.
func (a *App) Persist(ctx context.Context, only []string) (*Persist, error) {
	client, err := a.ACME(ctx)
	if err != nil {
		return nil, err
	}
	issuer, err := client.PersistIssuer(ctx)
	if err != nil {
		return nil, err
	}
	var certs []renew.Cert
	for _, c := range a.certs {
		if len(only) == 0 || slices.Contains(only, c.Name) {
			certs = append(certs, c)
		}
	}
	p := &Persist{Issuer: issuer, AccountURL: client.AccountURL()}
	p.Records = renew.PersistRecords(certs, issuer, p.AccountURL, a.now())
	return p, nil
}

// DNSRecords are the records as the DNS provider writes them.
func (p *Persist) DNSRecords() []route53.Record {
	out := make([]route53.Record, len(p.Records))
	for i, r := range p.Records {
		out[i] = r.DNS
	}
	return out
}

// CAA is the CAA issue value to recommend: this account only, dns-persist-01 only.
func (p *Persist) CAA() string { return acme.CAAValue(p.Issuer, p.AccountURL) }

// RetiredPersist returns the dns-persist-01 records of domains (a retired certificate's
// names) that no configured certificate other than name still needs: a wildcard and its
// apex share a record, so a name another certificate orders keeps it.
func (a *App) RetiredPersist(ctx context.Context, name string, domains []string) (*Persist, error) {
	client, err := a.ACME(ctx)
	if err != nil {
		return nil, err
	}
	issuer, err := client.PersistIssuer(ctx)
	if err != nil {
		return nil, err
	}
	needed := map[string]bool{}
	var base renew.Cert
	for _, c := range a.certs {
		if c.Name == name {
			base = c
			continue
		}
		if c.Challenge != renew.ChallengeDNSPersist01 {
			continue
		}
		for _, r := range acme.PersistRecords(c.Domains, issuer, "", time.Time{}) {
			needed[r.FQDN] = true
		}
	}
	base.Name, base.Domains, base.Challenge = name, domains, renew.ChallengeDNSPersist01
	base.PersistUntil = 0
	p := &Persist{Issuer: issuer, AccountURL: client.AccountURL()}
	for _, r := range renew.PersistRecords([]renew.Cert{base}, issuer, p.AccountURL, a.now()) {
		if !needed[r.Want.FQDN] {
			p.Records = append(p.Records, r)
		}
	}
	return p, nil
}
