package route53

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// op is what a pass does to the records: present them or clean them up.
type op int

const (
	opPresent op = iota
	opCleanUp
)

// verb is the word errors use for the operation.
func (o op) verb() string {
	if o == opPresent {
		return "upsert"
	}
	return "delete"
}

// rrset is a TXT record set as Route 53 holds it: values in wire form, exactly as
// returned, so that a DELETE matches them.
type rrset struct {
	ttl    int64
	values []string
}

// sameSet reports whether two reads of a record set saw the same thing (values
// compared as a set of wire strings: Route 53 may return them in any order).
func sameSet(a, b *rrset) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.ttl != b.ttl || len(a.values) != len(b.values) {
		return false
	}
	x, y := slices.Clone(a.values), slices.Clone(b.values)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// unit is one TXT name of one zone: every record of the call that shares the name
// (a wildcard and its apex do), the set read from Route 53, and the changes that
// move it to the wanted state. A unit's changes are never split across batches:
// its DELETE and CREATE must be in one atomic change to act as a compare-and-swap.
type unit struct {
	fqdn    string        // canonical
	idx     []int         // indices of the caller's records
	values  []string      // our raw values, deduplicated, in first-seen order
	persist []persistWant // dns-persist-01 records at the name (persist.go)
	old     *rrset        // current set, nil when there is none
	want    []string      // wire values after the change; empty means no set
	changes []types.Change
	cas     int   // compare-and-swap retries so far
	err     error // cause, wrapped with the op and name when reported
}

// plan computes the changes that take u from u.old to its wanted state for o,
// keeping every value that is not ours. No changes means nothing to do.
//
// Why DELETE+CREATE and not UPSERT: a change batch is atomic, and a DELETE must
// match the current TTL and values exactly, so DELETE(old)+CREATE(new) only applies
// if nobody changed the set since we read it; otherwise Route 53 answers
// InvalidChangeBatch and we read again. An UPSERT of the union would silently drop a
// value another runner added between our read and our write (cert-manager's lesson).
// In AWS's batch limits the pair costs old+new values, an UPSERT counts new twice:
// about the same.
func (u *unit) plan(o op, ttl int64) {
	u.changes, u.want = nil, nil
	var stored []string
	if u.old != nil {
		stored = u.old.values
	}
	switch o {
	case opPresent:
		base, replaced, err := u.persistPresent(stored)
		if err != nil {
			u.err = err
			return
		}
		merged, added := mergeValues(base, u.values)
		u.want = merged
		if !added && !replaced {
			return
		}
		if u.old == nil {
			u.changes = []types.Change{txtChange(types.ChangeActionCreate, u.fqdn, ttl, u.want)}
			return
		}
		// The existing TTL is kept: the set may carry someone else's values.
		u.changes = []types.Change{
			txtChange(types.ChangeActionDelete, u.fqdn, u.old.ttl, u.old.values),
			txtChange(types.ChangeActionCreate, u.fqdn, u.old.ttl, merged),
		}
	case opCleanUp:
		if u.old == nil {
			return
		}
		rest, removed := removeValues(u.old.values, u.values)
		rest, removedPersist := u.persistCleanUp(rest)
		u.want = rest
		if !removed && !removedPersist {
			return
		}
		u.changes = []types.Change{txtChange(types.ChangeActionDelete, u.fqdn, u.old.ttl, u.old.values)}
		if len(rest) > 0 {
			u.changes = append(u.changes, txtChange(types.ChangeActionCreate, u.fqdn, u.old.ttl, rest))
		}
	}
}

func txtChange(action types.ChangeAction, fqdn string, ttl int64, values []string) types.Change {
	rrs := make([]types.ResourceRecord, len(values))
	for i, v := range values {
		rrs[i] = types.ResourceRecord{Value: aws.String(v)}
	}
	return types.Change{
		Action: action,
		ResourceRecordSet: &types.ResourceRecordSet{
			Name:            aws.String(fqdn),
			Type:            types.RRTypeTxt,
			TTL:             aws.Int64(ttl),
			ResourceRecords: rrs,
		},
	}
}

// changeCost is what a change counts against AWS's per-request limits: the number
// of ResourceRecord elements and the characters of their Value elements. An UPSERT
// counts twice (AWS: "UPSERT ... counts as two").
func changeCost(c types.Change) (records, chars int) {
	if c.ResourceRecordSet != nil {
		for _, rr := range c.ResourceRecordSet.ResourceRecords {
			records++
			chars += len(deref(rr.Value))
		}
	}
	if c.Action == types.ChangeActionUpsert {
		records, chars = 2*records, 2*chars
	}
	return records, chars
}

// splitBatches packs units, in order, into as few batches as the limits allow. A
// unit is never split; one that alone exceeds a limit gets a batch of its own (and
// Route 53 will say what it thinks of it).
func splitBatches(units []*unit, maxRecords, maxChars int) [][]*unit {
	var (
		out            [][]*unit
		cur            []*unit
		records, chars int
	)
	for _, u := range units {
		r, c := 0, 0
		for _, ch := range u.changes {
			cr, cc := changeCost(ch)
			r, c = r+cr, c+cc
		}
		if len(cur) > 0 && (records+r > maxRecords || chars+c > maxChars) {
			out = append(out, cur)
			cur, records, chars = nil, 0, 0
		}
		cur = append(cur, u)
		records, chars = records+r, chars+c
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
