package config

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/certferry/certferry/internal/textcut"
)

// MaxDomains is the largest number of names one certificate may hold (Let's Encrypt's limit).
const MaxDomains = 100

// NormalizeDomain returns the canonical form of one certificate name: surrounding space trimmed,
// ASCII lowercase, internationalised labels converted to punycode with the IDNA Lookup profile
// (UTS #46), and a wildcard allowed only as the whole leftmost label ("*.example.com").
//
// It rejects empty names, empty labels ("a..b"), a trailing dot, a label that starts or ends with a
// hyphen, a label longer than 63 or a name longer than 253 octets, IP addresses, single-label names
// and wildcards over a single label ("*.com"). The error text quotes the input, for example
// `"foo..example.com": empty label`.
//
// NormalizeDomain is idempotent: normalising its output returns the output unchanged, and the
// output is always lowercase ASCII.
func NormalizeDomain(name string) (string, error) {
	out, msg := normalizeDomain(name)
	if msg != "" {
		return "", fmt.Errorf("%q: %s", textcut.Cut(name), msg)
	}
	return out, nil
}

// domainProblem is one problem of a name list; index -1 is about the list as a whole.
type domainProblem struct {
	index int
	msg   string
}

// normalizeDomainList normalises every name with NormalizeDomain, keeping the given order. It
// rejects an empty list, more than MaxDomains names and two spellings of the same name (the
// problem names both). Problems are kept apart, so that config can attach
// each one to its field path.
func normalizeDomainList(names []string) ([]string, []domainProblem) {
	var probs []domainProblem
	switch {
	case len(names) == 0:
		probs = append(probs, domainProblem{-1, "at least one name is required"})
	case len(names) > MaxDomains:
		probs = append(probs, domainProblem{-1, fmt.Sprintf("%d names; a certificate holds at most %d", len(names), MaxDomains)})
	}
	out := make([]string, len(names))
	first := make(map[string]int, len(names))
	for i, n := range names {
		norm, msg := normalizeDomain(n)
		if msg != "" {
			probs = append(probs, domainProblem{i, fmt.Sprintf("%q: %s", textcut.Cut(n), msg)})
			out[i] = n
			continue
		}
		out[i] = norm
		if j, dup := first[norm]; dup {
			if names[j] == n {
				probs = append(probs, domainProblem{i, fmt.Sprintf("%q is listed twice (also domains[%d])", n, j)})
			} else {
				probs = append(probs, domainProblem{i, fmt.Sprintf("%q is the same name as domains[%d] %q (both are %q)", n, j, names[j], norm)})
			}
			continue
		}
		first[norm] = i
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}

// normalizeDomain returns the normal form of name, or a message saying what is wrong with it.
func normalizeDomain(name string) (string, string) {
	s := strings.TrimSpace(name)
	if s == "" {
		return "", "empty name"
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return "", fmt.Sprintf("is an IP address (%s); certificates here are for DNS names only", ip)
	}
	s = asciiLower(s)
	if strings.HasSuffix(s, ".") && s != "." {
		return "", fmt.Sprintf("drop the trailing dot (write %q)", strings.TrimRight(s, "."))
	}
	wildcard := false
	if strings.HasPrefix(s, "*.") {
		wildcard = true
		s = s[2:]
	}
	if strings.Contains(s, "*") || s == "*" {
		return "", `a wildcard is allowed only as the whole leftmost label ("*.example.com")`
	}
	// Checks on the labels as written give clearer messages than the IDNA library's.
	if msg := checkLabels(s, false); msg != "" {
		return "", msg
	}
	ascii, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", "not a valid internationalised name: " + strings.TrimPrefix(err.Error(), "idna: ")
	}
	// The IDNA mapping can turn other characters into dots or hyphens: check again.
	if msg := checkLabels(ascii, true); msg != "" {
		return "", msg
	}
	labels := strings.Count(ascii, ".") + 1
	// A public suffix of the ICANN section (co.uk, com.au) is where others register
	// names: no public CA issues for it, nor a wildcard directly under it. A private
	// suffix (github.io) belongs to someone, who may hold a certificate.
	if ps, icann := publicsuffix.PublicSuffix(ascii); icann && ps == ascii && labels >= 2 {
		if wildcard {
			return "", fmt.Sprintf("is a wildcard directly under a public suffix (Public Suffix List): no public CA issues it (write \"*.example.%s\")", ascii)
		}
		return "", fmt.Sprintf("is a public suffix (Public Suffix List), under which others register names: no public CA issues for it (write a name under it, e.g. \"example.%s\")", ascii)
	}
	if wildcard {
		if labels < 2 {
			return "", fmt.Sprintf("a wildcard needs at least two labels after \"*.\" (\"*.example.%s\", not \"*.%s\")", ascii, ascii)
		}
		ascii = "*." + ascii
	} else if labels < 2 {
		return "", "a single-label name cannot get a public certificate (write the full name, e.g. \"host.example.com\")"
	}
	if len(ascii) > 253 {
		return "", fmt.Sprintf("name is %d characters long; the limit is 253", len(ascii))
	}
	return ascii, ""
}

// checkLabels checks the dot-separated labels of s. With ascii set, s is the IDNA output and every
// byte must be a letter, digit or hyphen.
func checkLabels(s string, ascii bool) string {
	for label := range strings.SplitSeq(s, ".") {
		switch {
		case label == "":
			return "empty label"
		case strings.HasPrefix(label, "-"):
			return fmt.Sprintf("label %q starts with a hyphen", label)
		case strings.HasSuffix(label, "-"):
			return fmt.Sprintf("label %q ends with a hyphen", label)
		}
		if !ascii && !isASCII(label) {
			continue // IDNA checks it
		}
		if len(label) > 63 {
			return fmt.Sprintf("label %q is %d characters long; the limit is 63", shorten(label), len(label))
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Sprintf("label %q has the character %q; only letters, digits and hyphens are allowed", label, r)
			}
		}
	}
	return ""
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// shorten keeps error messages readable when a label is very long.
func shorten(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:10] + "..." + s[len(s)-7:]
}
