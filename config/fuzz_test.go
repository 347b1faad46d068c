package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; what it accepts passes Validate and yields a printable Redacted
// copy; what it rejects comes as a *ValidationError with at least one problem.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	if data, err := os.ReadFile("../config.example.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n"))
	f.Add([]byte("schedule: ${X:-@every 1h}\nacme: {email: a@b.co}\ncertificates: [{name: x, domains: [x.b.co], sinks: {file: {dir: /x}}}]\n"))
	f.Add([]byte("certificates:\n  - !!binary aGVsbG8=\n  - [1, [2]]\n  - {? [a]: b}\n"))
	getenv := env(map[string]string{"ACME_EMAIL": "a@b.co", "HOOK_SECRET": "s", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, getenv)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			if c != nil {
				t.Fatalf("Config returned with an error")
			}
			for _, p := range ve.Problems {
				// "%!" is fmt's mark of a bad format call, unless the input itself has it
				// (messages quote the offending value).
				if p.Msg == "" || (strings.Contains(p.Msg, "%!") && !strings.Contains(string(data), "%!")) {
					t.Fatalf("bad problem %#v", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate again: %v\n%s", err, data)
		}
		r := c.Redacted()
		if err := r.Validate(); err != nil {
			t.Fatalf("redacted copy does not validate: %v", err)
		}
		for _, cert := range c.Certificates {
			for _, d := range cert.Domains {
				if again, err := NormalizeDomain(d); err != nil || again != d {
					t.Fatalf("stored name %q normalises to %q, %v", d, again, err)
				}
			}
		}
	})
}

// FuzzNormalizeDomain: accepted names come out as lowercase ASCII, and normalising the output
// gives the output back.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{
		"example.com", "WWW.Example.COM", "*.example.com", "bücher.example", "xn--bcher-kva.example",
		"例え.テスト", "a..b", "example.com.", "*.com", "a.*.b.com", "192.0.2.1", "[::1]", "-a.b.c",
		"ＡＢＣ.example", "a。b。c", "ß.de", "ς.gr", "İ.tr", "\u200d.example", "xn--.example", "xn--a-.com",
		"a\u00ad.example", "x.\u0663\u0661.example", "  \t", "*.*", "*.ＣＯＭ.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeDomain(in)
		if err != nil {
			if out != "" {
				t.Fatalf("output %q with error %v", out, err)
			}
			return
		}
		for i := 0; i < len(out); i++ {
			if b := out[i]; b >= 0x80 || b >= 'A' && b <= 'Z' {
				t.Fatalf("NormalizeDomain(%q) = %q: not lowercase ASCII", in, out)
			}
		}
		again, err := NormalizeDomain(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeDomain(%q) = %q, but NormalizeDomain(%q) = %q, %v", in, out, out, again, err)
		}
		if len(out) > 253 || out == "" {
			t.Fatalf("NormalizeDomain(%q) = %q: bad length", in, out)
		}
	})
}
