package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// BenchmarkProxy_RoundTrip sends a message through the proxy to an echo
// upstream and reads it back, one at a time, over loopback. Allocations are
// counted for the whole process: client, proxy and upstream.
func BenchmarkProxy_RoundTrip(b *testing.B) {
	up := startUpstream(b, nil, echoHandler)
	_, addr := startProxy(b, simpleConfig, map[string]string{"up": up.addr})
	for _, size := range []int{128, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c, _ := dialProxy(b, "ws://"+addr+"/", nil)
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(codec.Binary, p); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProxy_Pipelined keeps a window of messages in flight, as a busy
// client does, so the proxy's one-write-per-read batching shows.
func BenchmarkProxy_Pipelined(b *testing.B) {
	up := startUpstream(b, nil, echoHandler)
	_, addr := startProxy(b, simpleConfig, map[string]string{"up": up.addr})
	const window = 32
	for _, size := range []int{128, 4 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c, _ := dialProxy(b, "ws://"+addr+"/", nil)
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			sent, received := 0, 0
			for b.Loop() {
				for sent-received < window {
					if err := c.BufferFrame(true, codec.OpBinary, p); err != nil {
						b.Fatal(err)
					}
					sent++
				}
				if err := c.Flush(); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
				received++
			}
			for received < sent {
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
				received++
			}
		})
	}
}

// filterConfig is a proxy in front of an echo upstream whose route runs
// the Go test guest as filter "f" with the given config (HCL). A Go
// guest's garbage collector can pause it for longer than the default 5 ms
// deadline, so the timeout is raised (see RATIONALE.md).
const filterConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
plugin "f" {
  wasm      = "{{guest}}"
  config    = {{config}}
  instances = 1
  timeout   = "100ms"
  sandbox   = "{{sandbox}}"
}
route "all" {
  path     = "/"
  upstream = "echo"
  filters  = ["f"]
}
`

// BenchmarkProxy_FilteredRoundTrip is BenchmarkProxy_RoundTrip through a
// Go filter that passes every message (noop) or rewrites it (rewrite):
// each message crosses the filter twice, out and back.
func BenchmarkProxy_FilteredRoundTrip(b *testing.B) {
	up := startUpstream(b, nil, echoHandler)
	guest := guestPath(b)
	for _, sandbox := range []string{"checked", "plain"} {
		for _, f := range []struct{ name, config string }{{"noop", "null"}, {"rewrite", `{ tag = "a" }`}} {
			b.Run(sandbox+"/"+f.name, func(b *testing.B) {
				_, addr := startProxy(b, filterConfig, map[string]string{"up": up.addr, "guest": guest, "config": f.config, "sandbox": sandbox})
				c, _ := dialProxy(b, "ws://"+addr+"/", nil)
				p := bytes.Repeat([]byte("a"), 128)
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(codec.Text, p); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkProxy_AuthHandshake opens and closes a connection through a
// filter that checks a header before the upstream is dialed, as an
// authentication filter does; the no-filter case is the baseline.
func BenchmarkProxy_AuthHandshake(b *testing.B) {
	up := startUpstream(b, nil, func(c *codec.Conn) { readUntilClose(c) })
	guest := guestPath(b)
	auth := `{ require_header = { name = "authorization", value = "Bearer secret", status = 401, body = "no" } }`
	for _, tc := range []struct{ name, src string }{
		{"no-filter", simpleConfig},
		{"auth-filter", filterConfig},
	} {
		b.Run(tc.name, func(b *testing.B) {
			_, addr := startProxy(b, tc.src, map[string]string{"up": up.addr, "guest": guest, "config": auth, "sandbox": "checked"})
			d := &codec.Dialer{Header: http.Header{"Authorization": {"Bearer secret"}}}
			b.ReportAllocs()
			for b.Loop() {
				c, _, err := d.Dial(context.Background(), "ws://"+addr+"/")
				if err != nil {
					b.Fatal(err)
				}
				c.Close(codec.CloseNormal, "") //nolint:errcheck // the benchmark measures the handshake
			}
		})
	}
}

// BenchmarkProxy_Compressed is BenchmarkProxy_Pipelined through a route
// that compresses both legs, with JSON-like messages that a client and an
// upstream compress (the upstream echoes whole messages, compressed).
func BenchmarkProxy_Compressed(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		ext := make(chan string, 64)
		up := deflateUpstream(b, true, ext)
		_, addr := startProxy(b, fmt.Sprintf(`
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  upstream                     = "echo"
  compression                  = true
  compression_context_takeover = %v
}
`, takeover), map[string]string{"up": up})
		const window = 32
		for _, size := range []int{128, 4 << 10} {
			b.Run(fmt.Sprintf("takeover=%v/%d", takeover, size), func(b *testing.B) {
				c, hs := dialProxy(b, "ws://"+addr+"/", &codec.Dialer{Compression: &codec.Compression{}})
				if hs.Extensions == "" || <-ext == "" {
					b.Fatal("compression not negotiated on both legs")
				}
				p := compressible(size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				sent, received := 0, 0
				for b.Loop() {
					for sent-received < window {
						if err := c.WriteMessage(codec.Text, p); err != nil {
							b.Fatal(err)
						}
						sent++
					}
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
					received++
				}
				for received < sent {
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
					received++
				}
			})
		}
	}
}

// BenchmarkProxy_IdleMemory reports the heap that an idle proxied
// connection holds once it has carried a few messages, uncompressed and
// compressed with and without context takeover. The client and the
// upstream are in the same process: the figure is the whole connection
// (client, proxy and upstream ends), and the difference between the rows
// is what compression costs.
func BenchmarkProxy_IdleMemory(b *testing.B) {
	const conns = 200
	for _, mode := range []struct {
		name, route string
	}{
		{"uncompressed", ""},
		{"compressed", "compression = true"},
		{"compressed_takeover", "compression = true\n  compression_context_takeover = true"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ext := make(chan string, conns)
			up := deflateUpstream(b, true, ext)
			_, addr := startProxyWith(b, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  upstream = "echo"
  `+mode.route+`
}
`, map[string]string{"up": up}, nil, func(p *Proxy) { p.parkAfter = 10 * time.Millisecond })
			msg := compressible(4 << 10)
			var perConn float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				clients := make([]*codec.Conn, conns)
				for i := range clients {
					c, _ := dialProxy(b, "ws://"+addr+"/", &codec.Dialer{Compression: &codec.Compression{}})
					<-ext
					for range 4 {
						if err := c.WriteMessage(codec.Text, msg); err != nil {
							b.Fatal(err)
						}
						if _, _, err := c.ReadMessage(); err != nil {
							b.Fatal(err)
						}
					}
					clients[i] = c
				}
				time.Sleep(200 * time.Millisecond) // the proxy's legs park
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn = float64(after.HeapInuse-before.HeapInuse) / conns
				for _, c := range clients {
					c.CloseNow()
				}
			}
			b.ReportMetric(perConn, "heap-B/conn")
		})
	}
}
