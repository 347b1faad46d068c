package acme

// dns-persist-01 (draft-ietf-acme-dns-persist-02; docs/dns.md): the CA validates a name
// by one TXT record at "_validation-persist.<name>" that names the CA (its issuer
// domain name) and the account, written once and then left in place. lego v4 has no
// such challenge; its wire types drop the challenge's "issuer-domain-names", so the
// authorization documents are read again here from the raw answer (keepBodies).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Challenge types an order can answer (OrderRequest.Challenge).
const (
	ChallengeDNS01        = "dns-01"
	ChallengeDNSPersist01 = "dns-persist-01"
)

// PersistPrefix is the label in front of a name where its dns-persist-01 record lives.
const PersistPrefix = "_validation-persist."

// ErrNoPersistIssuer is wrapped by PersistIssuer's error when the CA's directory names
// no issuer domain name (meta.caaIdentities): no dns-persist-01 record can be written.
var ErrNoPersistIssuer = errors.New("the CA's directory names no issuer domain name (meta.caaIdentities)")

// PersistIssuer returns the CA's issuer domain name for dns-persist-01 records: the
// first of its directory's meta.caaIdentities (the CAs that offer the method name
// their records' issuer there, as for CAA).
func (c *Client) PersistIssuer(ctx context.Context) (string, error) {
	core, _, err := c.newCore(ctx)
	if err != nil {
		return "", fmt.Errorf("acme: persist issuer: %w", err)
	}
	for _, id := range core.GetDirectory().Meta.CaaIdentities {
		if id = strings.ToLower(strings.TrimSpace(id)); id != "" {
			return id, nil
		}
	}
	return "", fmt.Errorf("acme: persist issuer: %w", ErrNoPersistIssuer)
}

// PersistRecord is the dns-persist-01 record one name needs.
type PersistRecord struct {
	Domain     string    // the name without "*.": a wildcard and its apex share the record
	FQDN       string    // "_validation-persist.<Domain>."
	Issuer     string    // the CA's issuer domain name
	AccountURL string    // the account the record authorises
	Wildcard   bool      // policy=wildcard: a wildcard of the name is ordered
	Until      time.Time // persistUntil; zero writes none
}

// PersistRecords returns the records domains need, one per name: "*.example.com"
// and "example.com" share one record, which carries policy=wildcard.
func PersistRecords(domains []string, issuer, accountURL string, until time.Time) []PersistRecord {
	var out []PersistRecord
	for _, d := range domains {
		base, wild := strings.CutPrefix(strings.TrimSuffix(strings.ToLower(d), "."), "*.")
		i := slices.IndexFunc(out, func(r PersistRecord) bool { return r.Domain == base })
		if i < 0 {
			out = append(out, PersistRecord{Domain: base, FQDN: PersistPrefix + base + ".", Issuer: issuer, AccountURL: accountURL, Until: until})
			i = len(out) - 1
		}
		out[i].Wildcard = out[i].Wildcard || wild
	}
	return out
}

// Value is the record's TXT value: "<issuer>; accounturi=<url>[; policy=wildcard]
// [; persistUntil=<unix seconds>]".
func (r PersistRecord) Value() string {
	v := r.Issuer + "; accounturi=" + r.AccountURL
	if r.Wildcard {
		v += "; policy=wildcard"
	}
	if !r.Until.IsZero() {
		v += "; persistUntil=" + strconv.FormatInt(r.Until.Unix(), 10)
	}
	return v
}

// Owns reports whether raw, a value at the record's name, names the same issuer and
// account: such a value is the record's own, to be replaced when it is not current
// and removed with it. Values of other issuers or accounts are never touched.
func (r PersistRecord) Owns(raw string) bool {
	v, err := ParsePersistValue(raw)
	return err == nil && v.Issuer == strings.ToLower(r.Issuer) && v.AccountURI == r.AccountURL
}

// Current reports whether raw authorises what the record does as it stands: the same
// issuer and account, policy=wildcard when the record needs it, and a persistUntil
// (when raw has one) not before minUntil. When the record wants a persistUntil, a
// value without one is not current: it would authorise for longer than configured.
// The issuer must be spelt as the CA names it, case included: Pebble compares it
// exactly, so a value naming "LetsEncrypt.org" is this record's own (Owns) but is
// replaced rather than trusted.
func (r PersistRecord) Current(raw string, minUntil time.Time) bool {
	v, err := ParsePersistValue(raw)
	asWritten, _, _ := strings.Cut(raw, ";")
	switch {
	case err != nil || strings.Trim(asWritten, " \t") != r.Issuer || v.AccountURI != r.AccountURL:
		return false
	case r.Wildcard && v.Policy != "wildcard":
		return false
	case !r.Until.IsZero() && v.Until.IsZero():
		return false
	}
	return v.Until.IsZero() || !v.Until.Before(minUntil)
}

// PersistValue is a parsed dns-persist-01 TXT value.
type PersistValue struct {
	Issuer     string    // lowercase
	AccountURI string    // as written
	Policy     string    // "wildcard" or empty (any other policy counts as none, as the draft says)
	Until      time.Time // zero when the value has no persistUntil
}

