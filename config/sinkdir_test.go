package config

import (
	"errors"
	"strings"
	"testing"
)

// TestFileSinkDirectory: "/" is refused; a system or world-writable directory is
// accepted with a warning that names it; a directory of its own is silent.
func TestFileSinkDirectory(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dir, err, warn string
	}{
		{"/", `certificates[0].sinks.file.dir: "/": the root directory; give the certificate a directory of its own (e.g. "/etc/certferry/web")`, ""},
		{"//", `"//": the root directory`, ""},
		{"/etc", "", `"/etc" is a system directory`},
		{"/etc/ssl/certs/", "", `"/etc/ssl/certs/" is a system directory`},
		{"/usr/local/bin", "", `"/usr/local/bin" is a system directory`},
		{"/tmp", "", `"/tmp" is writable by every user (anyone could replace the key)`},
		{"/var/tmp/", "", `"/var/tmp/" is writable by every user`},
		{"/etc/certferry/web", "", ""},
		{"/etc/nginx/certs", "", ""},
	} {
		doc := "acme: {email: ops@example-corp.net}\naws: {region: us-east-1}\ncertificates:\n  - name: web\n    domains: [www.example.com]\n    sinks: {file: {dir: \"" + c.dir + "\"}}\n"
		cfg, err := Parse([]byte(doc), nil)
		var ve *ValidationError
		switch {
		case c.err != "":
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("dir %q: err = %v, want %q", c.dir, err, c.err)
			}
			continue
		case err != nil:
			t.Errorf("dir %q: %v", c.dir, err)
			continue
		}
		got := strings.Join(cfg.Warnings, "\n")
		if (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("dir %q: warnings %q, want %q", c.dir, got, c.warn)
		}
	}
}
