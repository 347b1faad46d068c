package renew

// dns-persist-01 (experimental; docs/dns.md): a certificate with Challenge
// dns-persist-01 is validated by one standing TXT record per name at
// "_validation-persist.<name>", naming the CA's issuer domain name and the account. The
// preflight writes the records that are missing or no longer right, all of the pass's in
// one change per zone, before any order; a record already right is never rewritten, so
// the renewal of a certificate whose records stand makes no Route 53 write and waits for
// no INSYNC. A runner that cannot write (no route53:ChangeResourceRecordSets) still
// renews while the records stand; a missing one blocks the certificate before any order,
// naming the record and `certferry persist apply`.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
)

// ChallengeDNSPersist01 is Cert.Challenge for dns-persist-01; anything else is dns-01.
const ChallengeDNSPersist01 = acme.ChallengeDNSPersist01

// PersistACME is what dns-persist-01 needs of the ACME client besides ACME
// (*acme.Client has it). A client without it orders with dns-01.
type PersistACME interface {
	PersistIssuer(ctx context.Context) (string, error)
	AccountURL() string
}

// PersistRecord is one dns-persist-01 record a certificate needs: what the records are
// (Want) and how the DNS provider writes and judges them (DNS).
type PersistRecord struct {
	Cert string
	Want acme.PersistRecord
	DNS  Record
}

// persistJudge tells the DNS provider which values at a record's name are the
// record's own and which are current (Persist).
type persistJudge struct {
	rec      acme.PersistRecord
	minUntil time.Time
}

func (j persistJudge) Owns(raw string) bool    { return j.rec.Owns(raw) }
func (j persistJudge) Current(raw string) bool { return j.rec.Current(raw, j.minUntil) }

var _ Persist = persistJudge{}

// persistMinLeft is how long a value's persistUntil must still run for the value to
// count as current when the certificate sets no persist_until (a persistUntil written
// by hand, or left by an earlier persist_until): long enough for an order started now
// to be validated. A value past it authorises nothing (the CA refuses it), so it is
// rewritten like any other value no longer right.
const persistMinLeft = time.Hour

// PersistRecords returns the dns-persist-01 records of the certificates that use it:
// one per name, naming issuer and accountURL; with PersistUntil, the records carry
// persistUntil = now + PersistUntil, and a value whose persistUntil is less than a
// third of PersistUntil away is no longer current (it is rewritten ahead of time).
// Without PersistUntil, a value carrying a persistUntil less than persistMinLeft away
// is not current either. Certificates of certs sharing a name share its value
// (PersistRecordsAmong).
func PersistRecords(certs []Cert, issuer, accountURL string, now time.Time) []PersistRecord {
	return PersistRecordsAmong(certs, certs, issuer, accountURL, now)
}

// PersistRecordsAmong is PersistRecords for certs, with each name's value written to
// satisfy every certificate of all that needs the name: policy=wildcard when any of
// them orders the wildcard, and the longest persistUntil any of them wants. Each record
// is still judged by its own certificate's needs. Without that, a wildcard certificate
// and one for its apex with a persist_until each wanted a value the other refused:
// every pass that saw both failed, and one that saw one broke the other's record.
func PersistRecordsAmong(certs, all []Cert, issuer, accountURL string, now time.Time) []PersistRecord {
	shared := map[string]acme.PersistRecord{} // by FQDN: the value every certificate of all accepts
	for _, c := range all {
		for _, rec := range certPersist(c, issuer, accountURL, now) {
			m, ok := shared[rec.Want.FQDN]
			if !ok {
				m = rec.Want
			}
			m.Wildcard = m.Wildcard || rec.Want.Wildcard
			if rec.Want.Until.After(m.Until) {
				m.Until = rec.Want.Until
			}
			shared[rec.Want.FQDN] = m
		}
	}
	var out []PersistRecord
	for _, c := range certs {
		for _, rec := range certPersist(c, issuer, accountURL, now) {
			if m, ok := shared[rec.Want.FQDN]; ok {
				rec.DNS.Value = m.Value()
			}
			out = append(out, rec)
		}
	}
	return out
}

