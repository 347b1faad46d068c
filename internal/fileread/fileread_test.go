package fileread

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

func TestRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	if f, err := os.Create(sparse); err != nil {
		t.Fatal(err)
	} else {
		if err := f.Truncate(300 << 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	at, over := write("at", 100), write("over", 101)
	for _, c := range []struct {
		path string
		want string // "" : read 100 bytes
	}{
		{at, ""},
		{over, over + ": file is 101 bytes; the limit is 100"},
		{sparse, sparse + ": file is 314572800 bytes; the limit is 100"},
		{fifo, fifo + ": a named pipe (FIFO), not a regular file"},
		{zero, zero + ": a character device, not a regular file"},
		{dir, dir + ": a directory, not a regular file"},
	} {
		done := make(chan struct{})
		var data []byte
		var err error
		go func() { data, err = Regular(c.path, 100); close(done) }()
		select {
		case <-done:
		case <-time.After(testwait.For(0)): // a refusal needs no I/O: a step of work
			t.Fatalf("Regular(%s) blocked", c.path)
		}
		switch {
		case c.want == "" && (err != nil || len(data) != 100):
			t.Errorf("Regular(%s) = %d bytes, %v", c.path, len(data), err)
		case c.want != "" && (err == nil || err.Error() != c.want || !isBounds(err)):
			t.Errorf("Regular(%s) = %v, want %q", c.path, err, c.want)
		}
	}
	if _, err := Regular(filepath.Join(dir, "missing"), 100); !errors.Is(err, fs.ErrNotExist) || isBounds(err) {
		t.Errorf("missing file: %v", err)
	}
}

// isBounds reports whether err is one of Regular's refusals (not a regular file, or too
// big), as opposed to an I/O error or a missing file.
func isBounds(err error) bool {
	var nr *NotRegularError
	var tb *TooBigError
	return errors.As(err, &nr) || errors.As(err, &tb)
}
