package renew

import "context"

// DNS publishes and removes TXT records, a whole pass's at once (lego's Present and
// CleanUp, for many certificates): every result is index-aligned with recs. Its types
// are renew's own; internal/app adapts providers/route53 to it.
type DNS interface {
	// Resolve finds where each record would be written, writing nothing (preflight).
	Resolve(ctx context.Context, recs []Record) []error
	// Present writes every record, and returns once they are served (INSYNC).
	Present(ctx context.Context, recs []Record) []error
	// CleanUp removes the records' values, and only those.
	CleanUp(ctx context.Context, recs []Record) []error
}

// Record is one TXT record of a certificate, and where its configuration sends it.
type Record struct {
	FQDN  string // "_acme-challenge.<name>." or "_validation-persist.<name>."
	Value string // raw, unquoted
	// ZoneID is the certificate's hosted_zone_id ("" : the zone is found by name).
	ZoneID string
	// Route is the certificate's dns: keys.
	Route Route
	// Persist, set on a dns-persist-01 record, judges the values already at its name.
	Persist Persist
}

// Route is where a certificate's configuration sends its records (dns: keys,
// docs/dns.md).
type Route struct {
	NoFollow bool              // dns.follow_cname: false
	Alias    string            // dns.challenge_alias
	ZoneIDs  map[string]string // dns.hosted_zone_ids: domain (without "*.") -> zone id
}

// Persist judges the values at a dns-persist-01 record's name: which are the record's
// own (the same CA and account: replaced when stale, removed on clean-up), and which
// authorise what the record needs as it stands. Other values are never touched.
type Persist interface {
	Owns(raw string) bool
	Current(raw string) bool
}

// record is c's TXT record of fqdn with value.
func (c Cert) record(fqdn, value string) Record {
	return Record{FQDN: fqdn, Value: value, ZoneID: c.ZoneID, Route: c.DNS}
}
