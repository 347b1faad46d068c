package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The example's commented-out alternatives are lines "# key: value" or "# - key: value"
// with the "# " at the column the YAML would be at, continued by commented lines indented
// deeper. Explanations never start with "key:" right after the "# " (they write "key is"
// or indent the key), so every such line is something an operator may uncomment.

// altStart matches the first line of a commented-out alternative: its indentation, and
// the YAML after "# ".
var altStart = regexp.MustCompile(`^( *)# ((- )?([a-z_]+):( .*)?)$`)

// alternative is one commented-out block of config.example.yaml.
type alternative struct {
	first, last int    // line indexes, inclusive
	indent      int    // the column of "#"
	key         string // its first key
	item        bool   // a list item ("- key: ...")
}

func (a alternative) String() string {
	return "line " + strconv.Itoa(a.first+1) + " (" + a.key + ")"
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func isComment(s string) bool { return strings.HasPrefix(strings.TrimLeft(s, " "), "#") }

// alternatives finds the commented-out blocks of lines.
func alternatives(lines []string) []alternative {
	var out []alternative
	for i := 0; i < len(lines); i++ {
		m := altStart.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		a := alternative{first: i, last: i, indent: len(m[1]), key: m[4], item: m[3] != ""}
		// Continuation: commented lines whose text after "# " is indented deeper.
		for j := i + 1; j < len(lines); j++ {
			l := lines[j]
			if !isComment(l) || indentOf(l) != a.indent || !strings.HasPrefix(l[a.indent:], "#  ") {
				break
			}
			a.last = j
		}
		out = append(out, a)
		i = a.last
	}
	return out
}

// uncomment returns the example with a uncommented in place. A key that is already set
// live at the same indentation in the same block is removed first (the alternative
// replaces it), and a list item after "key: []" turns that into a block list.
func uncomment(lines []string, a alternative) string {
	out := append([]string(nil), lines...)
	for j := a.first; j <= a.last; j++ {
		l := out[j]
		rest := strings.TrimPrefix(l[a.indent:], "#")
		rest = strings.TrimPrefix(rest, " ")
		out[j] = strings.Repeat(" ", a.indent) + rest
	}
	drop := map[int]bool{}
	if a.item {
		for j := a.first - 1; j >= 0; j-- {
			l := out[j]
			if strings.TrimSpace(l) == "" || isComment(l) || indentOf(l) >= a.indent {
				continue
			}
			out[j] = strings.TrimSuffix(strings.TrimRight(l, " "), " []")
			break
		}
	} else {
		// The live sibling with the same key: same indentation, no shallower live line
		// between it and the alternative.
		for _, dir := range []int{-1, 1} {
			start := a.first - 1
			if dir == 1 {
				start = a.last + 1
			}
			for j := start; j >= 0 && j < len(out); j += dir {
				l := out[j]
				if strings.TrimSpace(l) == "" || isComment(l) {
					continue
				}
				if indentOf(l) < a.indent {
					break
				}
				if indentOf(l) == a.indent && strings.HasPrefix(l[a.indent:], a.key+":") {
					drop[j] = true
					for k := j + 1; k < len(out) && (strings.TrimSpace(out[k]) == "" || indentOf(out[k]) > a.indent); k++ {
						if !isComment(out[k]) {
							drop[k] = true
						}
					}
				}
			}
		}
	}
	var b strings.Builder
	for j, l := range out {
		if !drop[j] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// exampleEnv answers the ${VAR}s of the example's alternatives with plausible values.
func exampleEnv(k string) (string, bool) {
	switch {
	case strings.Contains(k, "EAB_HMAC"):
		return "c2VjcmV0LWhtYWMta2V5LWZvci10ZXN0cy1vbmx5LXBhZGRlZA", true
	case strings.HasSuffix(k, "_SECRET"):
		return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true
	}
	return "value-of-" + strings.ToLower(k), true
}

// TestExampleAlternatives: every commented-out alternative of config.example.yaml,
// uncommented on its own (replacing the live key it stands for), still loads and
// validates, so a documented alternative cannot drift from what the parser accepts.
func TestExampleAlternatives(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	alts := alternatives(lines)
	if len(alts) < 10 {
		t.Fatalf("found only %d commented-out alternatives: %v", len(alts), alts)
	}
	dir := t.TempDir()
	for i, a := range alts {
		variant := uncomment(lines, a)
		p := filepath.Join(dir, "alt-"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(p, []byte(variant), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, exampleEnv)
		if err != nil {
			t.Errorf("config.example.yaml %s, uncommented: %v\n%s", a, err, strings.Join(strings.Split(variant, "\n")[max(a.first-3, 0):min(a.last+4, len(lines))], "\n"))
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("config.example.yaml %s, uncommented: Validate: %v", a, err)
		}
	}
}

// TestExampleAlternativesFound: the reader of alternatives finds blocks with their
// continuation lines, leaves explanations alone, and an uncommented key replaces the
// live one.
func TestExampleAlternativesFound(t *testing.T) {
	t.Parallel()
	lines := strings.Split(`acme:
  # Explanation: not an alternative.
  #   kid    indented: not one either
  directory: letsencrypt
  # directory: letsencrypt-staging
  # eab:
  #   kid: k
  #   hmac_key: h
  #
hooks:
  on_failure: []
    # - webhook: { url: x }`, "\n")
	alts := alternatives(lines)
	if len(alts) != 3 || alts[0].key != "directory" || alts[1].key != "eab" || alts[1].last != 7 || !alts[2].item {
		t.Fatalf("alternatives = %+v", alts)
	}
	got := uncomment(lines, alts[0])
	if strings.Contains(got, "directory: letsencrypt\n") || !strings.Contains(got, "  directory: letsencrypt-staging\n") {
		t.Errorf("uncomment directory:\n%s", got)
	}
	if got := uncomment(lines, alts[2]); !strings.Contains(got, "  on_failure:\n    - webhook: { url: x }") {
		t.Errorf("uncomment list item:\n%s", got)
	}
}
