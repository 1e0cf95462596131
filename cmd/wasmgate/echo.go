package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const echoUsage = `Usage: wasmgate echo [flags]

Echo runs a WebSocket echo server: each message a client sends comes back
to it, with its type, frame by frame. It prints its address on stdout
(useful with port 0) and logs connections on stderr. On SIGINT or SIGTERM
it closes every connection with 1001 (going away) and exits.
`

// echoShutdownTimeout bounds how long echo waits for its clients to
// complete the close handshake on shutdown.
const echoShutdownTimeout = 10 * time.Second

// cmdEcho is "wasmgate echo".
func cmdEcho(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("echo", echoUsage)
	addr := fs.String("addr", "127.0.0.1:9000", "the `address` to listen on, host:port; port 0 picks a free port")
	protocols := fs.String("subprotocols", "", "the comma-separated `list` of subprotocols to accept: a client gets the first it offers that the list holds")
	var logs logFlags
	logs.register(fs)
	pos, code, ok := fs.parse(args, std)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fs.usageError(std, "unexpected argument %q", pos[0])
	}
	log := logs.logger(std.err)

	s, err := startEcho(*addr, splitList(*protocols), log)
	if err != nil {
		fmt.Fprintf(std.err, "wasmgate echo: %v\n", err)
		return 1
	}
	fmt.Fprintf(std.out, "echo server listening on ws://%s/\n", s.Addr())
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), echoShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		log.Warn("connections cut after the shutdown timeout", "timeout", echoShutdownTimeout)
	}
	return 0
}

// splitList splits a comma-separated list, dropping empty elements.
func splitList(s string) []string {
	var list []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			list = append(list, e)
		}
	}
	return list
}

// echoServer is a WebSocket echo server on a TCP listener: the echo
// command's, and the built-in demo's upstream.
type echoServer struct {
	ln       net.Listener
	upgrader codec.Upgrader
	log      *slog.Logger

	mu     sync.Mutex
	conns  map[*codec.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and every connection
}

// startEcho listens on addr and serves echo connections until Shutdown.
// A client offering subprotocols gets the first of them that protocols
// holds, or none.
func startEcho(addr string, protocols []string, log *slog.Logger) (*echoServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &echoServer{ln: ln, log: log, conns: make(map[*codec.Conn]struct{})}
	s.upgrader.Decide = func(req *codec.Request) (*codec.Response, error) {
		for _, p := range req.Protocols {
			if slices.Contains(protocols, p) {
				return &codec.Response{Protocol: p}, nil
			}
		}
		return nil, nil
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *echoServer) Addr() net.Addr { return s.ln.Addr() }

// acceptLoop accepts connections until the listener is closed. Errors such
// as running out of file descriptors back off instead of spinning.
func (s *echoServer) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Error("accept failed; backing off", "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// serveConn takes one connection from handshake to close.
func (s *echoServer) serveConn(nc net.Conn) {
	defer s.wg.Done()
	log := s.log.With("client", nc.RemoteAddr().String())
	c, req, err := s.upgrader.Upgrade(nc)
	if err != nil {
		log.Info("handshake failed", "err", err)
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close(codec.CloseGoingAway, "server shutting down") //nolint:errcheck // closing anyway
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()

	log.Info("connection opened", "path", req.URI, "subprotocol", c.Subprotocol())
	start := time.Now()
	err = codec.Echo(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if err != nil {
		log.Info("connection closed", "duration", time.Since(start), "err", err)
	} else {
		log.Info("connection closed", "duration", time.Since(start))
	}
}

// Shutdown stops accepting, closes every connection with 1001, and waits
// for them to end or ctx to be done, after which the remaining sockets are
// closed at once.
func (s *echoServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*codec.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.ln.Close()
	for _, c := range conns {
		go closeGoingAway(c)
	}
	done := make(chan struct{})
	go waitGroupDone(&s.wg, done)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.CloseNow()
		}
		<-done
		return ctx.Err()
	}
}

// closeGoingAway closes c with 1001 and waits for the close handshake.
func closeGoingAway(c *codec.Conn) {
	c.Close(codec.CloseGoingAway, "server shutting down") //nolint:errcheck // closing anyway
}

// waitGroupDone closes done when wg is done.
func waitGroupDone(wg *sync.WaitGroup, done chan<- struct{}) {
	wg.Wait()
	close(done)
}
