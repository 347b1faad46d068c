package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docFiles are the documents whose commands and flags must match the code.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../../README.md"}
	for _, pat := range []string{"../../docs/*.md", "../../deploy/*/README.md"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

// codeOf returns the code of a Markdown document: the lines of its fenced blocks and
// its inline code spans, each as one string, with the text before a span on its line.
func codeOf(doc string) []code {
	var out []code
	inBlock := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			out = append(out, code{text: line})
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatchIndex(line, -1) {
			out = append(out, code{text: line[m[2]:m[3]], before: line[:m[0]]})
		}
	}
	return out
}

type code struct{ text, before string }

// otherTool matches text ending with another program's possessive ("acme.sh's "): the
// flag quoted next is that program's.
var otherTool = regexp.MustCompile(`([A-Za-z0-9._-]+)'s $`)

func (c code) otherTools() bool {
	m := otherTool.FindStringSubmatch(c.before)
	return m != nil && m[1] != "certferry"
}

// invocationRE is "certferry COMMAND" (or "certferry-as-daemon COMMAND", the packages'
// wrapper, which takes the same commands) and what follows up to a shell separator or an
// end-of-line comment.
var invocationRE = regexp.MustCompile(`(?:^|[\s(])certferry(?:-as-daemon)? ([a-z][a-z-]*)([^|;&#]*)`)

// flagRE is a --flag in an invocation, in any of "--f", "[--f X]", "--f=X", "--f...".
var flagRE = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// helpOf is the -h output of each command.
func helpOf(t *testing.T) map[string]string {
	t.Helper()
	help := map[string]string{}
	for _, cmd := range commands(t) {
		_, _, errOut := cli(t, cmd, "-h")
		help[cmd] = errOut
	}
	return help
}

// hasFlag reports whether a -h output lists -flag (flag.PrintDefaults: "  -name" or
// "  -name type" at the start of a line).
func hasFlag(help, flag string) bool {
	return regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(flag) + `(\s|$)`).MatchString(help)
}

// subcommandHelp is the -h output of "certferry cmd sub" when rest starts with a word
// (a subcommand such as "account update"), else "".
func subcommandHelp(t *testing.T, cmd, rest string) string {
	f := strings.Fields(rest)
	if len(f) == 0 || !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(f[0]) {
		return ""
	}
	_, _, errOut := cli(t, cmd, f[0], "-h")
	return errOut
}

// TestDocsFlagsExist: every `certferry COMMAND --flag` in the README and docs names a
// command that exists and a flag that command has; every flag quoted alone
// (`--dry-run`) exists on some command; and every `make TARGET` is a Makefile target.
func TestDocsFlagsExist(t *testing.T) {
	t.Parallel()
	help := helpOf(t)
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range docFiles(t) {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codeOf(string(doc)) {
			code := c.text
			for _, m := range invocationRE.FindAllStringSubmatch(code, -1) {
				cmd, rest := m[1], m[2]
				h, ok := help[cmd]
				if !ok {
					// With flags it is meant as a command; without, "certferry" may be a
					// user or group name followed by a file ("-g certferry config.yaml").
					if strings.Contains(rest, "--") {
						t.Errorf("%s: `certferry %s%s`: no such command", f, cmd, rest)
					}
					continue
				}
				sub := ""
				for _, fm := range flagRE.FindAllStringSubmatch(rest, -1) {
					checked++
					if !hasFlag(h, fm[1]) && sub == "" {
						sub = subcommandHelp(t, cmd, rest)
					}
					if !hasFlag(h, fm[1]) && !hasFlag(sub, fm[1]) {
						t.Errorf("%s: `certferry %s ... --%s`: %s has no --%s", f, cmd, fm[1], cmd, fm[1])
					}
				}
			}
			// docs/sandbox.md quotes the flags of the certferry-sandbox binary, which
			// its own package checks.
			if strings.HasPrefix(code, "--") && filepath.Base(f) != "sandbox.md" && !c.otherTools() {
				flag := flagRE.FindStringSubmatch(code)[1]
				checked++
				found := false
				for _, h := range help {
					found = found || hasFlag(h, flag)
				}
				if !found {
					t.Errorf("%s: `%s`: no command has --%s", f, code, flag)
				}
			}
			for _, mm := range regexp.MustCompile(`(?:^|\s)make ([a-z][a-z-]*)`).FindAllStringSubmatch(code, -1) {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mm[1]) + `:`).Match(makefile) {
					t.Errorf("%s: `make %s`: the Makefile has no such target", f, mm[1])
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d flags checked: is the README still read?", checked)
	}
}

// TestDocsFlagsCheckerCatches: the checker sees a flag a command lacks.
func TestDocsFlagsCheckerCatches(t *testing.T) {
	t.Parallel()
	help := helpOf(t)
	if !hasFlag(help["renew"], "dry-run") || hasFlag(help["renew"], "dry") || hasFlag(help["run"], "dry-run") {
		t.Error("hasFlag does not tell flags apart")
	}
	codes := codeOf("run `certferry renew [--config F] [--only NAME]...` and acme.sh's `--x`\n```sh\nsudo certferry run --unhealthy-after 36h # x --no\n```\n")
	if len(codes) != 3 || codes[0].otherTools() || !codes[1].otherTools() {
		t.Errorf("codes = %q", codes)
	}
	m := invocationRE.FindAllStringSubmatch(codes[0].text+"\n", -1)
	if len(m) != 1 || m[0][1] != "renew" || len(flagRE.FindAllString(m[0][2], -1)) != 2 {
		t.Errorf("invocations = %q", m)
	}
}
