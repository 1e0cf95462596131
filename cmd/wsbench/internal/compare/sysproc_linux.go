package compare

import "syscall"

// childProcAttr puts a child in its own process group, and makes it die
// with compare: a killed compare leaves no proxy holding ports and CPUs.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
