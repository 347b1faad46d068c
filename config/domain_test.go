package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	long63 := strings.Repeat("a", 63)
	tests := []struct{ in, want, err string }{
		{"example.com", "example.com", ""},
		{"  WWW.Example.COM ", "www.example.com", ""},
		{"*.example.com", "*.example.com", ""},
		{"*.EXAMPLE.com", "*.example.com", ""},
		{"bücher.example", "xn--bcher-kva.example", ""},
		{"BÜCHER.example", "xn--bcher-kva.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"*.münchen.de", "*.xn--mnchen-3ya.de", ""},
		{"例え.テスト", "xn--r8jz45g.xn--zckzah", ""},
		{"a-b.example.com", "a-b.example.com", ""},
		{"123.example.com", "123.example.com", ""},
		{long63 + ".example.com", long63 + ".example.com", ""},
		{"", "", `"": empty name`},
		{"   ", "", `"   ": empty name`},
		{"foo..example.com", "", `"foo..example.com": empty label`},
		{".example.com", "", `".example.com": empty label`},
		{"example.com.", "", `"example.com.": drop the trailing dot (write "example.com")`},
		{"*.example.com.", "", `"*.example.com.": drop the trailing dot (write "*.example.com")`},
		{"-a.example.com", "", `"-a.example.com": label "-a" starts with a hyphen`},
		{"a-.example.com", "", `"a-.example.com": label "a-" ends with a hyphen`},
		{long63 + "a.example.com", "", `"` + long63 + `a.example.com": label "aaaaaaaaaa...aaaaaaa" is 64 characters long; the limit is 63`},
		{strings.Repeat("abcdefghi.", 26) + "com", "", fmt.Sprintf("%q: name is 263 characters long; the limit is 253", strings.Repeat("abcdefghi.", 26)+"com")},
		{"192.0.2.1", "", `"192.0.2.1": is an IP address (192.0.2.1); certificates here are for DNS names only`},
		{"[2001:db8::1]", "", `"[2001:db8::1]": is an IP address (2001:db8::1); certificates here are for DNS names only`},
		{"*", "", `"*": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"*.com", "", `"*.com": a wildcard needs at least two labels after "*." ("*.example.com", not "*.com")`},
		{"a.*.example.com", "", `"a.*.example.com": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"*a.example.com", "", `"*a.example.com": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"*.*.example.com", "", `"*.*.example.com": a wildcard is allowed only as the whole leftmost label ("*.example.com")`},
		{"com", "", `"com": a single-label name cannot get a public certificate (write the full name, e.g. "host.example.com")`},
		{"co.uk", "", `"co.uk": is a public suffix (Public Suffix List), under which others register names: no public CA issues for it (write a name under it, e.g. "example.co.uk")`},
		{"*.co.uk", "", `"*.co.uk": is a wildcard directly under a public suffix (Public Suffix List): no public CA issues it (write "*.example.co.uk")`},
		{"*.com.au", "", `"*.com.au": is a wildcard directly under a public suffix (Public Suffix List): no public CA issues it (write "*.example.com.au")`},
		{"www.co.uk", "www.co.uk", ""}, // a registered domain under co.uk
		{"github.io", "github.io", ""}, // a private suffix: its owner may hold a certificate
		{"*.foo.github.io", "*.foo.github.io", ""},
		{"foo_bar.example.com", "", `"foo_bar.example.com": label "foo_bar" has the character '_'; only letters, digits and hyphens are allowed`},
		{"a b.example.com", "", `"a b.example.com": label "a b" has the character ' '; only letters, digits and hyphens are allowed`},
		{"ex\u00a0ample.com", "", `"ex\u00a0ample.com": not a valid internationalised name: disallowed rune U+00A0`},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("NormalizeDomain(%q) = %q, %v\nwant error %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeDomainList(t *testing.T) {
	t.Parallel()
	got, err := normalizeDomains([]string{"WWW.example.com", "example.com", "*.example.com"})
	if err != nil || strings.Join(got, ",") != "www.example.com,example.com,*.example.com" {
		t.Errorf("got %q, %v", got, err)
	}
	_, err = normalizeDomains([]string{"www.example.com", "a..b", "WWW.Example.com", "www.example.com"})
	want := `domains[1]: "a..b": empty label
domains[2]: "WWW.Example.com" is the same name as domains[0] "www.example.com" (both are "www.example.com")
domains[3]: "www.example.com" is listed twice (also domains[0])`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if _, err := normalizeDomains(nil); err == nil || err.Error() != "domains: at least one name is required" {
		t.Errorf("empty list: %v", err)
	}
	many := make([]string, MaxDomains+1)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.example.com", i)
	}
	if _, err := normalizeDomains(many[:MaxDomains]); err != nil {
		t.Errorf("%d names: %v", MaxDomains, err)
	}
	if _, err := normalizeDomains(many); err == nil || err.Error() != "domains: 101 names; a certificate holds at most 100" {
		t.Errorf("101 names: %v", err)
	}
}

// normalizeDomains is normalizeDomainList with its problems joined as the configuration
// reports them under a certificate's domains.
func normalizeDomains(names []string) ([]string, error) {
	out, probs := normalizeDomainList(names)
	var errs []error
	for _, p := range probs {
		if p.index < 0 {
			errs = append(errs, errors.New("domains: "+p.msg))
			continue
		}
		errs = append(errs, fmt.Errorf("domains[%d]: %s", p.index, p.msg))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
