package route53

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// dns-persist-01 records (docs/dns.md): one TXT value at "_validation-persist.<name>"
// that names the CA and the account, written once and then left in place. A pass
// writes it only when no value at the name already authorises what the certificate
// needs, so the renewal of a certificate whose records stand makes no write and waits
// for no INSYNC. The value format belongs to the caller (the acme package); the
// provider only asks the record's Persist which values are its own and which are
// current.

// Persist decides about the values found at a dns-persist-01 record's name.
type Persist interface {
	// Owns reports whether a value (raw, unquoted) is this record's own: the same CA
	// and the same account. An owned value that is not current is replaced; CleanUp
	// removes every owned value. Other values are never touched.
	Owns(raw string) bool
	// Current reports whether a value authorises what the record needs as it stands.
	Current(raw string) bool
}

// persistWant is one record's part of a unit: the value to write and its judge.
type persistWant struct {
	value string
	p     Persist
}

// errPersistConflict: the records sharing a name want values none of which satisfies
// them all (two certificates asking for different persistUntil bounds, say).
var errPersistConflict = errors.New("the certificates sharing this dns-persist-01 name want values that cannot stand together")

// persistPresent returns the wire values the name holds once u's persist records are
// satisfied, starting from stored, and whether that changed anything. When every
// record finds a current value, stored is returned as it is; otherwise the owned
// values are dropped and one value satisfying every record is added.
func (u *unit) persistPresent(stored []string) ([]string, bool, error) {
	if len(u.persist) == 0 {
		return stored, false, nil
	}
	raws := make([]string, len(stored))
	for i, w := range stored {
		raws[i] = decodeTXT(w)
	}
	satisfied := true
	for _, pw := range u.persist {
		if !slices.ContainsFunc(raws, pw.p.Current) {
			satisfied = false
			break
		}
	}
	if satisfied {
		return stored, false, nil
	}
	i := slices.IndexFunc(u.persist, func(cand persistWant) bool {
		return !slices.ContainsFunc(u.persist, func(pw persistWant) bool { return !pw.p.Current(cand.value) })
	})
	if i < 0 {
		return stored, false, errPersistConflict
	}
	var next []string
	for j, w := range stored {
		if !u.ownsPersist(raws[j]) {
			next = append(next, w)
		}
	}
	return append(next, encodeTXT(u.persist[i].value)), true, nil
}

// persistCleanUp returns stored without the values u's persist records own, and
// whether any was there.
func (u *unit) persistCleanUp(stored []string) ([]string, bool) {
	if len(u.persist) == 0 {
		return stored, false
	}
	var rest []string
	removed := false
	for _, w := range stored {
		if u.ownsPersist(decodeTXT(w)) {
			removed = true
			continue
		}
		rest = append(rest, w)
	}
	return rest, removed
}

func (u *unit) ownsPersist(raw string) bool {
	return slices.ContainsFunc(u.persist, func(pw persistWant) bool { return pw.p.Owns(raw) })
}

// PersistRecord is the record of one dns-persist-01 name of the certificate: fqdn
// is "_validation-persist.<domain>". A zone pinned for the domain
// (dns.hosted_zone_ids) wins over zoneID, CNAMEs are followed unless
// dns.follow_cname is off; dns.challenge_alias does not apply (it names where
// "_acme-challenge" records go).
func (c CertDNS) PersistRecord(fqdn, value, zoneID string, p Persist) Record {
	if id, ok := c.ZoneIDs[strings.TrimSuffix(strings.TrimPrefix(canonicalName(fqdn), persistLabel), ".")]; ok {
		zoneID = id
	}
	return Record{FQDN: fqdn, Value: value, ZoneID: zoneID, NoFollow: c.NoFollow, Persist: p}
}

// persistLabel is the label in front of a name where its dns-persist-01 record lives.
const persistLabel = "_validation-persist."

// PersistState is what CheckPersist found for one dns-persist-01 record.
type PersistState struct {
	Target  Target   // where the record lives (the end of a CNAME chain at its name)
	Values  []string // the raw values at the target now
	Current bool     // one of them is current for the record (Persist.Current)
}

// CheckPersist reads, writing nothing, where each dns-persist-01 record lives and
// whether a current value is already there: what `persist plan`, `status` and
// `validate --online` show. The result is index-aligned with recs; a record without
// Persist is an error.
func (p *Provider) CheckPersist(ctx context.Context, recs []Record) ([]PersistState, []error) {
	out := make([]PersistState, len(recs))
	targets, errs := p.Targets(ctx, recs)
	read := map[[2]string]*rrset{}
	readErr := map[[2]string]error{}
	for i, r := range recs {
		if errs[i] != nil {
			continue
		}
		if r.Persist == nil {
			errs[i] = fmt.Errorf("route53: check %s: not a dns-persist-01 record", displayName(canonicalName(r.FQDN)))
			continue
		}
		t := targets[i]
		k := [2]string{t.ZoneID, t.FQDN}
		if _, done := read[k]; !done {
			if _, failed := readErr[k]; !failed {
				set, err := p.readSet(ctx, t.ZoneID, t.FQDN, p.log.With(zap.String("zone", t.ZoneID)))
				read[k], readErr[k] = set, err
			}
		}
		if err := readErr[k]; err != nil {
			errs[i] = fmt.Errorf("route53: check %s: %w", targetName(r.FQDN, t.FQDN), err)
			continue
		}
		out[i].Target = t
		if set := read[k]; set != nil {
			for _, w := range set.values {
				out[i].Values = append(out[i].Values, decodeTXT(w))
			}
		}
		out[i].Current = slices.ContainsFunc(out[i].Values, r.Persist.Current)
	}
	return out, errs
}
