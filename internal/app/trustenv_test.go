package app

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzEnvProgram: whatever words follow env in a hook's exec (they come from the
// configuration), reading them never panics, ends, and names only absolute paths at
// indexes of exec.
func FuzzEnvProgram(f *testing.F) {
	for _, s := range []string{"bash\x00/opt/x.sh", "-S\x00bash /opt/x.sh", "-iu\x00HOME\x00--\x00PATH=/bin\x00sh\x00/x",
		"--split-string=-S -S env", "-\x00env\x00env\x00-C", "-uS", "--unset", "--s=bash /x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exec := append([]string{"/usr/bin/env"}, strings.Split(s, "\x00")...)
		for _, p := range envProgram(exec, "/usr/bin:/bin") {
			if p.index < 1 || p.index >= len(exec) || !filepath.IsAbs(p.path) {
				t.Fatalf("%q: program %+v", exec, p)
			}
		}
	})
}
