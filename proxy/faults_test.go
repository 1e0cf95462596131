package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// rawUpstream serves handle on a loopback listener: a TCP peer that does
// what a test needs, WebSocket or not. Each connection has a 20 s
// deadline, and is closed when handle returns.
func rawUpstream(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// As a real server does, and as TestEMFILEChild needs of
				// the upstream that shares the proxy's descriptor table.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				handle(nc)
			}()
		}
	}()
	return ln.Addr().String()
}

// readHead reads an HTTP request or response head and returns its header
// lines, lower-cased names.
func readHead(br *bufio.Reader) (first string, header http.Header, err error) {
	header = http.Header{}
	for i := 0; ; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return first, header, nil
		}
		if i == 0 {
			first = line
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		header.Add(k, strings.TrimSpace(v))
	}
}

// acceptKey is the Sec-WebSocket-Accept of key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// answer101 reads an upgrade request from nc and accepts it with a 101
// that has extra header lines; accept replaces the right
// Sec-WebSocket-Accept when not empty.
func answer101(nc net.Conn, accept, extra string) *bufio.Reader {
	br := bufio.NewReader(nc)
	_, h, err := readHead(br)
	if err != nil {
		return nil
	}
	if accept == "" {
		accept = acceptKey(h.Get("Sec-Websocket-Key"))
	}
	fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n", accept, extra)
	return br
}

// rawClient opens a WebSocket to the proxy by hand, for the faults a
// well-behaved client library cannot make.
func rawClient(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	return rawClientWith(t, addr, path, "Connection: Upgrade\r\n")
}

// rawClientWith is rawClient with the Connection header and any others in
// headers, each line ending in CRLF.
func rawClientWith(t *testing.T, addr, path, headers string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n%s"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, headers)
	br := bufio.NewReader(nc)
	first, _, err := readHead(br)
	if err != nil || !strings.Contains(first, " 101 ") {
		nc.Close()
		t.Fatalf("raw upgrade of %s: %q, %v", path, first, err)
	}
	return nc, br
}

// maskedFrame is a client frame: fin, opcode, the 7-bit or 64-bit length
// as given, masked with a zero key.
func maskedFrame(opcode byte, length uint64, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch {
	case length < 126:
		b = append(b, 0x80|byte(length))
	default:
		b = append(b, 0x80|127)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(length>>(8*i)))
		}
	}
	b = append(b, 0, 0, 0, 0) // masking key: 0 leaves the payload as it is
	return append(b, payload...)
}

