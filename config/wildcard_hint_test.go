package config_test

import (
	"strings"
	"testing"

	"github.com/certferry/certferry/config"
)

// TestUnquotedWildcardHint: an unquoted "*.example.com" is a YAML syntax error (YAML
// reads "*" as an alias), whose parser message says nothing of quotes; the problem adds
// how to write it, in a block list, a flow list and after a key. Other syntax errors,
// and a quoted wildcard, get no hint.
func TestUnquotedWildcardHint(t *testing.T) {
	t.Parallel()
	const hint = `(a wildcard name must be quoted: "*.example.com"; unquoted, YAML reads "*" as an alias)`
	head := "acme:\n  email: ops@example.com\ncertificates:\n  - name: www\n"
	tail := "    sinks: { secretsmanager: { secret: certferry/www } }\n"
	for _, tc := range []struct {
		name, yaml string
		line       string // the problem's line, "" for no error
		hinted     bool
	}{
		{"block list", head + "    domains:\n      - example.com\n      - *.example.com\n" + tail, "line 7: invalid YAML:", true},
		{"flow list", head + "    domains: [example.com, *.example.com]\n" + tail, "line 5: invalid YAML:", true},
		{"first in a flow list", head + "    domains: [*.example.com]\n" + tail, "line 5: invalid YAML:", true},
		{"after a key", head + "    domains: [example.com]\n    dns: { challenge_alias: *.example.org }\n" + tail, "line 6: invalid YAML:", true},
		{"quoted", head + "    domains: [\"*.example.com\", example.com]\n" + tail, "", false},
		{"another syntax error", head + "    domains: [example.com\n" + tail, "invalid YAML:", false},
	} {
		_, err := config.Parse([]byte(tc.yaml), func(string) (string, bool) { return "", false })
		switch {
		case tc.line == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.line == "":
		case err == nil || !strings.Contains(err.Error(), tc.line):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.line)
		case strings.Contains(err.Error(), hint) != tc.hinted:
			t.Errorf("%s: err = %v, hint wanted: %v", tc.name, err, tc.hinted)
		}
	}
}
