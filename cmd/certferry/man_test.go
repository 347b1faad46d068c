package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The man pages the packages install (deploy/package/man) are the commands' own help,
// turned into roff: certferry(1) from the top-level usage, certferry-COMMAND(1) from
// "certferry COMMAND -h". TestManPagesAreCurrent fails when the help changed and the
// pages did not; regenerate them with
//
//	go test ./cmd/certferry -run TestManPagesAreCurrent -update-man
var updateMan = flag.Bool("update-man", false, "rewrite deploy/package/man from the commands' help")

const manDir = "../../deploy/package/man"

// manPages returns every page: file name -> roff.
func manPages(t *testing.T) map[string]string {
	t.Helper()
	pages := map[string]string{"certferry.1": topManPage(t)}
	short := shortDescriptions()
	for _, cmd := range commands(t) {
		if cmd == "version" {
			continue
		}
		_, _, help := cli(t, cmd, "-h")
		pages["certferry-"+cmd+".1"] = commandManPage(t, cmd, short[cmd], help)
	}
	return pages
}

// shortDescriptions are the one-line descriptions under each command of the top-level
// usage: the NAME line of its page.
func shortDescriptions() map[string]string {
	out := map[string]string{}
	lines := strings.Split(usage, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "certferry" && strings.HasPrefix(l, "  ") && i+1 < len(lines) {
			if next := lines[i+1]; strings.HasPrefix(next, "                ") {
				out[f[1]] = strings.TrimSpace(next)
			}
		}
	}
	return out
}

// roffEscape makes text safe in roff: backslashes escaped, and no line starting with
// a control character ("." or "'").
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			b.WriteString(`\&`)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// paragraphs writes text as roff: a paragraph whose lines are all flush left is filled;
// one with indented lines (exit codes, lists) is kept as written.
func paragraphs(b *strings.Builder, text string) {
	for _, p := range regexp.MustCompile(`\n\s*\n`).Split(strings.TrimSpace(text), -1) {
		b.WriteString(".PP\n")
		if regexp.MustCompile(`(?m)^\s`).MatchString(p) {
			fmt.Fprintf(b, ".nf\n%s\n.fi\n", roffEscape(p))
		} else {
			b.WriteString(roffEscape(p) + "\n")
		}
	}
}

func manHeader(b *strings.Builder, page, name, short string) {
	fmt.Fprintf(b, ".\\\" Generated from the command's help by cmd/certferry's TestManPagesAreCurrent; do not edit.\n")
	fmt.Fprintf(b, ".TH %s 1 \"\" \"certferry\" \"certferry manual\"\n", strings.ToUpper(page))
	fmt.Fprintf(b, ".SH NAME\n%s \\- %s\n", name, roffEscape(short))
}

func topManPage(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	title, rest, _ := strings.Cut(usage, "\n")
	manHeader(&b, "certferry", "certferry", strings.TrimSuffix(strings.TrimPrefix(title, "certferry: "), "."))
	body, tail, ok := strings.Cut(rest, "\nEvery command but version")
	if !ok {
		t.Fatal("the usage has no \"Every command but version\" paragraph")
	}
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.nf\n%s\n.fi\n", roffEscape(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(body), "Usage:"))))
	b.WriteString(".SH DESCRIPTION\n")
	paragraphs(&b, "Every command but version"+tail)
	var see []string
	for _, cmd := range commands(t) {
		if cmd != "version" {
			see = append(see, `.BR certferry\-`+cmd+" (1)")
		}
	}
	fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", strings.Join(see, ",\n"))
	return b.String()
}

func commandManPage(t *testing.T, cmd, short, help string) string {
	t.Helper()
	var b strings.Builder
	if short == "" {
		t.Errorf("the top-level usage has no description line under certferry %s", cmd)
	}
	manHeader(&b, "certferry-"+cmd, `certferry\-`+cmd, short)
	head, flags, ok := strings.Cut(help, "\nFlags:\n")
	if !ok {
		t.Fatalf("certferry %s -h has no Flags: section:\n%s", cmd, help)
	}
	syn, desc, _ := strings.Cut(head, "\n")
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.nf\n%s\n.fi\n", roffEscape(strings.TrimPrefix(syn, "Usage: ")))
	b.WriteString(".SH DESCRIPTION\n")
	paragraphs(&b, desc)
	// flag.PrintDefaults: "  -name type" then "    \tusage" lines.
	b.WriteString(".SH OPTIONS\n")
	for _, l := range strings.Split(strings.TrimRight(flags, "\n"), "\n") {
		if strings.HasPrefix(l, "  -") {
			fmt.Fprintf(&b, ".TP\n.B \\-%s\n", roffEscape(strings.TrimPrefix(strings.TrimSpace(l), "-")))
			continue
		}
		b.WriteString(roffEscape(strings.TrimSpace(l)) + "\n")
	}
	b.WriteString(".SH SEE ALSO\n.BR certferry (1)\n")
	return b.String()
}

// TestManPagesAreCurrent: deploy/package/man holds exactly the pages the help makes.
func TestManPagesAreCurrent(t *testing.T) {
	pages := manPages(t)
	if *updateMan {
		if err := os.MkdirAll(manDir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(manDir, "*.1"))
		for _, p := range old {
			_ = os.Remove(p)
		}
		for name, page := range pages {
			if err := os.WriteFile(filepath.Join(manDir, name), []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	have, _ := filepath.Glob(filepath.Join(manDir, "*.1"))
	var names []string
	for _, p := range have {
		names = append(names, filepath.Base(p))
	}
	var want []string
	for name := range pages {
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s holds %q, want %q (go test ./cmd/certferry -run TestManPagesAreCurrent -update-man)", manDir, names, want)
	}
	for name, page := range pages {
		got, err := os.ReadFile(filepath.Join(manDir, name))
		if err == nil && !bytes.Equal(got, []byte(page)) {
			t.Errorf("%s is not the help's current text (go test ./cmd/certferry -run TestManPagesAreCurrent -update-man)", name)
		}
	}
	// man itself, where installed, reads every page without a warning.
	if _, err := os.Stat("/usr/bin/man"); err == nil {
		for name := range pages {
			checkWithMan(t, filepath.Join(manDir, name))
		}
	}
}

// checkWithMan renders page with man and fails on any warning groff prints.
func checkWithMan(t *testing.T, page string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "man", "--warnings", "-E", "UTF-8", "-l", page)
	// A locale the machine lacks makes man warn about it: C.UTF-8 is always there.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANGUAGE=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "LANG=C.UTF-8", "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("man -l %s: %v\n%s", page, err, stderr.String())
	}
}
