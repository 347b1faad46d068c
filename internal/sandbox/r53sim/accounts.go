package r53sim

import (
	"fmt"
	"net/http"

	"github.com/certferry/certferry/internal/sandbox/internal/wire"
)

// Accounts: every hosted zone belongs to one AWS account, the account of the caller
// that created it (CreateZone: Options.DefaultAccount; CreateZoneIn: the one named).
// A caller is identified, as AWS does, by the access key id its request was signed
// with (Options.AccountOf; keys it does not know are the default account's). Route 53
// lists only the caller's zones, and answers AccessDenied for any call on another
// account's zone: IAM policies cannot grant that, only a role in the zone's account
// can (sts:AssumeRole). The DNS view serves every account's public zones.

// caller returns the account of the request's credentials.
func (s *Service) caller(r *http.Request) string {
	if s.accountOf != nil {
		if a, ok := s.accountOf(wire.AccessKeyID(r)); ok {
			return a
		}
	}
	return s.defaultAccount
}

// CreateZoneIn creates a hosted zone owned by account (see CreateZone).
func (s *Service) CreateZoneIn(account, name string, private bool) (string, error) {
	id, err := s.CreateZone(name, private)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.zones[id].account = account
	s.mu.Unlock()
	return id, nil
}

// Changes returns how many change batches the zone accepted (0 for an unknown zone):
// tests assert that a zone was not written.
func (s *Service) Changes(zoneID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[trimID(zoneID, "/hostedzone/")]; z != nil {
		return z.changed
	}
	return 0
}

// zoneFor returns the zone for a call of op by caller: NoSuchHostedZone when there is
// none, AccessDenied when another account owns it. s.mu must be held.
func (s *Service) zoneFor(id, caller, op string) (*zone, *apiError) {
	z := s.zones[id]
	if z == nil {
		return nil, errNoSuchHostedZone(id)
	}
	if z.account != caller {
		return nil, errAccessDenied(caller, op, id)
	}
	return z, nil
}

// errAccessDenied is Route 53's answer to a call IAM does not allow, as AWS words it.
func errAccessDenied(caller, op, zoneID string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "AccessDenied", Message: fmt.Sprintf(
		"User: arn:aws:iam::%s:user/sandbox is not authorized to perform: route53:%s on resource: arn:aws:route53:::hostedzone/%s because no identity-based policy allows the route53:%s action",
		caller, op, zoneID, op)}
}

// PutRecordSet writes a record set from Go, as its owner would (an UPSERT, INSYNC at
// once), whichever account owns the zone: tests set up CNAMEs in zones the code under
// test must not write. It counts as no API call and no change of Changes.
func (s *Service) PutRecordSet(zoneID string, rs RecordSet) error {
	name, err := normalizeName(rs.Name)
	if err != nil {
		return fmt.Errorf("r53sim: put %s: %w", rs.Name, err)
	}
	rs.Name = name
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[trimID(zoneID, "/hostedzone/")]
	if z == nil {
		return fmt.Errorf("r53sim: put %s: no hosted zone %s", name, zoneID)
	}
	if !inZone(name, z.name) {
		return fmt.Errorf("r53sim: put %s: not in zone %s", name, z.name)
	}
	z.publish(s.now())
	z.current[keyOf(rs)] = rs.clone()
	z.published[keyOf(rs)] = rs.clone()
	return nil
}
