package file

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPreflightNotWritable: a directory the process may not create files in (the
// service user's, under a root-owned 0755 parent) is refused by Preflight, before any
// order, naming it; found only by Store, it cost an order on every run. access(2) is
// faked: a test running as root may write anywhere.
func TestPreflightNotWritable(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	s := New(nil)
	var asked []string
	s.access = func(path string, mode uint32) error {
		asked = append(asked, path)
		if mode != wantAccess {
			t.Errorf("access(%s, %#o), want W_OK|X_OK", path, mode)
		}
		return syscall.EACCES
	}
	for _, dir := range []string{base, base + "/later/web"} {
		asked = nil
		err := s.Preflight(Target{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), base+": cannot create files in it: permission denied") {
			t.Errorf("Preflight(%s) = %v, want %s refused", dir, err, base)
		}
		if len(asked) != 1 || asked[0] != base {
			t.Errorf("Preflight(%s) asked access of %v, want the nearest existing directory %s", dir, asked, base)
		}
	}
}

// TestPreflightDirectoryInTheWay: a directory where the sink writes one of its files (the
// state file, a PEM file) is refused before any order, naming it: the rename over it
// failed only after the order, and a file-only certificate, whose backoff goes in the
// state file, ordered again on every run.
func TestPreflightDirectoryInTheWay(t *testing.T) {
	t.Parallel()
	for _, name := range []string{StateFile, KeyFile} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		err := New(nil).Preflight(Target{Dir: dir})
		if want := filepath.Join(dir, name) + " is a directory"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s a directory: Preflight = %v, want %q", name, err, want)
		}
	}
	if err := New(nil).Preflight(Target{Dir: t.TempDir()}); err != nil {
		t.Errorf("an empty directory: Preflight = %v", err)
	}
}
