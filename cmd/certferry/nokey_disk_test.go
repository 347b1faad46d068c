package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoKeyOnDisk runs a pass with the process's working directory, TMPDIR and HOME in
// a scratch directory, then reads every file there and in the test's own directory: the
// only private key on disk is the one the file sink was asked to write, 0600. The ACME
// account key and the Secrets Manager-only certificate's key never touch the disk.
//
// Not parallel: it changes the process's environment and working directory.
func TestNoKeyOnDisk(t *testing.T) {
	// Both certificates issue: "lost" moves to a served zone.
	yaml := strings.Replace(sandboxConfig, `domains: ["www.example.org"]`, `domains: ["api.example.net"]`, 1)
	e := newCLIEnv(t, yaml)
	scratch := t.TempDir()
	t.Setenv("TMPDIR", scratch)
	t.Setenv("HOME", scratch)
	t.Chdir(scratch)

	if code, out, errOut := e.renew(t, "--log-level", "debug"); code != exitOK {
		t.Fatalf("renew: exit %d\n%s\n%s", code, out, errOut)
	}
	wantKey := filepath.Join(e.Dir, "files", "privkey.pem")
	found := false
	for _, root := range []string{scratch, e.Dir} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !strings.Contains(string(b), "PRIVATE KEY") {
				return nil
			}
			if p != wantKey {
				t.Errorf("%s holds a private key", p)
				return nil
			}
			found = true
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", p, info.Mode().Perm())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Errorf("the file sink's key %s was not written", wantKey)
	}
}
