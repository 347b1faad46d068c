package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
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
	p, err := a.newPersist(ctx)
	if err != nil {
		return nil, err
	}
	var certs []renew.Cert
	for _, c := range a.certs {
		if len(only) == 0 || slices.Contains(only, c.Name) {
			certs = append(certs, c)
		}
	}
	p.Records = renew.PersistRecordsAmong(certs, a.certs, p.Issuer, p.AccountURL, a.now())
	return p, nil
}

// newPersist opens the account (registering it once, as a pass would) and reads the
// CA's issuer domain name: a Persist with no records yet.
func (a *App) newPersist(ctx context.Context) (*Persist, error) {
	client, err := a.ACME(ctx)
	if err != nil {
		return nil, err
	}
	issuer, err := client.PersistIssuer(ctx)
	if err != nil {
		return nil, err
	}
	return &Persist{Issuer: issuer, AccountURL: client.AccountURL()}, nil
}

// DNSRecords are the records as the DNS provider writes them.
func (p *Persist) DNSRecords() []route53.Record {
	recs := make([]renew.Record, len(p.Records))
	for i, r := range p.Records {
		recs[i] = r.DNS
	}
	return Route53Records(recs)
}

// CAA is the CAA issue value to recommend: this account only, dns-persist-01 only.
func (p *Persist) CAA() string { return acme.CAAValue(p.Issuer, p.AccountURL) }

