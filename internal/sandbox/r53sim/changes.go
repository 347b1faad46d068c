package r53sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// change is a submitted change (a zone creation or a change batch). Its status is
// judged from the clock when read: PENDING until insyncAt, then INSYNC.
type change struct {
	id        string
	comment   string
	submitted time.Time
	insyncAt  time.Time
	account   string // whose change: another account's caller gets NoSuchChange
}

func (c *change) status(now time.Time) string {
	if now.Before(c.insyncAt) {
		return "PENDING"
	}
	return "INSYNC"
}

func (s *Service) newChangeLocked(comment string) *change {
	id := "C" + randomID(13)
	for s.changes[id] != nil {
		id = "C" + randomID(13)
	}
	now := s.now()
	c := &change{id: id, comment: comment, submitted: now, insyncAt: now.Add(s.insyncAfter), account: s.defaultAccount}
	s.changes[id] = c
	return c
}

// Per-batch limits documented for ChangeResourceRecordSets. An UPSERT counts twice
// toward both, because Route 53 performs it as a DELETE plus a CREATE.
const (
	maxRecordsPerBatch = 1000
	maxValueCharsBatch = 32000
	maxTXTString       = 255
)

// supportedTypes are the record types Route 53 accepts in a change batch.
var supportedTypes = map[string]bool{
	"A": true, "AAAA": true, "CAA": true, "CNAME": true, "DS": true, "HTTPS": true, "MX": true,
	"NAPTR": true, "NS": true, "PTR": true, "SOA": true, "SPF": true, "SRV": true, "SSHFP": true,
	"SVCB": true, "TLSA": true, "TXT": true,
}

// parsedChange is one validated change of a batch.
type parsedChange struct {
	action string
	set    RecordSet
}

// changeRecordSets validates the whole batch, then applies it all or not at all.
func (s *Service) changeRecordSets(zoneID, caller string, req *changeResourceRecordSetsRequest) (*change, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.zoneFor(zoneID, caller, "ChangeResourceRecordSets")
	if aerr != nil {
		return nil, aerr
	}
	parsed, aerr := parseBatch(z, req)
	if aerr != nil {
		return nil, aerr
	}

	// Apply to a working copy, change by change, so that later changes see earlier
	// ones (DELETE then CREATE of one set is valid) and a failure leaves z untouched.
	work := make(map[rrKey]RecordSet, len(z.current))
	for k, v := range z.current {
		work[k] = v
	}
	var msgs []string
	for _, pc := range parsed {
		if msg := applyChange(z, work, pc); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) > 0 {
		return nil, errBatchState(msgs)
	}

	diff := map[rrKey]*RecordSet{}
	for k := range z.current {
		if _, ok := work[k]; !ok {
			diff[k] = nil
		}
	}
	for k, v := range work {
		if old, ok := z.current[k]; !ok || !sameSet(old, v) {
			v := v.clone()
			diff[k] = &v
		}
	}
	z.current = work
	c := s.newChangeLocked(req.ChangeBatch.Comment)
	c.account = caller
	z.changed++
	z.pending = append(z.pending, pendingChange{insyncAt: c.insyncAt, diff: diff})
	return c, nil
}

