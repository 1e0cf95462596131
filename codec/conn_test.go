package codec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer serves an echo WebSocket on a loopback listener and returns
// its address.
func echoServer(t testing.TB, u *Upgrader) string {
	t.Helper()
	return serveUpgrades(t, u, func(c *Conn) { Echo(c) }) //nolint:errcheck // the tests check what the client sees
}

// serveUpgrades upgrades every connection to a loopback listener with u,
// runs handle on it and closes it; it returns the listener's address.
func serveUpgrades(t testing.TB, u *Upgrader, handle func(*Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, _, err := u.Upgrade(nc)
				if err != nil {
					nc.Close()
					return
				}
				defer c.CloseNow()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t testing.TB, addr string, d *Dialer) *Conn {
	t.Helper()
	if d == nil {
		d = &Dialer{}
	}
	c, _, err := d.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestConn_RoundTrip(t *testing.T) {
	addr := echoServer(t, &Upgrader{})
	c := dial(t, addr, nil)
	tests := []struct {
		name string
		typ  MessageType
		size int
	}{
		{"empty text", Text, 0},
		{"small binary", Binary, 16},
		{"125", Binary, 125},
		{"126", Text, 126},
		{"64KiB", Binary, 64 << 10},
		{"65536+1", Text, 65537},
		{"1MiB", Binary, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte("abcdefgh"), tt.size/8+1)[:tt.size]
			if err := c.WriteMessage(tt.typ, p); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tt.typ || !bytes.Equal(got, p) {
				t.Fatalf("got %v of %d bytes, want %v of %d", typ, len(got), tt.typ, len(p))
			}
		})
	}
}

func TestConn_Fragmented(t *testing.T) {
	addr := echoServer(t, &Upgrader{})
	c := dial(t, addr, nil)
	parts := []string{"héllo ", "wörld", ""}
	for i, p := range parts {
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		if err := c.BufferFrame(i == len(parts)-1, op, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	typ, got, err := c.ReadMessage()
	if err != nil || typ != Text || string(got) != strings.Join(parts, "") {
		t.Fatalf("got %v %q %v", typ, got, err)
	}
}

func TestConn_CloseHandshake(t *testing.T) {
	addr := echoServer(t, &Upgrader{})
	c := dial(t, addr, nil)
	if err := c.Close(CloseNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if !c.closeRecv.Load() {
		t.Fatal("close returned without the server's close frame")
	}
	if err := c.WriteMessage(Text, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v, want ErrClosed", err)
	}
}

func TestConn_KeepalivePongTimeout(t *testing.T) {
	// A server that never reads: the client's pings go unanswered.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		u := Upgrader{}
		if _, _, err := u.Upgrade(nc); err != nil {
			nc.Close()
		}
		// hold the socket open without reading
	}()
	c := dial(t, ln.Addr().String(), &Dialer{Options: Options{PingInterval: 20 * time.Millisecond, PongTimeout: 30 * time.Millisecond}})
	_, _, err = c.ReadMessage()
	if !errors.Is(err, ErrPongTimeout) {
		t.Fatalf("got %v, want ErrPongTimeout", err)
	}
}

func TestConn_Heartbeat(t *testing.T) {
	addr := echoServer(t, &Upgrader{})
	idle := errors.New("idle")
	beats := 0
	c := dial(t, addr, &Dialer{Options: Options{PingInterval: 10 * time.Millisecond, Heartbeat: func() error {
		beats++
		if beats == 3 {
			return idle
		}
		return nil
	}}})
	_, _, err := c.ReadMessage()
	if !errors.Is(err, idle) || beats != 3 {
		t.Fatalf("got %v after %d heartbeats, want the heartbeat's error after 3", err, beats)
	}
}

func TestConn_QuietConnReleasesReadBuffer(t *testing.T) {
	// The whole message is in the client's socket buffer before the client
	// reads, so the reads below are the same on every run, however slow
	// the machine: 256 bytes into the small buffer (full, so heavy), then
	// the rest into a pooled one; and no keepalive period passes before
	// the first byte arrives.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clientEnd, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	serverEnd, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer serverEnd.Close()
	if err := NewConn(serverEnd, ServerRole, nil, nil).WriteMessage(Binary, make([]byte, 10<<10)); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, serverEnd) //nolint:errcheck // swallows the pings
	var held []bool
	stop := errors.New("stop")
	var c *Conn
	c = NewConn(clientEnd, ClientRole, &Options{PingInterval: 20 * time.Millisecond, PongTimeout: time.Minute, Heartbeat: func() error {
		// Runs on the reading goroutine: c's read state is safe to look at.
		held = append(held, c.big != nil)
		if len(held) == 2 {
			return stop
		}
		return nil
	}}, nil)
	defer c.CloseNow()
	if _, p, err := c.ReadMessage(); err != nil || len(p) != 10<<10 {
		t.Fatalf("read %d bytes, %v", len(p), err)
	}
	// Held at the first quiet period, released by the second.
	if _, _, err := c.ReadMessage(); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if len(held) != 2 || !held[0] || held[1] {
		t.Fatalf("pooled buffer held at each quiet period: %v, want [true false]", held)
	}
}

func TestConn_ClientRejects(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte // as a server would send it
		want  StatusCode
	}{
		{"masked frame from a server", []byte{0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1}, CloseProtocolError},
		{"reserved bit", []byte{0xc1, 0x01, 'x'}, CloseProtocolError},
		{"reserved opcode", []byte{0x83, 0x00}, CloseProtocolError},
		{"fragmented ping", []byte{0x09, 0x00}, CloseProtocolError},
		{"continuation without start", []byte{0x80, 0x01, 'x'}, CloseProtocolError},
		{"invalid UTF-8 text", []byte{0x81, 0x02, 0xc0, 0xaf}, CloseInvalidPayload},
		{"close code 1005 on the wire", []byte{0x88, 0x02, 0x03, 0xed}, CloseProtocolError},
		{"close reason not UTF-8", []byte{0x88, 0x03, 0x03, 0xe8, 0xff}, CloseInvalidPayload},
		{"frame over the limit", []byte{0x82, 0x7e, 0x04, 0x01}, CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := &streamConn{r: bytes.NewReader(tt.frame)}
			c := NewConn(nc, ClientRole, &Options{MaxMessageSize: 1024}, nil)
			_, _, err := c.ReadMessage()
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != tt.want {
				t.Fatalf("got %v, want a protocol error with %v", err, tt.want)
			}
			// The failing close frame went out, masked, with the code.
			out := nc.out.Bytes()
			if len(out) < 8 || out[0] != 0x88 || out[1]&0x80 == 0 {
				t.Fatalf("no masked close frame sent: % x", out)
			}
			key := [4]byte(out[2:6])
			code := StatusCode(uint16(out[6]^key[0])<<8 | uint16(out[7]^key[1]))
			if code != tt.want {
				t.Fatalf("sent close %v, want %v", code, tt.want)
			}
		})
	}
}

