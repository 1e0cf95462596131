package proxy

import (
	"fmt"
	"testing"

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
