//go:build !linux

package compare

import "syscall"

// childProcAttr puts a child in its own process group. (compare measures
// through /proc and taskset: it runs on Linux.)
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