// RetiredPersist returns the dns-persist-01 records of domains (a retired certificate's
// names) that no configured certificate other than name still needs (a wildcard and its
// apex share a record, so a name another certificate orders keeps it), and keep: the
// records the other configured certificates need, so that the caller can also spare a
// record whose CNAME leads where one of theirs does. It reads only (the stored account,
// the CA's directory) and registers no account, so it works whatever challenge the
// configuration uses now: a certificate switched back to dns-01, or the last one using
// dns-persist-01 removed from the configuration, still had records. With no account
// stored for the CA, or a CA that names no issuer, no record can name this account: p
// has no records.
func (a *App) RetiredPersist(ctx context.Context, name string, domains []string) (p *Persist, keep []renew.PersistRecord, err error) {
	acct, err := a.storedAccount(ctx)
	if errors.Is(err, acme.ErrNoAccount) {
		return &Persist{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	ids, err := a.caaIdentities(ctx)
	if err != nil {
		return nil, nil, err
	}
	issuer := persistIssuer(ids)
	if issuer == "" {
		return &Persist{}, nil, nil
	}
	p = &Persist{Issuer: issuer, AccountURL: acct.URL}
	var others []renew.Cert
	base := renew.Cert{Name: name}
	for _, c := range a.certs {
		if c.Name == name {
			base = c
		} else if c.Challenge == renew.ChallengeDNSPersist01 {
			others = append(others, c)
		}
	}
	keep = renew.PersistRecords(others, issuer, acct.URL, a.now())
	needed := map[string]bool{}
	for _, r := range keep {
		needed[r.Want.FQDN] = true
	}
	base.Domains, base.Challenge, base.PersistUntil = domains, renew.ChallengeDNSPersist01, 0
	for _, r := range renew.PersistRecords([]renew.Cert{base}, issuer, acct.URL, a.now()) {
		if !needed[r.Want.FQDN] {
			p.Records = append(p.Records, r)
		}
	}
	return p, keep, nil
}

// storedAccount reads the stored account of the configured CA (and EAB key id), without
// registering one: acme.ErrNoAccount when none is stored or it has no URL yet.
func (a *App) storedAccount(ctx context.Context) (*acme.Account, error) {
	kid := ""
	if e := a.Config.ACME.EAB; e != nil {
		kid = e.KID
	}
	acct, err := a.AccountStore().Load(ctx, a.Config.ACME.Directory, kid)
	if err == nil && acct.URL == "" {
		err = acme.ErrNoAccount
	}
	return acct, err
}

// persistIssuer is the issuer domain name dns-persist-01 records name, from the CA's
// meta.caaIdentities, as acme.Client.PersistIssuer reads it: the first non-empty one;
// "" when there is none.
func persistIssuer(ids []string) string {
	for _, id := range ids {
		if id = strings.ToLower(strings.TrimSpace(id)); id != "" {
			return id
		}
	}
	return ""
}

// PersistFallbacks says, reading only the CA's directory, which certificates configured
// with dns-persist-01 will be validated with dns-01 instead: every one when the CA's
// directory names no issuer (meta.caaIdentities), or when it is Let's Encrypt's
// production CA, which holds dns-persist-01 while its staging CA serves it. A CA that
// names an issuer but offers no dns-persist-01 challenge shows only at the order (the
// pass logs the fallback).
func (a *App) PersistFallbacks(ctx context.Context) ([]string, error) {
	if !a.UsesPersist() {
		return nil, nil
	}
	var why string
	if a.Config.ACME.Directory == config.LetsEncryptURL {
		why = "Let's Encrypt production does not offer dns-persist-01 yet (its staging CA does)"
	} else {
		ids, err := a.caaIdentities(ctx)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			why = a.Config.ACME.Directory + " names no issuer for dns-persist-01 records (no meta.caaIdentities)"
		}
	}
	if why == "" {
		return nil, nil
	}
	var out []string
	for i, c := range a.Config.Certificates {
		if c.Challenge == config.ChallengeDNSPersist01 {
			out = append(out, fmt.Sprintf("certificates[%d] (%s): challenge dns-persist-01 will fall back to dns-01: %s", i, c.Name, why))
		}
	}
	return out, nil
}

// caaIdentities reads the CA's directory's meta.caaIdentities.
func (a *App) caaIdentities(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, directoryTimeout)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Config.ACME.Directory, nil)
	if err != nil {
		return nil, fmt.Errorf("acme.directory: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("acme.directory: %w", err)
	}
	defer resp.Body.Close()
	var d struct {
		Meta struct {
			CAAIdentities []string `json:"caaIdentities"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDirectory)).Decode(&d); err != nil {
		return nil, fmt.Errorf("acme.directory: read %s: %w", a.Config.ACME.Directory, err)
	}
	return d.Meta.CAAIdentities, nil
}

// Persist record states of PersistPresence.
const (
	PersistPresent = "present" // every record of the certificate is in place
	PersistMissing = "missing" // a record is missing or out of date: the next pass writes it, or fails before ordering
)

// PersistPresence reads, writing nothing and registering no account, whether the
// records of each certificate configured with dns-persist-01 are in place: name ->
// PersistPresent, PersistMissing, or "unknown: <why>" (no account stored yet, the CA
// names no issuer, a zone unreadable).
func (a *App) PersistPresence(ctx context.Context) map[string]string {
	out := map[string]string{}
	var certs []renew.Cert
	for _, c := range a.certs {
		if c.Challenge == renew.ChallengeDNSPersist01 {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return out
	}
	unknown := func(why string) map[string]string {
		for _, c := range certs {
			out[c.Name] = "unknown: " + why
		}
		return out
	}
	acct, err := a.storedAccount(ctx)
	switch {
	case errors.Is(err, acme.ErrNoAccount):
		return unknown("no ACME account registered yet")
	case err != nil:
		return unknown(err.Error())
	case acct.Deactivated:
		// Records naming a deactivated account authorise nothing: the next pass
		// registers a new account and needs records naming it.
		for _, c := range certs {
			out[c.Name] = PersistMissing
		}
		return out
	}
	url := acct.URL
	ids, err := a.caaIdentities(ctx)
	if err != nil {
		return unknown(err.Error())
	}
	issuer := persistIssuer(ids)
	if issuer == "" {
		return unknown("the CA names no issuer (dns-01 is used)")
	}
	recs := renew.PersistRecords(certs, issuer, url, a.now())
	dns := make([]renew.Record, len(recs))
	for i, r := range recs {
		dns[i] = r.DNS
	}
	states, errs := a.dns.CheckPersist(ctx, Route53Records(dns))
	for i, r := range recs {
		switch {
		case errs[i] != nil:
			out[r.Cert] = "unknown: " + errs[i].Error()
		case !states[i].Current && !strings.HasPrefix(out[r.Cert], "unknown"):
			out[r.Cert] = PersistMissing
		case out[r.Cert] == "":
			out[r.Cert] = PersistPresent
		}
	}
	return out
}
