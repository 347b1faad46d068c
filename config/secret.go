package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Secret is a configuration value that must never be printed: the EAB HMAC key and a
// webhook's HMAC secret. Every way of formatting it (fmt's verbs, %#v included, JSON, text
// marshalling and therefore zap.Any or yaml) shows RedactedValue instead; an empty Secret shows
// as empty, so a reader can still tell "unset" from "set" (as Redacted does). Reveal returns
// the value, for the one place that signs with it.
type Secret string

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
	_ fmt.Formatter  = Secret("")
)

// Reveal returns the secret value. Call it only where the value is used (signing), never to
// log or print it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) text() string {
	if s == "" {
		return ""
	}
	return RedactedValue
}

// String returns RedactedValue ("" for an empty Secret).
func (s Secret) String() string { return s.text() }

// GoString returns RedactedValue quoted, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.text()) }

// Format writes RedactedValue for every verb and flag (quoted for %q and %#v).
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q', verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(strconv.Quote(s.text())))
	default:
		_, _ = f.Write([]byte(s.text()))
	}
}

// MarshalJSON returns RedactedValue as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.text())), nil }

// MarshalText returns RedactedValue.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.text()), nil }

// The structs that hold a Secret format themselves too. fmt prints a pointer field under a
// verb other than %v or %p (a *EAB inside a Config printed with %s, say) as "%!s(*config.EAB=
// &{...})", and prints what is behind it without calling any method, Secret's Format included.
// A pointer whose type is a fmt.Formatter is handed to its Format instead, before that happens.
var (
	_ fmt.Formatter = EAB{}
	_ fmt.Formatter = (*Webhook)(nil)
)

// eabFields and webhookFields have EAB's and Webhook's fields but not their methods.
type (
	eabFields     EAB
	webhookFields Webhook
)

// Format prints e with its HMACKey shown as REDACTED, for every verb.
func (e EAB) Format(f fmt.State, verb rune) { formatFields(f, verb, eabFields(e), "EAB") }

// Format prints w with its Secret shown as REDACTED, for every verb.
func (w Webhook) Format(f fmt.State, verb rune) { formatFields(f, verb, webhookFields(w), "Webhook") }

// formatFields prints v (a struct of strings and Secrets) with the verb and flags of f; %#v
// names the type as config.<name>.
func formatFields(f fmt.State, verb rune, v any, name string) {
	s := fmt.Sprintf(fmt.FormatString(f, verb), v)
	if verb == 'v' && f.Flag('#') {
		if _, rest, ok := strings.Cut(s, "{"); ok {
			s = "config." + name + "{" + rest
		}
	}
	_, _ = io.WriteString(f, s)
}
