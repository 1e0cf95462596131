package proxy

import (
	"context"
	"net"
	"strconv"
	"syscall"

	"github.com/wasmgate/wasmgate/proxy/config"
)

// A socket is an open listening socket. Sockets outlive generations: a
// reload keeps the socket of every listener whose address is unchanged,
// so that no connection attempt is refused while it runs.
type socket struct {
	key string
	ln  net.Listener
}

// socketKey identifies the socket a listener needs: listeners of two
// generations with the same key share it. A listener on port 0 is known
// by its name too: several may ask for a free port, and each gets its
// own.
func socketKey(l *config.Listener) string {
	key := l.Address + " reuse_port=" + strconv.FormatBool(l.ReusePort)
	if _, port, err := net.SplitHostPort(l.Address); err == nil && port == "0" {
		key = l.Name + " " + key
	}
	return key
}

// listen opens a listener's socket, with SO_REUSEPORT when it asks.
// Accepted connections get no TCP keepalive: the WebSocket has its own
// (ping_interval), and Go's default costs four setsockopt calls per
// connection. TLS, for a wss listener, is set up per connection with the
// current generation's certificate, so that a reload can replace it.
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
