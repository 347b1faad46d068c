package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

// TestLoadRefusesWhatIsNotARegularFile: a FIFO, a device and a directory are refused
// at once with an error naming the path and what it is, and nothing is read from them.
func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "certferry.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, "a named pipe (FIFO)"},
		{"/dev/zero", "a character device"},
		{dir, "a directory"},
	} {
		if _, err := os.Stat(c.path); err != nil {
			t.Logf("skip %s: %v", c.path, err)
			continue
		}
		done := make(chan error, 1)
		go func() { _, err := Load(c.path, nil); done <- err }()
		select {
		case err := <-done:
			want := "config: load " + c.path + ": " + c.want + "; the configuration must be a regular file"
			if err == nil || err.Error() != want {
				t.Errorf("Load(%s) = %v, want %q", c.path, err, want)
			}
		case <-time.After(testwait.For(0)): // a refusal needs no I/O: a step of work
			t.Fatalf("Load(%s) blocked", c.path)
		}
	}
}

// TestLoadSizeLimit: a file over MaxFileSize is refused from its size alone (a 300 MB
// sparse file is never read), and one at the limit is parsed. Not parallel: it measures
// the bytes allocated while it runs.
func TestLoadSizeLimit(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(300 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(huge, nil)
	runtime.ReadMemStats(&after)
	var ve *ValidationError
	if !errors.As(err, &ve) || err.Error() != huge+": file is 314572800 bytes; the limit is 1048576" {
		t.Fatalf("Load(300 MB) = %v", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
		t.Errorf("Load(300 MB) allocated %d bytes", grown)
	}

	// Just over the limit: refused; at the limit: read (and then judged as YAML).
	over := filepath.Join(dir, "over.yaml")
	if err := os.WriteFile(over, []byte("#"+strings.Repeat("x", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(over, nil); err == nil || !strings.Contains(err.Error(), "file is 1048577 bytes; the limit is 1048576") {
		t.Errorf("Load(limit+1) = %v", err)
	}
	at := filepath.Join(dir, "at.yaml")
	if err := os.WriteFile(at, []byte("#"+strings.Repeat("x", MaxFileSize-1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(at, nil); err == nil || strings.Contains(err.Error(), "the limit is") {
		t.Errorf("Load(limit) = %v, want a YAML or validation error", err)
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}
}

// TestHugeValuesCutInProblems: values quoted in problems are cut to a few hundred bytes,
// whatever field they are in.
func TestHugeValuesCutInProblems(t *testing.T) {
	t.Parallel()
	v := func(c string) string { return strings.Repeat(c, 100_000) }
	doc := "acme: {email: " + v("a") + "}\nrenew_before: 1" + v("d") + "\nschedule: \"" + v("c") + "\"\ncertificates:\n" +
		"  - name: n" + v("n") + "\n    domains: [" + v("b") + ".com, x.example.com]\n    sinks: {file: {dir: x" + v("x") + "}}\n"
	_, err := Parse([]byte(doc), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) < 5 {
		t.Fatalf("Parse = %.500v", err)
	}
	for _, p := range ve.Problems {
		if len(p.Error()) > 800 || !strings.Contains(p.Msg, " bytes)") {
			t.Errorf("%s: %d bytes: %.300s", p.Path, len(p.Error()), p.Msg)
		}
	}
}
