package proxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaEchoServer is an independent WebSocket implementation's echo
// server.
func gorillaEchoServer(t testing.TB) string {
	t.Helper()
	up := websocket.Upgrader{
		Subprotocols: []string{"chat.v1"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, p); err != nil {
				return
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestInterop_GorillaThroughProxy(t *testing.T) {
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": gorillaEchoServer(t)})
	d := websocket.Dialer{Subprotocols: []string{"chat.v1"}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+"/interop", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat.v1" {
		t.Fatalf("negotiated subprotocol %q, want chat.v1", got)
	}
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 4 << 20, 16<<20 - 64}
	for _, size := range sizes {
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			t.Run(fmt.Sprintf("%d/%d", typ, size), func(t *testing.T) {
				p := make([]byte, size)
				for i := range p {
					p[i] = byte('a' + i%26)
				}
				if err := c.WriteMessage(typ, p); err != nil {
					t.Fatal(err)
				}
				gotType, got, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if gotType != typ || !bytes.Equal(got, p) {
					t.Fatalf("got type %d, %d bytes (sha %x), want type %d, %d bytes (sha %x)",
						gotType, len(got), sha256.Sum256(got), typ, size, sha256.Sum256(p))
				}
			})
		}
	}
	// A clean close travels both ways.
	msg := websocket.FormatCloseMessage(4321, "done")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4321 {
		t.Fatalf("close: got %v, want the echoed 4321", err)
	}
}

func TestInterop_GorillaPingThroughProxy(t *testing.T) {
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": gorillaEchoServer(t)})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The pong arrives while reading; a message afterwards ends the read.
	c.WriteMessage(websocket.TextMessage, []byte("after"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "after" {
		t.Fatalf("got %q, %v", p, err)
	}
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Fatalf("pong payload %q", got)
		}
	default:
		t.Fatal("no pong before the next message")
	}
}
