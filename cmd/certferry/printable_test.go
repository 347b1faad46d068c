package main

import (
	"strings"
	"testing"
)

// TestPrintable: what a table prints holds no control character, bidirectional control
// or byte that is not UTF-8; plain text, accents and the typographic characters pass.
func TestPrintable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"no hosted zone contains the name (a: \"b\") 100%", "no hosted zone contains the name (a: \"b\") 100%"},
		{"déjà vu … ✓", "déjà vu … ✓"},
		{"\x1b]0;PWNED\x07title", `\x1b]0;PWNED\atitle`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"tab\tcolumn", `tab\tcolumn`},
		{"shown\rhidden", `shown\rhidden`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"right\u202eto left", `right\u202eto left`},
		{"c1 \u009b", `c1 \u009b`},
		{"del \x7f", `del \x7f`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCell: a table cell is the first line, printable, at most maxCell characters; cut
// says when the table must point to --json for the whole text, and only then.
func TestCell(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxCell+1)
	for _, tc := range []struct {
		in, want string
		cut      bool
	}{
		{"short", "short", false},
		{"a\x1b[2Jb", `a\x1b[2Jb`, false},
		{"first\nsecond", "first ...", true},
		{long, long[:maxCell-3] + "...", true},
		{strings.Repeat("\x1b", maxCell/4), strings.Repeat(`\x1b`, maxCell/4), false},
		{strings.Repeat("\x1b", maxCell/4+1), strings.Repeat(`\x1b`, maxCell/4)[:maxCell-3] + "...", true},
	} {
		if got := cell(tc.in); got != tc.want {
			t.Errorf("cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := cut(tc.in); got != tc.cut {
			t.Errorf("cut(%q) = %v, want %v", tc.in, got, tc.cut)
		}
	}
}
