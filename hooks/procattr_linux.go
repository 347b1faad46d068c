package hooks

import "syscall"

// procAttr puts an exec hook in its own process group (so a timeout kills the whole
// group) and asks the kernel to SIGKILL it when certferry dies (Pdeathsig), so a
// `renew` killed with SIGKILL leaves no hook running. Pdeathsig reaches the hook's own
// process only; children it started in the background are its own business (under the
// systemd unit, the service's control group ends them all at stop).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
