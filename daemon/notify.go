package daemon

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's sd_notify protocol: one datagram per state change on the
// unix socket systemd names in $NOTIFY_SOCKET (a leading '@' is an abstract socket).
// With no socket it does nothing, so the daemon runs the same outside systemd.
type notifier struct{ addr string }

// send writes state lines ("READY=1", "STATUS=...") in one datagram.
func (n notifier) send(lines ...string) error {
	if n.addr == "" {
		return nil
	}
	name := n.addr
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("daemon: sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("daemon: sd_notify: %w", err)
	}
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// statusLine keeps a STATUS= value on one line.
func statusLine(s string) string {
	return "STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
