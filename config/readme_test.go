package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// knownKeys are the keys the parser knows in the mapping yaml places "zzzz" in, read from
// its own "known keys" hint so the test follows the parser.
func knownKeys(t *testing.T, yaml string) map[string]bool {
	t.Helper()
	_, err := Parse([]byte(yaml), env(nil))
	m := regexp.MustCompile(`unknown key "zzzz" \(known keys: ([^)]*)\)`).FindStringSubmatch(errString(err))
	if m == nil {
		t.Fatalf("no known-keys hint for %q: %v", yaml, err)
	}
	out := map[string]bool{}
	for _, k := range strings.Split(m[1], ", ") {
		out[k] = true
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nested writes a dotted key path as nested YAML mappings at indent, with a value that
// is a mapping (an unknown key is reported whatever the value's type).
func nested(path []string, indent string) string {
	var b strings.Builder
	for i, k := range path {
		b.WriteString(indent + strings.Repeat("  ", i) + k + ":\n")
	}
	return b.String()
}

// TestDocsConfigKeys: every configuration key path the README and docs/ quote
// (`acme.directory`, `dns.follow_cname`, `sinks.secretsmanager.tags`) is a key the
// parser knows, at the top level or in a certificate.
func TestDocsConfigKeys(t *testing.T) {
	t.Parallel()
	top := knownKeys(t, "zzzz: 1\n")
	cert := knownKeys(t, "certificates:\n  - zzzz: 1\n")
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	pathRE := regexp.MustCompile("`([a-z_]+(?:\\.[a-z_]+)+)(?:\\[\\])?(?::[^`]*)?`")
	checked := 0
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pathRE.FindAllStringSubmatch(string(doc), -1) {
			path := strings.Split(m[1], ".")
			if !top[path[0]] && !cert[path[0]] {
				continue // a file name, a package path, a unit
			}
			checked++
			ok := false
			if top[path[0]] {
				_, err := Parse([]byte(nested(path, "")), env(nil))
				ok = !strings.Contains(errString(err), "unknown key")
			}
			if !ok && cert[path[0]] {
				_, err := Parse([]byte("certificates:\n  - "+strings.TrimLeft(nested(path, "    "), " ")), env(nil))
				ok = !strings.Contains(errString(err), "unknown key")
			}
			if !ok {
				t.Errorf("%s: `%s`: not a configuration key", f, m[1])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d key paths checked", checked)
	}
}
