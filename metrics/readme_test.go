package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// declared reads the metrics this package declares from its source: name -> labels.
func declared(t *testing.T) map[string][]string {
	t.Helper()
	src, err := os.ReadFile("metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	re := regexp.MustCompile(`(?s)Name:\s+"(certferry_[a-z_]+)".*?\}(?:, \[\]string\{([^}]*)\})?\)`)
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		var labels []string
		for _, l := range regexp.MustCompile(`"([a-z_]+)"`).FindAllStringSubmatch(m[2], -1) {
			labels = append(labels, l[1])
		}
		out[m[1]] = labels
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metrics in metrics.go: %v", len(out), out)
	}
	return out
}

// documented reads the README's metrics table: name -> labels (the backquoted words of
// the labels column, outside parentheses).
func documented(t *testing.T) map[string][]string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`certferry_") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		col := regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(cells[2], "")
		var labels []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(col, -1) {
			labels = append(labels, l[1])
		}
		out[name] = labels
	}
	return out
}

// TestReadmeMetricsTable: the README's /metrics table lists exactly the metrics this
// package declares, each with its labels.
func TestReadmeMetricsTable(t *testing.T) {
	t.Parallel()
	code, doc := declared(t), documented(t)
	for name, labels := range code {
		got, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("%s (labels %v) is not in the README's metrics table", name, labels)
		case !slices.Equal(got, labels):
			t.Errorf("%s: the README lists labels %v, the code has %v", name, got, labels)
		}
	}
	for name := range doc {
		if _, ok := code[name]; !ok {
			t.Errorf("the README lists %s, which the code does not declare", name)
		}
	}
}