// parseBatch checks everything that does not depend on the zone's records: actions,
// names, types, value syntax, and the per-batch limits. Syntax problems of every change
// are reported together, as Route 53 does.
func parseBatch(z *zone, req *changeResourceRecordSetsRequest) ([]parsedChange, *apiError) {
	changes := req.ChangeBatch.Changes
	if len(changes) == 0 {
		return nil, errInvalidInput("1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: Member must not be null")
	}
	var (
		out      []parsedChange
		msgs     []string
		nRecords int
		nChars   int
	)
	for _, c := range changes {
		rr := c.ResourceRecordSet
		name, typ, apiErr := parseShape(c)
		if apiErr != nil {
			return nil, apiErr
		}
		if !inZone(name, z.name) {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", name, z.name))
		}
		weight := 1
		if c.Action == "UPSERT" {
			weight = 2
		}
		var values []string
		for _, r := range rr.ResourceRecords.Records {
			nRecords += weight
			nChars += weight * len(r.Value)
			if msg := checkValue(typ, r.Value); msg != "" {
				msgs = append(msgs, msg)
			}
			if slices.Contains(values, r.Value) {
				msgs = append(msgs, fmt.Sprintf("Duplicate Resource Record: '%s'", r.Value))
			}
			values = append(values, r.Value)
		}
		if typ == "CNAME" && len(values) > 1 {
			msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s contains more than one value", name))
		}
		if typ == "CNAME" && name == z.name {
			msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s", name, z.name))
		}
		out = append(out, parsedChange{action: c.Action, set: RecordSet{
			Name: name, Type: typ, TTL: *rr.TTL, Values: values, SetIdentifier: rr.SetIdentifier,
			MultiValueAnswer: rr.MultiValueAnswer, Weight: rr.Weight,
		}})
	}
	if nRecords > maxRecordsPerBatch {
		msgs = append(msgs, fmt.Sprintf("Number of records limit of %d exceeded.", maxRecordsPerBatch))
	}
	if nChars > maxValueCharsBatch {
		msgs = append(msgs, fmt.Sprintf("Number of characters in the values of the change batch (%d, UPSERT counted twice) exceeds the limit of %d.", nChars, maxValueCharsBatch))
	}
	if len(msgs) > 0 {
		return nil, errBatchSyntax(msgs)
	}
	return out, nil
}

// parseShape checks what makes a change a well-formed request: the action, the name,
// the type, a TTL and values (no alias), a set identifier exactly with a routing
// policy. It returns the normalised name and type.
func parseShape(c xmlChange) (string, string, *apiError) {
	rr := c.ResourceRecordSet
	switch c.Action {
	case "CREATE", "DELETE", "UPSERT":
	default:
		return "", "", errInvalidInput("Invalid XML ; Invalid value for Action: %q (must be CREATE, DELETE or UPSERT)", c.Action)
	}
	name, err := normalizeName(rr.Name)
	if err != nil {
		return "", "", errInvalidInput("Invalid XML ; invalid name %q: %s", rr.Name, err.Error())
	}
	typ := strings.ToUpper(rr.Type)
	if !supportedTypes[typ] {
		return "", "", errInvalidInput("Invalid XML ; Invalid value for Type: %q", rr.Type)
	}
	if rr.AliasTarget != nil {
		// Alias records need AWS resources to point at; the sandbox has none.
		return "", "", errInvalidInput("alias record sets are not supported by the sandbox (%s %s)", name, typ)
	}
	if rr.TTL == nil || rr.ResourceRecords == nil || len(rr.ResourceRecords.Records) == 0 {
		return "", "", errInvalidInput("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]",
			c.Action, rr.Name, typ, nullable(rr.SetIdentifier))
	}
	if *rr.TTL < 0 || *rr.TTL > 2147483647 {
		return "", "", errInvalidInput("Invalid XML ; TTL %d out of range", *rr.TTL)
	}
	routed := rr.MultiValueAnswer != nil || rr.Weight != nil || rr.Region != "" || rr.Failover != "" || rr.GeoLocation != nil
	if routed && rr.SetIdentifier == "" {
		return "", "", errInvalidInput("Invalid request: Missing field 'SetIdentifier' in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=null]", c.Action, rr.Name, typ)
	}
	if !routed && rr.SetIdentifier != "" {
		return "", "", errInvalidInput("Invalid request: Missing field 'Weight', 'Region', 'Failover', 'GeoLocation' or 'MultiValueAnswer' in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", c.Action, rr.Name, typ, rr.SetIdentifier)
	}
	return name, typ, nil
}

