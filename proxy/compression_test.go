package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
)

// countingConn counts the bytes read from a connection: what came over
// the wire, compressed or not.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// deflateUpstream is an upstream that accepts permessage-deflate when
// accept is set and echoes whole messages, so that it compresses what it
// sends back; each connection's negotiated extensions go to ext.
func deflateUpstream(t testing.TB, accept bool, ext chan<- string) string {
	t.Helper()
	decide := func(*codec.Request) (*codec.Response, error) {
		if accept {
			return &codec.Response{Compression: &codec.Compression{}}, nil
		}
		return nil, nil
	}
	return startUpstream(t, decide, func(c *codec.Conn) {
		ext <- c.Extensions()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}).addr
}

// compressible is a JSON-like payload of n bytes.
func compressible(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","text":"hello from the chat room","room":"lobby"},`, i, i%7)
	}
	return b.Bytes()[:n]
}

// Each leg negotiates permessage-deflate on its own: a route with
// compression accepts a client's offer and offers it to its upstream, and
// messages arrive intact whichever legs compress.
func TestCompression_Legs(t *testing.T) {
	tests := []struct {
		name                    string
		compression             bool
		clientOffers, upAccepts bool
		wantClient, wantUp      bool
	}{
		{"both legs", true, true, true, true, true},
		{"client leg only", true, true, false, true, false},
		{"upstream leg only", true, false, true, false, true},
		{"route without compression", false, true, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := make(chan string, 1)
			up := deflateUpstream(t, tt.upAccepts, ext)
			_, addr := startProxy(t, fmt.Sprintf(`
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  upstream    = "echo"
  compression = %v
}
`, tt.compression), map[string]string{"up": up})
			var read atomic.Int64
			d := &codec.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{nc, &read}, nil
			}}
			if tt.clientOffers {
				d.Compression = &codec.Compression{}
			}
			c, hs := dialProxy(t, "ws://"+addr+"/", d)
			upExt := <-ext
			if got := hs.Extensions != ""; got != tt.wantClient {
				t.Errorf("client leg: extensions %q, want compression %v", hs.Extensions, tt.wantClient)
			}
			if got := upExt != ""; got != tt.wantUp {
				t.Errorf("upstream leg: extensions %q, want compression %v", upExt, tt.wantUp)
			}
			if tt.wantClient && tt.wantUp {
				// Without context takeover, the default, wasmgate asks for none.
				for _, p := range []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"} {
					if !strings.Contains(hs.Extensions, p) || !strings.Contains(upExt, p) {
						t.Errorf("extensions %q (client) and %q (upstream) lack %s", hs.Extensions, upExt, p)
					}
				}
			}
			var sent int64
			for _, size := range []int{0, 1, 127, 128, 4 << 10, 64 << 10, 1 << 20} {
				for _, typ := range []codec.MessageType{codec.Text, codec.Binary} {
					p := compressible(size)
					if err := c.WriteMessage(typ, p); err != nil {
						t.Fatal(err)
					}
					gotTyp, got, err := c.ReadMessage()
					if err != nil || gotTyp != typ || !bytes.Equal(got, p) {
						t.Fatalf("%v of %d bytes: got %v of %d bytes (%v)", typ, size, gotTyp, len(got), err)
					}
					sent += int64(size)
				}
			}
			// What came back to the client was compressed only if its
			// leg compresses, whatever the upstream's leg did.
			if compressed := read.Load() < sent/2; compressed != tt.wantClient {
				t.Errorf("the client read %d bytes for %d bytes of messages; compressed: %v, want %v", read.Load(), sent, compressed, tt.wantClient)
			}
		})
	}
}

// The limits apply to the inflated size: a small compressed message that
// inflates past the client's limit gets 1009, and the upstream 1001.
func TestCompression_Bomb(t *testing.T) {
	saw := make(chan codec.StatusCode, 1)
	up := startUpstream(t, func(*codec.Request) (*codec.Response, error) {
		return &codec.Response{Compression: &codec.Compression{}}, nil
	}, func(c *codec.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				saw <- codec.CloseStatus(err)
				return
			}
		}
	})
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "sink" { servers = ["ws://{{up}}"] }
route "all" {
  upstream    = "sink"
  compression = true
  limits { client_max_message_size = "1MiB" }
}
`, map[string]string{"up": up.addr})
	c, _ := dialProxy(t, "ws://"+addr+"/", &codec.Dialer{Compression: &codec.Compression{}})
	// 64 MiB of zeros: about 64 KiB on the wire.
	if err := c.WriteMessage(codec.Binary, make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	if got := readClose(c); got.code != codec.CloseMessageTooBig {
		t.Errorf("client saw %v (%v), want 1009", got.code, got.err)
	}
	if code := <-saw; code != codec.CloseGoingAway {
		t.Errorf("upstream saw %d, want 1001", code)
	}
}

// Filters see whole uncompressed messages, and what they forward is
// compressed again.
func TestCompression_Filtered(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the test guest")
	}
	env := &filterEnv{guest: filepath.ToSlash(guestPath(t)), cache: filepath.ToSlash(t.TempDir())}
	ext := make(chan string, 1)
	up := deflateUpstream(t, true, ext)
	_, addr := env.start(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
`+env.plugin("tag", `
  instances = 1
  timeout   = "1s"
  config    = { tag = "a", n = 1 }`)+`
route "all" {
  upstream    = "echo"
  filters     = ["tag"]
  compression = true
}
`, map[string]string{"up": up}, nil)
	c, hs := dialProxy(t, "ws://"+addr+"/", &codec.Dialer{Compression: &codec.Compression{}})
	if hs.Extensions == "" || <-ext == "" {
		t.Fatal("compression not negotiated on both legs")
	}
	long := string(compressible(4 << 10))
	for _, msg := range []string{"x", long} {
		expectRoundTrip(t, c, msg, msg+"|a|a")
	}
}