func TestConn_CloseTimeout(t *testing.T) {
	// A peer that never answers the close: Close gives up after the close
	// timeout and releases the socket.
	server, client := net.Pipe()
	go io.Copy(io.Discard, server) //nolint:errcheck // swallows the close frame
	defer server.Close()
	c := NewConn(client, ClientRole, &Options{CloseTimeout: 50 * time.Millisecond}, nil)
	done := make(chan error, 1)
	go func() { done <- c.Close(CloseNormal, "bye") }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not give up on a silent peer")
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Fatal("the socket is still open after Close")
	}
}

func TestConn_BufferedMessage(t *testing.T) {
	// frame builds a masked client frame.
	frame := func(b0 byte, payload string) []byte {
		out := []byte{b0, 0x80 | byte(len(payload)), 0, 0, 0, 0}
		return append(out, payload...)
	}
	tests := []struct {
		name   string
		stream [][]byte // the first frame is read, then BufferedMessage asked
		want   bool
	}{
		{"whole text message next", [][]byte{frame(0x81, "a"), frame(0x81, "b")}, true},
		{"whole binary message next", [][]byte{frame(0x81, "a"), frame(0x82, "b")}, true},
		{"nothing next", [][]byte{frame(0x81, "a")}, false},
		{"half a frame next", [][]byte{frame(0x81, "a"), frame(0x81, "bcdef")[:4]}, false},
		{"first fragment next", [][]byte{frame(0x81, "a"), frame(0x01, "b")}, false},
		{"ping next", [][]byte{frame(0x81, "a"), frame(0x89, "")}, false},
		{"inside a fragmented message", [][]byte{frame(0x01, "a"), frame(0x80, "b")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := &streamConn{r: bytes.NewReader(bytes.Join(tt.stream, nil))}
			c := NewConn(nc, ServerRole, nil, nil)
			if _, err := c.ReadFrame(); err != nil {
				t.Fatal(err)
			}
			if got := c.BufferedMessage(); got != tt.want {
				t.Errorf("BufferedMessage() = %v, want %v", got, tt.want)
			}
		})
	}
}
