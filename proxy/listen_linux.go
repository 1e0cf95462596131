package proxy

import (
	"fmt"
	"syscall"
)

// soReusePort is SO_REUSEPORT, which package syscall does not name.
const soReusePort = 0xf

func setReusePort(fd uintptr) error {
	if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1); err != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", err)
	}
	return nil
}
