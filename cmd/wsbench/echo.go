package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const echoUsage = `Usage: wsbench echo -listen ADDR [-listen ADDR ...] [flags]

Echo is the backend of the benchmarks: every data frame it receives goes
back unchanged, with its opcode, and the frames one read brought in go back
in one write. It prints "READY addr,addr,..." (the bound addresses) once
every listener is open and every child process is ready, and runs until
SIGINT or SIGTERM, or until its stdin reaches EOF with -stdin-eof.
`

// echoHandshakeTimeout bounds a client's opening handshake.
const echoHandshakeTimeout = 5 * time.Second

// echoChildReadyTimeout bounds the wait for a child echo's READY line.
const echoChildReadyTimeout = 10 * time.Second

// echoConfig is an echo server.
type echoConfig struct {
	listen    []string
	reusePort bool
	// procs is the number of processes that serve each address: this one
	// and procs-1 children, all with SO_REUSEPORT.
	procs int
	// exe is the program the children run: this one.
	exe string
	// stderr receives the children's stderr and the accept errors.
	stderr io.Writer
}

func cmdEcho(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("echo", echoUsage, std)
	var listen stringList
	fs.Var(&listen, "listen", "an `address` to listen on, host:port (port 0 picks one); repeat it for several")
	reusePort := fs.Bool("reuseport", false, "set SO_REUSEPORT on the listeners, so that other processes can share them")
	procs := fs.Int("procs", 1, "the `number` of processes serving each address: this one and procs-1 copies, with SO_REUSEPORT")
	stdinEOF := fs.Bool("stdin-eof", false, "also stop when stdin reaches EOF (a parent stops the server by closing the pipe)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if len(listen) == 0 {
		return usageError(std, "echo", "at least one -listen ADDR is required")
	}
	if *procs < 1 {
		return usageError(std, "echo", "-procs %d: want at least 1", *procs)
	}
	cfg := echoConfig{listen: listen, reusePort: *reusePort, procs: *procs, stderr: std.err}
	if cfg.procs > 1 {
		exe, err := selfExecutable()
		if err != nil {
			return failure(std, "echo", err)
		}
		cfg.exe = exe
	}
	s, err := startEcho(ctx, cfg)
	if err != nil {
		return failure(std, "echo", err)
	}
	fmt.Fprintf(std.out, "READY %s\n", strings.Join(s.addrs(), ","))
	var eof <-chan struct{}
	if *stdinEOF {
		eof = stdinClosed(std.in)
	}
	select {
	case <-ctx.Done():
	case <-eof:
	}
	if err := s.close(); err != nil {
		return failure(std, "echo", err)
	}
	return 0
}

// echoServer serves echo connections on its listeners, in this process
// and in its children.
type echoServer struct {
	listeners []net.Listener
	upgrader  codec.Upgrader
	stderr    io.Writer
	children  []*child

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loops and the connections
}

// startEcho opens every listener, starts the children, and serves until
// close. With procs > 1 the listeners share their ports (SO_REUSEPORT)
// with the children, which listen on the addresses this process bound.
func startEcho(ctx context.Context, cfg echoConfig) (*echoServer, error) {
	s := &echoServer{
		upgrader: codec.Upgrader{HandshakeTimeout: echoHandshakeTimeout},
		stderr:   cfg.stderr,
		conns:    make(map[net.Conn]struct{}),
	}
	if s.stderr == nil {
		s.stderr = io.Discard
	}
	var lc net.ListenConfig
	if cfg.reusePort || cfg.procs > 1 {
		lc.Control = reusePortControl
	}
	for _, addr := range cfg.listen {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
	}
	for _, ln := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	if err := s.startChildren(ctx, cfg); err != nil {
		s.close() //nolint:errcheck // the start error says more
		return nil, err
	}
	return s, nil
}

// startChildren starts procs-1 children on the bound addresses and waits
// for each to be ready.
func (s *echoServer) startChildren(ctx context.Context, cfg echoConfig) error {
	if cfg.procs <= 1 {
		return nil
	}
	args := []string{"echo", "-reuseport", "-stdin-eof", "-procs", "1"}
	for _, a := range s.addrs() {
		args = append(args, "-listen", a)
	}
	for i := 1; i < cfg.procs; i++ {
		ch, err := startChild("echo child "+strconv.Itoa(i), cfg.exe, args, s.stderr)
		if err != nil {
			return err
		}
		s.children = append(s.children, ch)
	}
	for _, ch := range s.children {
		if _, err := ch.await(ctx, ch.ready, "READY", echoChildReadyTimeout); err != nil {
			return err
		}
	}
	return nil
}

// addrs returns the bound addresses, in the order of the -listen flags.
func (s *echoServer) addrs() []string {
	addrs := make([]string, len(s.listeners))
	for i, ln := range s.listeners {
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// acceptLoop accepts connections until the listener is closed. An accept
// error (EMFILE when the open-file limit is reached) backs off, up to a
// second, instead of spinning; it is reported once per episode.
func (s *echoServer) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				fmt.Fprintf(s.stderr, "wsbench echo: accept on %s: %v; backing off\n", ln.Addr(), err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.track(nc) {
			nc.Close()
			return
		}
		go s.serveConn(nc)
	}
}

// track registers a new connection, so that close can cut it. It reports
// false once the server is closed.
func (s *echoServer) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *echoServer) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	s.wg.Done()
}

// serveConn takes one connection from handshake to close.
func (s *echoServer) serveConn(nc net.Conn) {
	defer s.untrack(nc)
	c, _, err := s.upgrader.Upgrade(nc)
	if err != nil {
		nc.Close()
		return
	}
	serveEcho(c)
}

// serveEcho echoes frames until the peer closes or fails, then completes
// the close and releases the socket.
func serveEcho(c *codec.Conn) {
	for {
		err := echoFrame(c)
		if err == nil {
			continue
		}
		var ce *codec.CloseError
		var pe *codec.ProtocolError
		switch {
		case errors.As(err, &ce):
			c.Close(ce.Code, "") //nolint:errcheck // the close is already answered: this releases the socket
		case errors.As(err, &pe):
			c.Close(pe.Code, "") //nolint:errcheck // lingers so that the close frame arrives
		default:
			c.CloseNow()
		}
		return
	}
}

// echoFrame echoes one data frame: pings are answered and pongs consumed
// inside ReadFrame. The frame is buffered, and the buffer is sent once no
// whole frame is left to read, so a burst of frames goes back in one write.
func echoFrame(c *codec.Conn) error {
	f, err := c.ReadFrame()
	if err != nil {
		return err
	}
	if err := c.BufferFrame(f.Fin, f.Opcode, f.Payload); err != nil {
		return err
	}
	if !c.Buffered() {
		return c.Flush()
	}
	return nil
}

func (s *echoServer) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// close stops the listeners and the children and cuts every connection:
// a benchmark backend has no clients left to be polite to when it stops.
func (s *echoServer) close() error {
	s.mu.Lock()
	s.closed = true
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.closeListeners()
	var errs []error
	for _, ch := range s.children {
		errs = append(errs, ch.stop(5*time.Second))
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
