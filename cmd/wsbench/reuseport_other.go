//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// reusePortControl fails: wsbench sets SO_REUSEPORT on Linux only, where
// the kernel balances connections over the sockets that share a port.
func reusePortControl(_, _ string, _ syscall.RawConn) error {
	return errors.New("-reuseport and -procs are supported on Linux only")
}
