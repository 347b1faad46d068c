package config

import (
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

// TestAliasBomb: aliases that expand to a huge document fail fast instead of eating the CPU.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("acme: {email: a@example-corp.net}\ncertificates:\n  - &cert\n    name: n\n    domains: [a..b.com]\n    sinks: {file: {dir: x}}\n    hooks:\n      on_renew: &h\n")
	for range 100 {
		b.WriteString("        - {exec: [bin/true], timeout: -1s}\n")
	}
	for range 2000 {
		b.WriteString("  - *cert\n")
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), "too many YAML nodes") {
		t.Errorf("got %.200v", err)
	}
	// The error proves the node budget; the time catches a parse that expands the bomb
	// anyway: parsing a document within the budget is a step of work.
	if d := time.Since(start); d > testwait.For(0) {
		t.Errorf("took %v", d)
	}
}

// TestManyProblems: a file with thousands of mistakes lists the first MaxProblems and counts the rest.
func TestManyProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("acme: {email: a@example-corp.net}\ncertificates:\n  - name: n\n    sinks: {file: {dir: /x}}\n    domains:\n")
	for range 1000 {
		b.WriteString("      - a..b\n")
	}
	_, err := Parse([]byte(b.String()), nil)
	ve, ok := err.(*ValidationError)
	if !ok || len(ve.Problems) != MaxProblems+1 || ve.Problems[MaxProblems].Msg != "and 801 more problems" {
		t.Fatalf("got %T", err)
	}
}
