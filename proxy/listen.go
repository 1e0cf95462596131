package proxy

import (
	"context"
	"net"
	"syscall"

	"github.com/wasmgate/wasmgate/proxy/config"
)

// listen opens a listener's socket, with SO_REUSEPORT when it asks.
// Accepted connections get no TCP keepalive: the WebSocket has its own
// (ping_interval), and Go's default costs four setsockopt calls per
// connection.
func listen(cfg *config.Listener) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
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