// certPersist returns one certificate's records, each valued and judged by its needs
// alone; none when it does not use dns-persist-01.
func certPersist(c Cert, issuer, accountURL string, now time.Time) []PersistRecord {
	if c.Challenge != ChallengeDNSPersist01 {
		return nil
	}
	until, minUntil := time.Time{}, now.Add(persistMinLeft)
	if c.PersistUntil > 0 {
		until, minUntil = now.Add(c.PersistUntil), now.Add(c.PersistUntil/3)
	}
	var out []PersistRecord
	for _, rec := range acme.PersistRecords(c.Domains, issuer, accountURL, until) {
		out = append(out, PersistRecord{Cert: c.Name, Want: rec,
			DNS: Record{FQDN: rec.FQDN, Value: rec.Value(), ZoneID: c.ZoneID, Route: c.DNS, Persist: persistJudge{rec: rec, minUntil: minUntil}}})
	}
	return out
}

// PersistApplyHint is what an error about a missing or stale record tells the operator.
const PersistApplyHint = `write it with "certferry persist apply" (a role allowed to change the zone), or give this runner route53:ChangeResourceRecordSets; reading it needs route53:ListResourceRecordSets`

// persistPreflight writes the dns-persist-01 records the due certificates need (those
// missing or no longer right), then tells each certificate with what to order: w.persist
// is the issuer its records name, or empty for dns-01 (the CA names no issuer: logged
// once). A record that cannot be written blocks its certificate before any order. A plan
// or a dry run (whose CA is another one) orders with dns-01 and writes nothing.
func (r *Runner) persistPreflight(ctx context.Context, due []*work, opts Options) {
	var persist []*work
	for _, w := range due {
		if w.cert.Challenge == ChallengeDNSPersist01 && w.alive() && !r.storesOnly(w) {
			persist = append(persist, w)
		}
	}
	if len(persist) == 0 || opts.Plan || opts.DryRun || r.deps.DNS == nil {
		return
	}
	client, err := r.deps.ACME(ctx)
	if err != nil {
		return // obtain reports it for every certificate
	}
	pc, ok := client.(PersistACME)
	if !ok {
		r.log.Warn("the ACME client cannot answer dns-persist-01: ordering with dns-01", zap.Int("certificates", len(persist)))
		return
	}
	issuer, err := pc.PersistIssuer(ctx)
	if errors.Is(err, acme.ErrNoPersistIssuer) {
		r.log.Warn("the CA names no issuer for dns-persist-01 records: these certificates fall back to dns-01", zap.Error(err), zap.Strings("certs", workNames(persist)))
		return
	}
	if err != nil {
		for _, w := range persist {
			r.block(ctx, w, fmt.Errorf("dns-persist-01: %w", err), opts)
		}
		return
	}
	var recs []PersistRecord
	var owner []*work
	now := r.deps.Now()
	for _, w := range persist {
		for _, rec := range PersistRecordsAmong([]Cert{w.cert}, r.certs, issuer, pc.AccountURL(), now) {
			recs = append(recs, rec)
			owner = append(owner, w)
		}
	}
	dnsRecs := make([]Record, len(recs))
	for i, rec := range recs {
		dnsRecs[i] = rec.DNS
	}
	errs := r.deps.DNS.Present(ctx, dnsRecs)
	failed := map[*work][]error{}
	for i, err := range errs {
		if err != nil {
			// The provider's error may be a read (the record may well be in place) or a
			// write: say neither is known.
			failed[owner[i]] = append(failed[owner[i]], fmt.Errorf("%s %q could not be confirmed in place (missing, out of date, or unreadable) nor written: %w",
				strings.TrimSuffix(recs[i].Want.FQDN, "."), recs[i].DNS.Value, err))
		}
	}
	for _, w := range persist {
		if errs := failed[w]; len(errs) > 0 {
			r.block(ctx, w, fmt.Errorf("dns-persist-01: %w; %s", errors.Join(errs...), PersistApplyHint), opts)
			continue
		}
		w.persist = issuer
	}
}

// persistFallback logs, once per pass, that the CA offered no dns-persist-01 for an
// order that asked for it (its names are validated with dns-01 instead).
type persistFallback struct {
	once sync.Once
	log  *zap.Logger
}

func (f *persistFallback) note(w *work) {
	if len(w.order.Fallback) == 0 {
		return
	}
	w.res.Fallback = true
	f.once.Do(func() {
		f.log.Warn("the CA offers no dns-persist-01 challenge: falling back to dns-01 for this pass (said once per pass)",
			zap.String("cert", w.cert.Name), zap.Strings("domains", w.order.Fallback))
	})
}

func workNames(ws []*work) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.cert.Name
	}
	return out
}