// readFrame reads one unmasked frame from br, failing t on error.
func readFrame(t *testing.T, br *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read a frame header: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(br, l[:])
		n = int(l[0])<<8 | int(l[1])
	case 127:
		t.Fatal("a frame over 64 KiB")
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatalf("read a payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// closeCodeOf reads frames from br until a close frame, and returns its
// code; 0 when the connection ends first.
func closeCodeOf(br *bufio.Reader) int {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return 0
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(br, l[:])
			n = uint64(l[0])<<8 | uint64(l[1])
		case 127:
			var l [8]byte
			io.ReadFull(br, l[:])
			n = 0
			for _, c := range l {
				n = n<<8 | uint64(c)
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0
		}
		if h[0]&0x0f == 0x8 && n >= 2 {
			return int(payload[0])<<8 | int(payload[1])
		}
	}
}

// openFDs counts the process's open file descriptors, -1 where /proc is
// missing.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// TestFaults puts one proxy through every fault of a bad peer, one after
// the other, while a healthy connection stays open: after each, the
// fault has its defined outcome, every goroutine and file descriptor of
// the faulty connection is released, and the healthy connection still
// works.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	echo := startUpstream(t, nil, echoHandler).addr
	upstreamSaw := make(chan int, 16)
	recorder := startUpstream(t, nil, func(c *codec.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				upstreamSaw <- int(codec.CloseStatus(err))
				return
			}
		}
	}).addr
	flooderSaw := make(chan codec.StatusCode, 1)
	flooder := startUpstream(t, nil, func(c *codec.Conn) {
		go func() {
			_, _, err := c.ReadMessage()
			flooderSaw <- codec.CloseStatus(err)
		}()
		big := make([]byte, 64<<10)
		for c.WriteMessage(codec.Binary, big) == nil {
		}
	}).addr
	// sink completes the handshake and then reads nothing until the test
	// has seen the outcome.
	sinkRelease := make(chan struct{})
	sink := rawUpstream(t, func(nc net.Conn) {
		answer101(nc, "", "")
		<-sinkRelease
		io.Copy(io.Discard, nc)
	})
	upstreams := map[string]string{
		"refuses":      deadAddr(t),
		"silent":       rawUpstream(t, func(nc net.Conn) { io.Copy(io.Discard, nc) }),
		"status500":    statusAddr(t, 500),
		"status403":    statusAddr(t, 403),
		"bad-accept":   rawUpstream(t, func(nc net.Conn) { answer101(nc, "bm9wZQ==", ""); io.Copy(io.Discard, nc) }),
		"bad-protocol": rawUpstream(t, func(nc net.Conn) { answer101(nc, "", "Sec-WebSocket-Protocol: evil\r\n"); io.Copy(io.Discard, nc) }),
		"mid-message":  rawUpstream(t, func(nc net.Conn) { answer101(nc, "", ""); nc.Write([]byte{0x82, 100, 1, 2, 3}) }),
		"reset":        rawUpstream(t, func(nc net.Conn) { answer101(nc, "", ""); nc.(*net.TCPConn).SetLinger(0) }),
		"garbage": rawUpstream(t, func(nc net.Conn) {
			answer101(nc, "", "")
			nc.Write([]byte{0xff, 0xff, 0xff, 0xff})
			io.Copy(io.Discard, nc)
		}),
		"no-close-echo": rawUpstream(t, func(nc net.Conn) { answer101(nc, "", ""); io.Copy(io.Discard, nc) }),
		"echo":          echo,
		"recorder":      recorder,
		"flooder":       flooder,
		"sink":          sink,
	}
	var src strings.Builder
	src.WriteString(`
listener "public" { address = "127.0.0.1:0" }
limits {
  max_message_size  = "1MiB"
  close_timeout     = "300ms"
  write_timeout     = "500ms"
  handshake_timeout = "500ms"
  max_header_size   = "4KiB"
}
`)
	for name, addr := range upstreams {
		fmt.Fprintf(&src, `
upstream %[1]q {
  servers           = ["ws://%[2]s"]
  connect_timeout   = "300ms"
  handshake_timeout = "300ms"
}
route %[1]q {
  exact_path = "/%[1]s"
  upstream   = %[1]q
}
`, name, addr)
	}
	var logs lockedBuffer
	_, addr := startProxyLogging(t, src.String(), nil, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.buf.String())
		}
	}()
	url := func(name string) string { return "ws://" + addr + "/" + name }

	healthy, _ := dialProxy(t, url("echo"), nil)
	defer healthy.CloseNow()
	expectRoundTrip(t, healthy, "warm", "warm")
	for _, name := range []string{"echo", "status403"} { // warm the paths' pools
		if c, _, err := (&codec.Dialer{}).Dial(t.Context(), url(name)); err == nil {
			c.Close(codec.CloseNormal, "") //nolint:errcheck // warm-up
		}
	}
	time.Sleep(100 * time.Millisecond)
	baseG, baseFD := goroutines(), openFDs()

	refused := func(name string, status int) func(t *testing.T) {
		return func(t *testing.T) {
			if se := dialRefused(t, url(name), nil); se.Status != status {
				t.Errorf("status %d, want %d", se.Status, status)
			}
		}
	}
	// clientSees dials name and checks the close code the client gets.
	clientSees := func(name string, code codec.StatusCode, act func(*codec.Conn)) func(t *testing.T) {
		return func(t *testing.T) {
			c, _ := dialProxy(t, url(name), nil)
			defer c.CloseNow()
			if act != nil {
				act(c)
			}
			if got := readClose(c); got.code != code {
				t.Errorf("client saw %v (%v), want %d", got.code, got.err, code)
			}
		}
	}
	faults := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"client sends its request slowly (slowloris)", func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(nc)
			// A byte at a time, slower than the handshake timeout allows
			// for the whole request; the writes stop when the proxy
			// answers and closes.
			go func() {
				for _, b := range []byte("GET /echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n") {
					if _, err := nc.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
			if first, _, err := readHead(br); err != nil || !strings.Contains(first, " 408 ") {
				t.Errorf("got %q (%v), want 408", first, err)
			}
			if _, err := io.Copy(io.Discard, br); err != nil && !isReset(err) {
				t.Errorf("the socket was not closed after the 408: %v", err)
			}
		}},
		{"client sends an oversized request", func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			// The proxy answers once 4 KiB are read; what follows may meet
			// a closed socket.
			go fmt.Fprintf(nc, "GET /echo HTTP/1.1\r\nHost: test\r\nX-Big: %s\r\n", strings.Repeat("a", 64<<10))
			br := bufio.NewReader(nc)
			if first, _, err := readHead(br); err != nil || !strings.Contains(first, " 431 ") {
				t.Errorf("got %q (%v), want 431", first, err)
			}
			if _, err := io.Copy(io.Discard, br); err != nil && !isReset(err) {
				t.Errorf("the socket was not closed after the 431: %v", err)
			}
		}},
		{"upstream refuses", refused("refuses", http.StatusBadGateway)},
		{"upstream times out", refused("silent", http.StatusGatewayTimeout)},
		{"upstream answers 500", refused("status500", http.StatusBadGateway)},
		{"upstream answers 403", refused("status403", http.StatusForbidden)},
		{"upstream's Sec-WebSocket-Accept is wrong", refused("bad-accept", http.StatusBadGateway)},
		{"upstream picks a subprotocol nobody offered", refused("bad-protocol", http.StatusBadGateway)},
		{"upstream closes mid-message", clientSees("mid-message", codec.CloseInternalError, nil)},
		{"upstream resets the socket", clientSees("reset", codec.CloseInternalError, nil)},
		{"upstream sends garbage frames", clientSees("garbage", codec.CloseBadGateway, nil)},
		{"upstream never answers the close", func(t *testing.T) {
			c, _ := dialProxy(t, url("no-close-echo"), nil)
			defer c.CloseNow()
			start := time.Now()
			if err := c.Close(codec.CloseNormal, "bye"); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Logf("close: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the close took %v", d)
			}
		}},
		{"client disconnects mid-frame", func(t *testing.T) {
			nc, _ := rawClient(t, addr, "/recorder")
			nc.Write(maskedFrame(0x1, 100, []byte("only part")))
			nc.Close()
			if got := <-upstreamSaw; got != int(codec.CloseGoingAway) {
				t.Errorf("upstream saw %d, want 1001", got)
			}
		}},
		{"client sends a huge length", func(t *testing.T) {
			nc, br := rawClient(t, addr, "/recorder")
			defer nc.Close()
			nc.Write(maskedFrame(0x2, 1<<62, nil))
			if got := closeCodeOf(br); got != int(codec.CloseMessageTooBig) {
				t.Errorf("client got close %d, want 1009", got)
			}
			if got := <-upstreamSaw; got != int(codec.CloseGoingAway) {
				t.Errorf("upstream saw %d, want 1001", got)
			}
		}},
		{"client floods pings", func(t *testing.T) {
			nc, br := rawClient(t, addr, "/echo")
			defer nc.Close()
			const pings = 20000
			flood := bytes.Repeat(maskedFrame(0x9, 0, nil), pings)
			flood = append(flood, maskedFrame(0x1, 10, []byte("still here"))...)
			go nc.Write(flood) //nolint:errcheck // the echo tells
			// Every ping is answered on the client's leg, and the message
			// after them still goes through.
			pongs := 0
			for {
				op, payload := readFrame(t, br)
				if op == 0xa {
					pongs++
					continue
				}
				if op != 0x1 || string(payload) != "still here" {
					t.Fatalf("after %d pongs: opcode %#x %q, want the echo", pongs, op, payload)
				}
				break
			}
			if pongs != pings {
				t.Errorf("%d pongs for %d pings", pongs, pings)
			}
		}},
		{"client never reads", func(t *testing.T) {
			nc, _ := rawClient(t, addr, "/flooder")
			defer nc.Close()
			// The flooder writes until the proxy's writes to this client
			// time out and the proxy drops it: then the client's socket
			// ends, once the kernel's buffers are read. Meanwhile the
			// proxy's reads from the flooder wait for its writes, so the
			// proxy's memory does not grow with what the flooder sends.
			var code codec.StatusCode
			grew := heapGrowthDuring(func() { code = <-flooderSaw })
			if code != codec.CloseGoingAway {
				t.Errorf("the flooder saw %d, want 1001", code)
			}
			if grew > maxBufferedGrowth {
				t.Errorf("the heap grew by %d MiB while the client did not read", grew>>20)
			}
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil && !isReset(err) {
				t.Errorf("the proxy did not end the connection of a client that never reads: %v", err)
			}
		}},
		{"upstream never reads", func(t *testing.T) {
			defer close(sinkRelease)
			c, _ := dialProxy(t, url("sink"), nil)
			defer c.CloseNow()
			// The client writes as fast as it can: its writes stall once
			// the kernel's buffers and the proxy's are full, and the proxy
			// ends the connection when its write to the sink times out.
			flooded := make(chan int64, 1)
			go func() {
				big := make([]byte, 64<<10)
				var sent int64
				for c.WriteMessage(codec.Binary, big) == nil {
					sent += int64(len(big))
				}
				flooded <- sent
			}()
			var got closeResult
			grew := heapGrowthDuring(func() { got = readClose(c) })
			if got.code != codec.CloseInternalError || got.reason != "upstream not reading" {
				t.Errorf("client saw %v %q (%v), want 1011 \"upstream not reading\"", got.code, got.reason, got.err)
			}
			c.CloseNow()
			// What the client got to send sits in the kernel's buffers,
			// whose size the kernel tunes: it is reported, not bounded.
			t.Logf("the client sent %d MiB before its writes stalled; the heap grew by %d KiB", <-flooded>>20, grew>>10)
			if grew > maxBufferedGrowth {
				t.Errorf("the heap grew by %d MiB while the upstream did not read", grew>>20)
			}
		}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.run(t)
			expectReleased(t, baseG, baseFD)
			expectRoundTrip(t, healthy, "after "+f.name, "after "+f.name)
		})
	}
}

