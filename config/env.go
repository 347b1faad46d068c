package config

import (
	"fmt"
	"strconv"
	"strings"
)

// expand replaces ${NAME} and ${NAME:-default} in a scalar value. ${NAME} of an unset variable is
// an error; ${NAME:-default} uses default when NAME is unset or empty. "$${" stands for a literal
// "${"; any other "$" is kept as is. Defaults cannot nest another ${...}. Its errors quote the
// offending part of s; use expandSensitive for values that may hold a secret.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
	return expandValue(s, getenv, false)
}

// expandSensitive is expand for a value that may hold a secret (an HMAC key, a webhook URL
// with a token): its errors never copy any part of s, only the variable's name when unset.
func expandSensitive(s string, getenv func(string) (string, bool)) (string, error) {
	return expandValue(s, getenv, true)
}

// notShown is what an error says in place of a sensitive value.
const notShown = "(value not shown)"

func expandValue(s string, getenv func(string) (string, bool), sensitive bool) (string, error) {
	// fail formats msg with the offending part of s quoted, or with "${...}" in its place and
	// notShown at the end when s is sensitive.
	fail := func(msg, part string) error {
		if sensitive {
			return fmt.Errorf(msg+" "+notShown, "${...}")
		}
		return fmt.Errorf(msg, strconv.Quote(part))
	}
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fail("unterminated %s: missing \"}\"", s[i:])
		}
		inner := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validEnvName(name) {
			return "", fail("%s: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ (\"$${\" for a literal \"${\")", "${"+inner+"}")
		}
		if strings.Contains(def, "${") {
			return "", fail("%s: a default cannot contain another ${...}", "${"+inner+"}")
		}
		v, ok := getenv(name)
		switch {
		case hasDef && (!ok || v == ""):
			v = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(v)
		i += 2 + end + 1
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
