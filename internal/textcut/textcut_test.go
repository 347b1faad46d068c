package textcut

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	t.Parallel()
	at := strings.Repeat("a", Max)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"www.example.com", "www.example.com"},
		{at, at},
		{at + "b", at + "... (" + strconv.Itoa(Max+1) + " bytes)"},
		{strings.Repeat("x", 300<<10), strings.Repeat("x", Max) + "... (307200 bytes)"},
		// A multi-byte character across the limit is dropped whole.
		{strings.Repeat("a", Max-1) + "é" + "z", strings.Repeat("a", Max-1) + "... (" + strconv.Itoa(Max+2) + " bytes)"},
	} {
		got := Cut(c.in)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Cut(%d bytes) = %.40q... (%d bytes), want %d bytes", len(c.in), got, len(got), len(c.want))
		}
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("v", 1000)
	in := []any{"short", big, 42, []byte(big)}
	out := Args(in)
	if out[0] != "short" || out[1] != Cut(big) || out[2] != 42 || in[1] != big {
		t.Errorf("Args = %v (input changed: %v)", out[:3], in[1] != big)
	}
	small := []any{"a", 1}
	if got := Args(small); &got[0] != &small[0] {
		t.Error("Args copied arguments that needed no cut")
	}
}
