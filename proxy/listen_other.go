//go:build !linux

package proxy

import "errors"

func setReusePort(fd uintptr) error {
	return errors.New("reuse_port is supported on Linux only")
}