// maxPersistValue bounds a value ParsePersistValue reads (a TXT set of Route 53 holds at
// most 4000 characters per value).
const maxPersistValue = 4096

// ParsePersistValue parses a dns-persist-01 TXT value (RFC 8659 issue-value syntax):
// an issuer domain name, then "tag=value" parameters separated by ";", tags compared
// without case. A malformed parameter, a repeated tag, or a value without an issuer
// or accounturi is an error; unknown tags are skipped.
func ParsePersistValue(raw string) (PersistValue, error) {
	var v PersistValue
	if len(raw) > maxPersistValue {
		return v, fmt.Errorf("persist value longer than %d bytes", maxPersistValue)
	}
	parts := strings.Split(raw, ";")
	v.Issuer = strings.ToLower(strings.Trim(parts[0], " \t"))
	if v.Issuer == "" || strings.ContainsAny(v.Issuer, " \t=") {
		return v, fmt.Errorf("persist value %q: no issuer domain name", raw)
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		tag, val, ok := strings.Cut(strings.Trim(p, " \t"), "=")
		tag, val = strings.ToLower(strings.Trim(tag, " \t")), strings.Trim(val, " \t")
		if !ok || tag == "" {
			return v, fmt.Errorf("persist value %q: malformed parameter %q", raw, p)
		}
		if seen[tag] {
			return v, fmt.Errorf("persist value %q: repeated parameter %q", raw, tag)
		}
		seen[tag] = true
		if strings.IndexFunc(val, func(r rune) bool { return r <= ' ' || r == ';' || r > '~' }) >= 0 {
			return v, fmt.Errorf("persist value %q: malformed value of %q", raw, tag)
		}
		switch tag {
		case "accounturi":
			v.AccountURI = val
		case "policy":
			if strings.EqualFold(val, "wildcard") {
				v.Policy = "wildcard"
			}
		case "persistuntil":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return v, fmt.Errorf("persist value %q: persistUntil %q is not a Unix time", raw, val)
			}
			v.Until = time.Unix(n, 0).UTC()
		}
	}
	if v.AccountURI == "" {
		return v, fmt.Errorf("persist value %q: no accounturi", raw)
	}
	return v, nil
}

// CAAValue is the CAA issue value to recommend for names validated with dns-persist-01
// by this account (RFC 8657): only this account, only this method.
func CAAValue(issuer, accountURL string) string {
	return issuer + "; accounturi=" + accountURL + "; validationmethods=" + ChallengeDNSPersist01
}

// rawChallenge is what lego's wire type drops of a challenge.
type rawChallenge struct {
	Type       string   `json:"type"`
	URL        string   `json:"url"`
	Status     string   `json:"status"`
	Issuers    []string `json:"issuer-domain-names"`
	AccountURI string   `json:"accounturi"`
}

// persistChallenge finds the dns-persist-01 challenge in an authorization document.
func persistChallenge(body []byte) (rawChallenge, bool) {
	var authz struct {
		Challenges []rawChallenge `json:"challenges"`
	}
	if json.Unmarshal(body, &authz) != nil {
		return rawChallenge{}, false
	}
	for _, ch := range authz.Challenges {
		if ch.Type == ChallengeDNSPersist01 {
			return ch, true
		}
	}
	return rawChallenge{}, false
}

// choosePersist decides whether a's authorization is answered with dns-persist-01:
// ok is false when the CA offers none (the caller falls back to dns-01). An offered
// challenge that names another issuer or another account is an error: the record
// written for this order would not authorise it.
func choosePersist(body []byte, a *orderAuthz, issuer, accountURL string) (ok bool, err error) {
	ch, found := persistChallenge(body)
	if !found || ch.URL == "" {
		return false, nil
	}
	if !slices.ContainsFunc(ch.Issuers, func(s string) bool { return strings.EqualFold(s, issuer) }) {
		return false, fmt.Errorf("the CA's dns-persist-01 challenge for %s names the issuers %q, not %q", a.domain, ch.Issuers, issuer)
	}
	if ch.AccountURI != "" && ch.AccountURI != accountURL {
		return false, fmt.Errorf("the CA's dns-persist-01 challenge for %s names the account %q, not %q", a.domain, ch.AccountURI, accountURL)
	}
	a.challengeURL, a.challengeSt, a.persist = ch.URL, ch.Status, true
	return true, nil
}

// keepBody reads a successful answer's body (bounded) and keeps it by URL for
// keptBody, when the call asked for bodies (keepBodies).
func (c *callTransport) keepBody(url string, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.bodies[url] = body
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// keptBody returns the latest body kept for url.
func (c *callTransport) keptBody(url string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[url]
}

// persistRequested checks req's challenge type and reports whether it is
// dns-persist-01.
func persistRequested(req OrderRequest) (bool, error) {
	switch req.Challenge {
	case "", ChallengeDNS01:
		return false, nil
	case ChallengeDNSPersist01:
		if req.PersistIssuer == "" {
			return false, errors.New("dns-persist-01 needs the issuer domain name its records name")
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown challenge %q (want %s or %s)", req.Challenge, ChallengeDNS01, ChallengeDNSPersist01)
}
