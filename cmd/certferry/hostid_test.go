package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

// TestHostID: the default schedule's seed is the machine ID only when /etc/machine-id
// holds one; "uninitialized", an empty file, zeros, garbage, a directory or a FIFO (read
// without blocking) fall back to the host name, so hosts in those states do not all
// share one schedule.
func TestHostID(t *testing.T) {
	t.Parallel()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "3d1219c7c4c5404aaa1f6d2a48adfda4"
	for _, tc := range []struct{ name, path, want string }{
		{"machine ID", file("ok", id+"\n"), id},
		{"no final newline", file("nonl", id), id},
		{"uninitialized", file("uninit", "uninitialized\n"), host},
		{"empty", file("empty", ""), host},
		{"zeros", file("zeros", "00000000000000000000000000000000\n"), host},
		{"garbage", file("garbage", "not a machine id\n"), host},
		{"too long", file("long", id+"0\n"), host},
		{"not hex", file("nothex", "3d1219c7c4c5404aaa1f6d2a48adfdzz\n"), host},
		{"missing", filepath.Join(dir, "missing"), host},
		{"directory", dir, host},
		{"fifo", fifo, host},
	} {
		got := make(chan string, 1)
		go func() { got <- hostID(tc.path) }()
		select {
		case g := <-got:
			if g != tc.want {
				t.Errorf("%s: hostID = %q, want %q", tc.name, g, tc.want)
			}
		case <-time.After(testwait.For(0)):
			t.Errorf("%s: hostID(%s) still reading after %s", tc.name, tc.path, testwait.For(0))
		}
	}
}
