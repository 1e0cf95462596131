package codec

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// interopSizes cross gorilla's frame size (it fragments at its 4 KiB
// write buffer) and the compression threshold.
var interopSizes = []int{0, 1, 127, 128, 4 << 10, 64<<10 + 1, 1 << 20}

// countingConn counts the bytes written and read, to see that messages
// went compressed.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// checkCompressed fails unless both directions carried well under the
// payload bytes.
func checkCompressed(t *testing.T, cc *countingConn) {
	t.Helper()
	total := int64(0)
	for _, size := range interopSizes {
		total += 2 * int64(size)
	}
	if w, r := cc.written.Load(), cc.read.Load(); w > total/3 || r > total/3 {
		t.Fatalf("%d bytes sent and %d received for %d bytes of messages each way: not compressed", w, r, total)
	}
}

// TestDeflate_GorillaServer: a codec client and gorilla/websocket's echo
// server, compressing both ways (gorilla without context takeover).
func TestDeflate_GorillaServer(t *testing.T) {
	up := websocket.Upgrader{EnableCompression: true}
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

	var cc *countingConn
	d := &Dialer{Compression: &Compression{}, Options: Options{MaxMessageSize: 2 << 20},
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			cc = &countingConn{Conn: nc}
			return cc, err
		}}
	c, hs, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	const want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	if hs.Extensions != want {
		t.Fatalf("agreed %q, want %q", hs.Extensions, want)
	}
	roundTripJSONLike(t, c, interopSizes)
	checkCompressed(t, cc)
	if err := c.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
}

// TestDeflate_GorillaClient: gorilla/websocket's client, compressing, and
// a codec echo server that inflates in pieces and compresses back.
func TestDeflate_GorillaClient(t *testing.T) {
	params := make(chan CompressionParams, 1)
	addr := deflateEchoServer(t, &Upgrader{Compression: &Compression{}, Options: Options{MaxMessageSize: 2 << 20}}, params)
	var cc *countingConn
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			cc = &countingConn{Conn: nc}
			return cc, err
		}}
	c, resp, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != want {
		t.Fatalf("answered %q, want %q", got, want)
	}
	if p := <-params; p != noTakeoverParams {
		t.Fatalf("server agreed %+v", p)
	}
	for i, size := range interopSizes {
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			p := jsonLike(size, uint64(i))
			if err := c.WriteMessage(typ, p); err != nil {
				t.Fatal(err)
			}
			gotTyp, echo, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			if gotTyp != typ || !bytes.Equal(echo, p) {
				t.Fatalf("%d bytes of type %d: got %d bytes of type %d back", size, typ, len(echo), gotTyp)
			}
		}
	}
	checkCompressed(t, cc)
}
