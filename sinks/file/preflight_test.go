package file_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certferry/certferry/sinks/file"
)

// TestPreflight: what Store would refuse whatever the certificate (an unknown owner or
// group, a path that is a file) is found before an order, naming the directory and the
// value; a directory that exists or can be created passes, and nothing is written.
func TestPreflight(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	plain := filepath.Join(base, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := file.New(nil)
	for _, tc := range []struct {
		name   string
		target file.Target
		want   string // "" for no error
	}{
		{"existing directory", file.Target{Dir: base}, ""},
		{"to be created, deep", file.Target{Dir: filepath.Join(base, "a", "b", "c")}, ""},
		{"numeric owner", file.Target{Dir: base, Owner: "0", Group: "0"}, ""},
		{"unknown owner", file.Target{Dir: base, Owner: "no-such-user-certferry"}, `owner "no-such-user-certferry": unknown user`},
		{"unknown group", file.Target{Dir: base, Group: "no-such-group-certferry"}, `group "no-such-group-certferry": unknown group`},
		{"a file", file.Target{Dir: plain}, plain + " is not a directory"},
		{"under a file", file.Target{Dir: filepath.Join(plain, "sub")}, "not a directory"},
		{"a device", file.Target{Dir: "/dev/null"}, "/dev/null is not a directory"},
		{"empty", file.Target{}, "no directory"},
	} {
		err := s.Preflight(tc.target)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "file: "+tc.target.Dir+": ")):
			t.Errorf("%s: err = %v, want %q naming the directory", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "a")); !os.IsNotExist(err) {
		t.Errorf("Preflight created a directory: %v", err)
	}
}
