package file

import (
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
