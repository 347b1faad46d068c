package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// privateKeyPEM is a PEM private key header (written split here, so this file does
// not match itself).
var privateKeyPEM = regexp.MustCompile("-----BEGIN [A-Z0-9 ]*PRIVATE" + " KEY-----")

// TestNoPrivateKeyCommitted: no tracked file outside a testdata directory holds a PEM
// private key header, not even a truncated example (tests generate their keys at run
// time; docs describe the key without showing one).
func TestNoPrivateKeyCommitted(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	out, err := exec.CommandContext(t.Context(), "git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if strings.Contains("/"+name, "/testdata/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || bytes.IndexByte(data, 0) >= 0 {
			continue
		}
		if privateKeyPEM.Match(data) {
			t.Errorf("%s holds a PEM private key header", name)
		}
	}
}
