package codec

import (
	"fmt"
	"runtime"
	"testing"
)

// deflateBenchSizes are the JSON-like payloads of the compression
// benchmarks.
var deflateBenchSizes = []int{128, 4 << 10, 64 << 10}

// deflateModes are the two ways a connection compresses.
var deflateModes = []struct {
	name   string
	params CompressionParams
}{
	{"takeover", takeoverParams},
	{"no_takeover", noTakeoverParams},
}

// benchPayloads returns n different payloads of size bytes: the same
// message over and over would compress to nothing with takeover.
func benchPayloads(size, n int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = jsonLike(size, uint64(i))
	}
	return ps
}

// compressedClientFrames returns n messages of size bytes as a client
// compresses them in the given mode. Replayed in a loop, they read well
// with takeover too: the first message, compressed without history,
// refers to none.
func compressedClientFrames(size, n int, params CompressionParams) []byte {
	w := &recordConn{}
	c := NewConn(w, ClientRole, nil, nil)
	c.enableDeflate(&Compression{}, "", params)
	for _, p := range benchPayloads(size, n) {
		if err := c.WriteMessage(Text, p); err != nil {
			panic(err)
		}
	}
	return w.buf
}

func BenchmarkConn_WriteMessageCompressed(b *testing.B) {
	for _, mode := range deflateModes {
		for _, size := range deflateBenchSizes {
			b.Run(fmt.Sprintf("%s/%d", mode.name, size), func(b *testing.B) {
				w := &recordConn{}
				c := NewConn(w, ServerRole, nil, nil)
				c.enableDeflate(&Compression{}, "", mode.params)
				ps := benchPayloads(size, 16)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i, wire := 0, 0
				for b.Loop() {
					w.buf = w.buf[:0]
					if err := c.WriteMessage(Text, ps[i%len(ps)]); err != nil {
						b.Fatal(err)
					}
					wire += len(w.buf)
					i++
				}
				b.ReportMetric(float64(wire)/float64(i)/float64(size), "wire/byte")
			})
		}
	}
}

func BenchmarkConn_ReadMessageCompressed(b *testing.B) {
	for _, mode := range deflateModes {
		for _, size := range deflateBenchSizes {
			b.Run(fmt.Sprintf("%s/%d", mode.name, size), func(b *testing.B) {
				c := NewConn(&replayConn{data: compressedClientFrames(size, 16, mode.params)}, ServerRole, nil, nil)
				c.enableDeflate(&Compression{}, "", mode.params)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, p, err := c.ReadMessage(); err != nil || len(p) != size {
						b.Fatalf("read %d bytes: %v", len(p), err)
					}
				}
			})
		}
	}
}

// quiesce gives back what a Conn returns when its next read starts (the
// last message's buffers) or when it goes quiet (its read buffer), so
// that what remains is what an idle Conn holds.
func quiesce(c *Conn) {
	putBuffer(c.msgBuf)
	putBuffer(c.frameBuf)
	putBuffer(c.big)
	c.msgBuf, c.frameBuf, c.big = nil, nil, nil
	c.buf, c.r, c.w = c.small[:], 0, 0
	if c.fl != nil {
		c.fl.in.releasePiece()
	}
}

// BenchmarkConn_IdleMemoryCompressed measures the heap that 1000 idle
// server Conns hold after each read and wrote four messages of 4 KiB, in
// bytes per Conn: uncompressed, compressed with and without context
// takeover, and with takeover once parked (which gives up the
// compressor).
func BenchmarkConn_IdleMemoryCompressed(b *testing.B) {
	const conns = 1000
	for _, mode := range []struct {
		name   string
		params *CompressionParams
		parked bool
	}{
		{"uncompressed", nil, false},
		{"no_takeover", &noTakeoverParams, false},
		{"takeover", &takeoverParams, false},
		{"takeover_parked", &takeoverParams, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			in := clientFrames(4<<10, 4)
			if mode.params != nil {
				in = compressedClientFrames(4<<10, 4, *mode.params)
			}
			ps := benchPayloads(4<<10, 4)
			var perConn float64
			for b.Loop() {
				cs := make([]*Conn, conns)
				var before, after runtime.MemStats
				// Twice: pooled objects survive one collection.
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range cs {
					c := NewConn(&replayConn{data: in}, ServerRole, nil, nil)
					if mode.params != nil {
						c.enableDeflate(&Compression{}, "", *mode.params)
					}
					for _, p := range ps {
						if _, _, err := c.ReadMessage(); err != nil {
							b.Fatal(err)
						}
						if err := c.WriteMessage(Text, p); err != nil {
							b.Fatal(err)
						}
					}
					quiesce(c)
					if mode.parked {
						c.releaseCompressor() // as Park does
					}
					cs[i] = c
				}
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn = float64(after.HeapAlloc-before.HeapAlloc) / conns
				runtime.KeepAlive(cs)
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}

// TestConn_DeflateZeroAllocs: compressed writes allocate nothing in steady
// state, nor do compressed reads of small messages. (compress/flate
// allocates the tables of each dynamic Huffman block it inflates, a few
// allocations per message of some KiB.)
func TestConn_DeflateZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose; run without -race")
	}
	for _, mode := range deflateModes {
		for _, size := range deflateBenchSizes {
			c := NewConn(&replayConn{}, ServerRole, nil, nil)
			c.enableDeflate(&Compression{}, "", mode.params)
			ps := benchPayloads(size, 16)
			i := 0
			write := func() {
				if err := c.WriteMessage(Text, ps[i%len(ps)]); err != nil {
					t.Fatal(err)
				}
				i++
			}
			for range 64 { // warm the pools
				write()
			}
			if n := testing.AllocsPerRun(200, write); n != 0 {
				t.Errorf("%s: compressed WriteMessage of %d bytes: %v allocs, want 0", mode.name, size, n)
			}
		}
		r := NewConn(&replayConn{data: compressedClientFrames(128, 16, mode.params)}, ServerRole, nil, nil)
		r.enableDeflate(&Compression{}, "", mode.params)
		for _, whole := range []bool{true, false} {
			read := func() {
				var err error
				if whole {
					_, _, err = r.ReadMessage()
				} else {
					_, err = r.ReadFrame()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for range 64 {
				read()
			}
			if n := testing.AllocsPerRun(200, read); n != 0 {
				t.Errorf("%s: compressed read of 128 bytes (whole %v): %v allocs, want 0", mode.name, whole, n)
			}
		}
	}
}