func nullable(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// checkValue validates one record value; "" means it is fine. Only TXT/SPF syntax is
// checked in depth, as that is what DNS-01 writes.
func checkValue(typ, value string) string {
	switch typ {
	case "TXT", "SPF":
		if _, err := ParseTXT(value); err != nil {
			return fmt.Sprintf("Invalid Resource Record: 'FATAL problem: %s encountered with '%s''", err.Error(), value)
		}
	default:
		if strings.TrimSpace(value) == "" {
			return fmt.Sprintf("Invalid Resource Record: 'FATAL problem: empty value for %s'", typ)
		}
	}
	return ""
}

// ParseTXT splits a TXT value as Route 53 stores it (one or more "..." strings separated
// by spaces, with \" \\ and \ooo escapes) into its character strings. It rejects what
// Route 53 rejects: unquoted text and strings longer than 255 characters.
func ParseTXT(value string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(value) && (value[i] == ' ' || value[i] == '\t') {
			i++
		}
		if i == len(value) {
			break
		}
		if value[i] != '"' {
			return nil, fmt.Errorf("InvalidCharacterString (Value should be enclosed in quotation marks)")
		}
		i++
		var b []byte
		closed := false
		for i < len(value) {
			c := value[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' && i+1 < len(value) {
				if i+3 < len(value) && isOctal(value[i+1]) && isOctal(value[i+2]) && isOctal(value[i+3]) {
					b = append(b, (value[i+1]-'0')*64+(value[i+2]-'0')*8+(value[i+3]-'0'))
					i += 4
					continue
				}
				b = append(b, value[i+1])
				i += 2
				continue
			}
			b = append(b, c)
			i++
		}
		if !closed {
			return nil, fmt.Errorf("InvalidCharacterString (Value should be enclosed in quotation marks)")
		}
		if len(b) > maxTXTString {
			return nil, fmt.Errorf("CharacterStringTooLong (Value is too long)")
		}
		if i < len(value) && value[i] != ' ' && value[i] != '\t' {
			return nil, fmt.Errorf("InvalidCharacterString (Value should be enclosed in quotation marks)")
		}
		out = append(out, string(b))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("InvalidCharacterString (Value should be enclosed in quotation marks)")
	}
	return out, nil
}

// describe names a set the way Route 53 does in its messages.
func describe(rs RecordSet) string {
	d := fmt.Sprintf("[name='%s', type='%s'", rs.Name, rs.Type)
	if rs.SetIdentifier != "" {
		d += fmt.Sprintf(", set-identifier='%s'", rs.SetIdentifier)
	}
	return d + "]"
}

// applyChange applies one change to work and returns Route 53's message if the change
// conflicts with the records as they stand.
func applyChange(z *zone, work map[rrKey]RecordSet, pc parsedChange) string {
	rs, k := pc.set, keyOf(pc.set)
	old, exists := work[k]
	switch pc.action {
	case "CREATE":
		if exists {
			return fmt.Sprintf("Tried to create resource record set %s but it already exists", describe(rs))
		}
	case "DELETE":
		if !exists {
			return fmt.Sprintf("Tried to delete resource record set %s but it was not found", describe(rs))
		}
		if !sameSet(old, rs) {
			return fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", describe(rs))
		}
		if rs.Name == z.name && (rs.Type == "SOA" || rs.Type == "NS") {
			return fmt.Sprintf("A HostedZone must contain at least one NS record and one SOA record for the zone itself (%s)", describe(rs))
		}
		delete(work, k)
		return ""
	}
	// CREATE or UPSERT: check conflicts with other sets of the same name.
	for ok, other := range work {
		if ok.name != rs.Name || ok == k {
			continue
		}
		if (rs.Type == "CNAME") != (other.Type == "CNAME") {
			return fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists in zone %s", rs.Type, rs.Name, other.Type, z.name)
		}
		if other.Type == rs.Type && (other.SetIdentifier == "") != (rs.SetIdentifier == "") {
			return fmt.Sprintf("RRSet with DNS name %s, type %s cannot be created because a record set with the same name and type but a different routing policy exists in zone %s", rs.Name, rs.Type, z.name)
		}
	}
	work[k] = rs.clone()
	return ""
}

// sameSet reports whether two sets match exactly, as DELETE requires: TTL, routing
// fields and the values (in any order).
func sameSet(a, b RecordSet) bool {
	if a.TTL != b.TTL || len(a.Values) != len(b.Values) || !eqBoolPtr(a.MultiValueAnswer, b.MultiValueAnswer) || !eqIntPtr(a.Weight, b.Weight) {
		return false
	}
	av, bv := slices.Clone(a.Values), slices.Clone(b.Values)
	slices.Sort(av)
	slices.Sort(bv)
	return slices.Equal(av, bv)
}

func eqBoolPtr(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func eqIntPtr(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// getChange returns the change with its status at now.
func (s *Service) getChange(id, caller string) (*change, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.changes[id]
	if c == nil || c.account != caller {
		return nil, errNoSuchChange(id)
	}
	return c, nil
}