// expectReleased waits until the process is back to at most baseG
// goroutines and baseFD open file descriptors, and fails the test with a
// dump of the goroutines if it is not within 15s.
func expectReleased(t testing.TB, baseG, baseFD int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, fd := goroutines(), openFDs()
		if g <= baseG && fd <= baseFD {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after the fault: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				g, baseG, fd, baseFD, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutines counts the goroutines but the codec's poller, which the
// first connection to park starts for the rest of the process.
func goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("\ngoroutine ")) + 1 - bytes.Count(buf, []byte("netpoll.(*poller).loop("))
}

// maxBufferedGrowth bounds how much the heap may grow while one peer
// floods a peer that does not read: the proxy buffers at most a frame per
// leg, and the rest waits in the kernel's socket buffers.
const maxBufferedGrowth = 8 << 20

// heapGrowthDuring runs f and returns how far the live heap rose above
// its level before f, sampled every few milliseconds while f runs.
func heapGrowthDuring(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-sampled
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// TestPluginFaults makes a plugin trap, loop and exhaust its memory on one
// connection while other connections, through another instance of the same
// module and through no plugin, go on exchanging messages: the faulty
// connection gets 1011 and its upstream 1001, every goroutine and file
// descriptor it held is released, and no other message is lost.
func TestPluginFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the test guest")
	}
	env := &filterEnv{guest: filepath.ToSlash(guestPath(t)), cache: filepath.ToSlash(t.TempDir())}
	upstreamSaw := make(chan codec.StatusCode, 4)
	recorder := startUpstream(t, nil, func(c *codec.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				upstreamSaw <- codec.CloseStatus(err)
				return
			}
		}
	}).addr
	echo := startUpstream(t, nil, echoHandler).addr
	// faulty's timeout bounds cmd:loop and leaves cmd:oom the time to
	// reach the memory limit. Both are Go guests, whose garbage collector
	// may pause a call for longer than the default 5ms (docs/plugins.md),
	// the more so while faulty's loop takes one of the machine's cores.
	src := `
listener "public" { address = "127.0.0.1:0" }
upstream "recorder" { servers = ["ws://` + recorder + `"] }
upstream "echo" { servers = ["ws://` + echo + `"] }
` + env.plugin("faulty", `
  instances    = 1
  memory_limit = "32MiB"
  timeout      = "1s"`) + env.plugin("steady", `
  instances = 1
  timeout   = "250ms"`) + `
route "faulty" {
  exact_path = "/faulty"
  upstream   = "recorder"
  filters    = ["faulty"]
}
route "steady" {
  exact_path = "/steady"
  upstream   = "echo"
  filters    = ["steady"]
}
route "plain" {
  exact_path = "/plain"
  upstream   = "echo"
}
`
	var logs lockedBuffer
	// No leg parks: the flowing connections then hold the same goroutines
	// all along, whatever pauses the machine makes, and the count before
	// and after each fault compares.
	_, addr := startProxyWith(t, src, nil, slog.New(slog.NewTextHandler(&logs, nil)), func(p *Proxy) { p.parkAfter = 0 })
	defer func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.buf.String())
		}
	}()
	url := func(path string) string { return "ws://" + addr + path }

	// Warm the faulty route's path through the proxy.
	warm, _ := dialProxy(t, url("/faulty"), nil)
	warm.Close(codec.CloseNormal, "") //nolint:errcheck // warm-up
	if code := <-upstreamSaw; code != codec.CloseNormal {
		t.Fatalf("upstream saw %d after the warm-up, want 1000", code)
	}

	// Two connections exchange numbered messages all along.
	stop := make(chan struct{})
	var flows sync.WaitGroup
	flowErrs := make(chan error, 2)
	var exchanged atomic.Int64
	for _, path := range []string{"/steady", "/plain"} {
		c, _ := dialProxy(t, url(path), nil)
		flows.Add(1)
		go func() {
			defer flows.Done()
			defer c.CloseNow()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				want := fmt.Sprintf("%s %d", path, i)
				if err := c.WriteMessage(codec.Text, []byte(want)); err != nil {
					flowErrs <- fmt.Errorf("%s: write %d: %w", path, i, err)
					return
				}
				_, got, err := c.ReadMessage()
				if err != nil || string(got) != want {
					flowErrs <- fmt.Errorf("%s: got %q (%v), want %q", path, got, err, want)
					return
				}
				exchanged.Add(1)
			}
		}()
	}
	for _, cmd := range []string{"cmd:trap", "cmd:loop", "cmd:oom"} {
		t.Run(cmd, func(t *testing.T) {
			// Taken here, where the subtest's goroutine counts too.
			baseG, baseFD := goroutines(), openFDs()
			before := exchanged.Load()
			c, _ := dialProxy(t, url("/faulty"), nil)
			defer c.CloseNow()
			if err := c.WriteMessage(codec.Text, []byte(cmd)); err != nil {
				t.Fatal(err)
			}
			expectFilterFailed(t, c, "faulty")
			if code := <-upstreamSaw; code != codec.CloseGoingAway {
				t.Errorf("upstream saw %d, want 1001", code)
			}
			c.CloseNow()
			expectReleased(t, baseG, baseFD)
			if exchanged.Load() == before {
				t.Errorf("no message was exchanged on the other connections during %s", cmd)
			}
			// The plugin serves again with a fresh instance.
			again, _ := dialProxy(t, url("/faulty"), nil)
			again.Close(codec.CloseNormal, "") //nolint:errcheck // checked through the upstream
			if code := <-upstreamSaw; code != codec.CloseNormal {
				t.Errorf("after %s, a new connection's upstream saw %d, want 1000", cmd, code)
			}
		})
	}
	close(stop)
	flows.Wait()
	close(flowErrs)
	for err := range flowErrs {
		t.Error(err)
	}
}
