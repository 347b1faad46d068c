package main

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// commands are the commands the usage lists, read from it so that a new command is
// checked without editing this test.
func commands(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(usage, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "certferry" && strings.HasPrefix(line, "  ") {
			out = append(out, f[1])
		}
	}
	if len(out) < 5 { // renew, run, status, validate, version at least
		t.Fatalf("found only %q in the usage", out)
	}
	return out
}

// noLogFlags are the commands that take no flags at all.
var noLogFlags = map[string]bool{"version": true}

// TestEveryCommandHasLogFlags: every command's help lists --log-level and --log-format,
// and a bad value of either is a usage error naming it before anything runs.
func TestEveryCommandHasLogFlags(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands(t) {
		if noLogFlags[cmd] {
			continue
		}
		code, _, errOut := cli(t, cmd, "-h")
		if code != exitOK || !strings.Contains(errOut, "-log-level") || !strings.Contains(errOut, "-log-format") {
			t.Errorf("certferry %s -h: exit %d, help lacks -log-level or -log-format:\n%s", cmd, code, errOut)
		}
		for _, bad := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}} {
			code, _, errOut := cli(t, append([]string{cmd}, bad...)...)
			if code != exitUsage || !strings.Contains(errOut, `"`+bad[1]+`"`) {
				t.Errorf("certferry %s %s: exit %d, stderr %q; want %d naming the value", cmd, strings.Join(bad, " "), code, errOut, exitUsage)
			}
		}
	}
}

// dated matches a time written with its date (TimeLayout, UTC).
var dated = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// packagePrefixes are the prefixes certferry's packages put on their errors; each may
// appear once in an error chain, wherever the layers put it.
var packagePrefixes = []string{"acme", "route53", "secretsmanager", "file", "hooks", "config", "renew", "daemon", "certs"}

func hasDoubledPrefix(s string) bool {
	for _, m := range regexp.MustCompile(`\b([a-z0-9][a-z0-9_ ]*?): `).FindAllStringSubmatchIndex(s, -1) {
		w := s[m[2]:m[3]]
		if strings.HasPrefix(s[m[1]:], w+": ") {
			return true
		}
	}
	for _, p := range packagePrefixes {
		if len(regexp.MustCompile(`(?:^|: )`+p+`: `).FindAllStringIndex(s, -1)) > 1 {
			return true
		}
	}
	return false
}

// TestCLILogLines: a pass at debug level in JSON: every line is a JSON object, every
// time field carries its date, no logger name repeats a component ("route53.route53"),
// and no error repeats its prefix. The console format writes dates in fields too.
func TestCLILogLines(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxConfig)
	code, out, errOut := e.renew(t, "--log-level", "debug", "--log-format", "json")
	if code != exitFailed {
		t.Fatalf("renew: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, errOut)
	}
	names := map[string]bool{}
	lifetime := ""
	sc := bufio.NewScanner(strings.NewReader(errOut))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("not a JSON line: %q", sc.Text())
			continue
		}
		if l, ok := m["lifetime"].(string); ok {
			lifetime = l
		}
		if n, ok := m["logger"].(string); ok {
			names[n] = true
			seen := map[string]bool{}
			for _, part := range strings.Split(n, ".") {
				if seen[part] {
					t.Errorf("logger name %q repeats %q", n, part)
				}
				seen[part] = true
			}
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				continue
			}
			if k == "time" || k == "not_after" || k == "not_before" {
				if !dated.MatchString(s) {
					t.Errorf("%s = %q, want a UTC time with its date: %s", k, s, sc.Text())
				}
			}
			if hasDoubledPrefix(s) {
				t.Errorf("%s repeats a prefix: %q", k, s)
			}
		}
	}
	for _, want := range []string{"renew", "route53", "acme", "secretsmanager"} {
		if !names[want] {
			t.Errorf("no line from logger %q (names: %v)", want, names)
		}
	}
	// Long durations are written in days and hours, not Go's "2159h59m59s".
	if !regexp.MustCompile(`^\d+d \d{2}h$`).MatchString(lifetime) {
		t.Errorf("lifetime = %q, want days and hours", lifetime)
	}
	if hasDoubledPrefix(out) {
		t.Errorf("the summary repeats a prefix:\n%s", out)
	}

	// Console: the not_after field of "issued" carries its date (it once printed the
	// clock only, the entry's layout applied to fields too).
	code, out, errOut = e.renew(t, "--log-format", "console", "--force", "--only", "web")
	if code != exitOK {
		t.Fatalf("renew --force: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	re := regexp.MustCompile(`"not_after": "([^"]*)"`)
	m := re.FindAllStringSubmatch(errOut, -1)
	if len(m) == 0 {
		t.Fatalf("console log has no not_after field:\n%s", errOut)
	}
	for _, x := range m {
		if _, err := time.Parse(time.RFC3339, x[1]); err != nil || !dated.MatchString(x[1]) {
			t.Errorf("console not_after = %q, want a UTC time with its date", x[1])
		}
	}
	if !dated.MatchString(strings.Fields(errOut)[0]) {
		t.Errorf("console line does not start with a dated time: %q", strings.SplitN(errOut, "\n", 2)[0])
	}
}

func TestHasDoubledPrefix(t *testing.T) {
	for s, want := range map[string]bool{
		"acme: acme: new client: x":                           true,
		"acme: new client: x":                                 false,
		"dns: route53: upsert _acme-challenge.example.com":    false,
		"store: secretsmanager: put certferry/web: x":         false,
		"order: order: x":                                     true,
		"acme: begin order rl: new order: acme: rate limited": true,
		"finalize: acme: complete order web: x":               false,
		"hooks: webhook:https://h: answered 500: acme: x":     false,
	} {
		if got := hasDoubledPrefix(s); got != want {
			t.Errorf("hasDoubledPrefix(%q) = %v, want %v", s, got, want)
		}
	}
}
