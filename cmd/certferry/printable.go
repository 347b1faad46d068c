package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable is s as a terminal may show it: control characters (C0, DEL, C1) and the
// bidirectional controls become Go escapes (\t, \x1b, \u202e), bytes that are not UTF-8
// become \xNN, and everything else stays as it is. The texts the tables print come from
// outside: a CA's problem detail, a hook's last line of stderr (often coloured), a tag
// anyone allowed to tag the secret may have written; read back byte for byte, such a
// text could otherwise recolour or retitle the operator's terminal, return the cursor
// over what it printed (\r), or break the table's columns (\t). The JSON outputs carry
// the text unchanged (JSON escapes it).
func printable(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case escaped(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, escaped)
}

func escaped(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
