// Package textcut shortens values quoted in error messages and warnings. A value read
// from a file, a secret or the network can be megabytes long; an error that quotes it
// whole floods logs, systemd's STATUS and the terminal, so every quoted value goes
// through Cut.
package textcut

import (
	"strconv"
	"unicode/utf8"
)

// Max is the number of bytes of a value Cut keeps: enough to recognise any legitimate
// value (a domain name stops at 253 bytes, a secret name at 512 but in practice is short)
// and to show the start of any other.
const Max = 300

// Cut returns s when it is at most Max bytes long, else its first Max bytes (never
// splitting a UTF-8 character) followed by "... (N bytes)", N being len(s).
func Cut(s string) string {
	if len(s) <= Max {
		return s
	}
	end := Max
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Args returns args with every string argument cut, for Printf-style helpers whose
// arguments are the values they quote. args itself is left as it is.
func Args(args []any) []any {
	var out []any
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > Max {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = Cut(s)
		}
	}
	if out == nil {
		return args
	}
	return out
}
