// Package docsteps reads the shell steps a Markdown document gives, so that tests can
// hold the README's instructions to the code and the Terraform example they name. Only
// tests import it.
package docsteps

import (
	"fmt"
	"regexp"
	"strings"
)

// Steps returns the commands of the first ```sh block after the heading line heading
// ("## Run on AWS Lambda"), one per entry: continuation lines joined, comments cut,
// spaces collapsed.
func Steps(doc []byte, heading string) ([]string, error) {
	s := string(doc)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		return nil, fmt.Errorf("docsteps: no %q heading", heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		return nil, fmt.Errorf("docsteps: no ```sh block under %q", heading)
	}
	s = s[start+len("```sh\n"):]
	end := strings.Index(s, "```")
	if end < 0 {
		return nil, fmt.Errorf("docsteps: the ```sh block under %q is not closed", heading)
	}
	s = strings.ReplaceAll(s[:end], "\\\n", " ")
	var steps []string
	for _, line := range strings.Split(s, "\n") {
		if j := strings.Index(line, " #"); j >= 0 {
			line = line[:j]
		}
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			steps = append(steps, line)
		}
	}
	return steps, nil
}

// Find returns the index and text of the first step starting with prefix, or -1.
func Find(steps []string, prefix string) (int, string) {
	for i, s := range steps {
		if strings.HasPrefix(s, prefix) {
			return i, s
		}
	}
	return -1, ""
}

// FlagValue is the value of --name in a command line, unquoted ("" when absent).
func FlagValue(cmd, name string) string {
	m := regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `[ =](\S+)`).FindStringSubmatch(cmd)
	if m == nil {
		return ""
	}
	v := m[1]
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return v
}
