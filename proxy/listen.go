package proxy

import (
	"context"
	"net"
	"syscall"

	"github.com/wasmgate/wasmgate/proxy/config"
)

// listen opens a listener's socket, with SO_REUSEPORT when it asks.
func listen(cfg *config.Listener) (net.Listener, error) {
	var lc net.ListenConfig
	if cfg.ReusePort {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	return lc.Listen(context.Background(), "tcp", cfg.Address)
}
