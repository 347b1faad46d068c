package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/testwait"
)

func TestNotifySocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "sdn") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, tt := range []struct{ name, addr, listen string }{
		{"path", filepath.Join(dir, "notify"), filepath.Join(dir, "notify")},
		{"abstract", "@certferry-test-" + filepath.Base(dir), "\x00certferry-test-" + filepath.Base(dir)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: tt.listen, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := (notifier{tt.addr}).send("READY=1", statusLine("a\nb")); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(testwait.For(0))) // a datagram on a local socket: a step
			buf := make([]byte, 4096)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(buf[:n]), "READY=1\nSTATUS=a b\n"; got != want {
				t.Errorf("datagram %q, want %q", got, want)
			}
		})
	}
	if err := (notifier{}).send("READY=1"); err != nil {
		t.Errorf("no socket: %v", err)
	}
	err = (notifier{filepath.Join(dir, "missing")}).send("READY=1")
	if err == nil || !strings.HasPrefix(err.Error(), "daemon: sd_notify: ") {
		t.Errorf("missing socket: %v", err)
	}
	if monotonicUsec() <= 0 {
		t.Error("monotonicUsec not positive")
	}
}
