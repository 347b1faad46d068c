//go:build !linux

package hooks

import "syscall"

// procAttr puts an exec hook in its own process group (so a timeout kills the whole
// group). Only Linux can tie the hook's life to certferry's (procattr_linux.go).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
