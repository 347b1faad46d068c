package secretsmanager

import (
	"strconv"
	"strings"
	"unicode"
)

// Tag keys the sink writes on every secret it stores.
const (
	TagName        = "certferry:name"
	TagDomains     = "certferry:domains"
	TagDomainsHash = "certferry:domains-hash"
	TagNotAfter    = "certferry:not-after"
	TagNotBefore   = "certferry:not-before"
	TagSerial      = "certferry:serial"
	TagKeyType     = "certferry:key-type"
	TagProfile     = "certferry:profile"
	TagVersion     = "certferry:version"
	TagARIID       = "certferry:ari-id"
	// TagKind marks a secret that holds something else than a certificate:
	// KindAccount for the ACME account secret (AccountStore).
	TagKind = "certferry:kind"
	// TagDirectory is the ACME directory that issued the certificate.
	TagDirectory = "certferry:directory"
	// TagSum binds the tags above to the version they describe: a short hash of the
	// version id and every value. Tags are a cache of the secret's value, never a second
	// truth: when the sum does not match (a hand edit, a partial write), the value is read.
	TagSum = "certferry:sum"

	// TagPrefix starts every tag key the sink owns; SetState keys must use it too.
	TagPrefix = "certferry:"

	maxTagValue = 256
	maxTagKey   = 128
)

// Tag values may hold only letters, digits, spaces and + - = . _ : / @ (AWS's tag
// pattern), so neither commas nor "*" are possible: the domains tag separates names with
// spaces and writes a wildcard "*." as "@." ("@" is never part of a DNS name). When the
// names do not fit in 256 characters, the tag ends with " +N", N being how many names
// were left out; the domains-hash tag always covers every name.

// EncodeDomains renders names for the certferry:domains tag.
func EncodeDomains(domains []string) string {
	var b strings.Builder
	for i, d := range domains {
		enc := strings.ReplaceAll(d, "*", "@")
		rest := len(domains) - i
		// Room for this name, and for a " +N" marker should later names not fit.
		need := len(enc)
		if b.Len() > 0 {
			need++
		}
		if rest > 1 {
			need += len(" +") + len(strconv.Itoa(rest-1))
		}
		if b.Len()+need > maxTagValue {
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString("+" + strconv.Itoa(rest))
			return b.String()
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(enc)
	}
	return b.String()
}

// DecodeDomains reverses EncodeDomains. truncated reports a " +N" marker.
func DecodeDomains(v string) (domains []string, truncated bool) {
	for _, f := range strings.Fields(v) {
		if strings.HasPrefix(f, "+") {
			truncated = true
			continue
		}
		domains = append(domains, strings.ReplaceAll(f, "@", "*"))
	}
	return domains, truncated
}

// SanitizeTagValue makes s a valid tag value: characters AWS refuses become "_", and the
// result is cut to 256 characters. SetState applies it to every value.
func SanitizeTagValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxTagValue {
			break
		}
		if !validTagRune(r) {
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func validTagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) ||
		strings.ContainsRune("_.:/=+-@", r)
}
