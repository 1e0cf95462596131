package main

import (
	"fmt"
	"syscall"
)

// soReusePort is SO_REUSEPORT on Linux, which the frozen syscall package
// does not define.
const soReusePort = 0xf

// reusePortControl sets SO_REUSEPORT on a listening socket before it is
// bound, so that several processes can listen on one address and the
// kernel spreads the connections over them.
func reusePortControl(_, address string, rc syscall.RawConn) error {
	var sockErr error
	err := rc.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	})
	if err == nil {
		err = sockErr
	}
	if err != nil {
		return fmt.Errorf("set SO_REUSEPORT on %s: %w", address, err)
	}
	return nil
}
