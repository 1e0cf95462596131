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
	"runtime"
	"strings"
	"sync"
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
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path)
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
	flooder := startUpstream(t, nil, func(c *codec.Conn) {
		big := make([]byte, 64<<10)
		for c.WriteMessage(codec.Binary, big) == nil {
		}
	}).addr
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
	}
	var src strings.Builder
	src.WriteString(`
listener "public" { address = "127.0.0.1:0" }
limits {
  max_message_size = "1MiB"
  close_timeout    = "300ms"
  write_timeout    = "500ms"
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
	baseG, baseFD := runtime.NumGoroutine(), openFDs()

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
			// ends, once the kernel's buffers are read.
			time.Sleep(time.Second)
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil && !isReset(err) {
				t.Errorf("the proxy did not end the connection of a client that never reads: %v", err)
			}
		}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.run(t)
			deadline := time.Now().Add(15 * time.Second)
			for {
				g, fd := runtime.NumGoroutine(), openFDs()
				if g <= baseG && fd <= baseFD {
					break
				}
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("after the fault: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
						g, baseG, fd, baseFD, buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(10 * time.Millisecond)
			}
			expectRoundTrip(t, healthy, "after "+f.name, "after "+f.name)
		})
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}
