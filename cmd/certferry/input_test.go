package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

// TestCLIConfigNotARegularFile: every command that reads the configuration refuses
// /dev/zero, a FIFO nobody writes and a 300 MB file at once, with exit 2 and the path
// in the message (before the bound, validate grew to 22 GB on /dev/zero).
func TestCLIConfigNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	huge := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(300 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for path, want := range map[string]string{
		"/dev/zero": "config: load /dev/zero: a character device; the configuration must be a regular file",
		fifo:        "config: load " + fifo + ": a named pipe (FIFO); the configuration must be a regular file",
		huge:        huge + ": file is 314572800 bytes; the limit is 1048576",
	} {
		for _, cmd := range []string{"validate", "renew", "status", "run"} {
			type result struct {
				code   int
				stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, _, errOut := cli(t, cmd, "--config", path)
				done <- result{code, errOut}
			}()
			select {
			case r := <-done:
				if r.code != exitUsage || !strings.Contains(r.stderr, want) {
					t.Errorf("certferry %s --config %s: exit %d, stderr %q; want exit %d and %q", cmd, path, r.code, r.stderr, exitUsage, want)
				}
			case <-time.After(testwait.For(0)): // a refusal reads nothing: a step of work
				t.Fatalf("certferry %s --config %s blocked", cmd, path)
			}
		}
	}
}
