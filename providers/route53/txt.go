package route53

import (
	"slices"
	"strconv"
	"strings"
)

// maxTXTString is the longest character-string a TXT record may hold (RFC 1035 3.3).
// Longer values are written as several strings, which resolvers concatenate.
const maxTXTString = 255

// encodeTXT turns a raw TXT value into Route 53's presentation form: one or more
// double-quoted strings of at most 255 bytes each, separated by a space. Quotes and
// backslashes are escaped; bytes outside printable ASCII are written as \DDD (octal,
// as Route 53 itself writes them).
func encodeTXT(raw string) string {
	if raw == "" {
		return `""`
	}
	var b strings.Builder
	for i := 0; i < len(raw); i += maxTXTString {
		chunk := raw[i:min(i+maxTXTString, len(raw))]
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		for j := 0; j < len(chunk); j++ {
			switch c := chunk[j]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c >= 0x7f:
				b.WriteByte('\\')
				s := strconv.FormatUint(uint64(c), 8)
				b.WriteString(strings.Repeat("0", 3-len(s)))
				b.WriteString(s)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// decodeTXT is the inverse of encodeTXT for any value Route 53 returns: quoted or
// bare strings separated by spaces, concatenated. It is best effort (values written
// by other tools are compared, never rewritten), so it never fails.
func decodeTXT(wire string) string {
	var b strings.Builder
	s := wire
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return b.String()
		}
		quoted := s[0] == '"'
		if quoted {
			s = s[1:]
		}
		for s != "" {
			c := s[0]
			if quoted && c == '"' {
				s = s[1:]
				break
			}
			if !quoted && (c == ' ' || c == '\t') {
				break
			}
			if c == '\\' && len(s) > 1 {
				if len(s) >= 4 && isOctal(s[1]) && isOctal(s[2]) && isOctal(s[3]) {
					n, _ := strconv.ParseUint(s[1:4], 8, 8)
					b.WriteByte(byte(n))
					s = s[4:]
					continue
				}
				b.WriteByte(s[1])
				s = s[2:]
				continue
			}
			b.WriteByte(c)
			s = s[1:]
		}
	}
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// mergeValues returns the stored values (wire form, untouched) followed by each of
// ours that is not there yet, and whether anything was added. Values are compared
// decoded, so `"a" "b"` and `"ab"` are the same value.
func mergeValues(stored []string, ours []string) (merged []string, added bool) {
	have := make(map[string]bool, len(stored)+len(ours))
	merged = slices.Clone(stored)
	for _, w := range stored {
		have[decodeTXT(w)] = true
	}
	for _, raw := range ours {
		if !have[raw] {
			have[raw] = true
			merged = append(merged, encodeTXT(raw))
			added = true
		}
	}
	return merged, added
}

// removeValues returns the stored values that are not ours (wire form, untouched)
// and whether any of ours was there.
func removeValues(stored []string, ours []string) (rest []string, removed bool) {
	drop := make(map[string]bool, len(ours))
	for _, raw := range ours {
		drop[raw] = true
	}
	for _, w := range stored {
		if drop[decodeTXT(w)] {
			removed = true
			continue
		}
		rest = append(rest, w)
	}
	return rest, removed
}

// canonicalName lower-cases a DNS name, decodes Route 53's \DDD escapes (it writes
// '*' as \052) and makes it fully qualified, so names from users and from the API
// compare equal.
func canonicalName(name string) string {
	if strings.IndexByte(name, '\\') >= 0 {
		name = decodeName(name)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func decodeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+3 < len(name) && isOctal(name[i+1]) && isOctal(name[i+2]) && isOctal(name[i+3]) {
			n, _ := strconv.ParseUint(name[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// displayName is a name as errors print it: without the trailing dot.
func displayName(fqdn string) string { return strings.TrimSuffix(fqdn, ".") }
