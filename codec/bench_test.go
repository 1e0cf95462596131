package codec

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// replayConn is a net.Conn whose reads replay one byte stream forever and
// whose writes are discarded, so benchmarks measure the codec alone.
type replayConn struct {
	data []byte
	off  int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off += n
	if c.off == len(c.data) {
		c.off = 0
	}
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *replayConn) Close() error                       { return nil }
func (c *replayConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error        { return nil }
func (c *replayConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(t time.Time) error { return nil }

// clientFrames returns n masked text frames of size bytes, as a client
// sends them.
func clientFrames(size, n int) []byte {
	w := &recordConn{}
	c := NewConn(w, ClientRole, nil, nil)
	p := make([]byte, size)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	for range n {
		if err := c.WriteMessage(Text, p); err != nil {
			panic(err)
		}
	}
	return w.buf
}

type recordConn struct {
	replayConn
	buf []byte
}

func (c *recordConn) Write(p []byte) (int, error) { c.buf = append(c.buf, p...); return len(p), nil }

var benchSizes = []int{16, 1 << 10, 64 << 10}

func BenchmarkConn_ReadFrame(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c := NewConn(&replayConn{data: clientFrames(size, 64)}, ServerRole, nil, nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkConn_ReadMessage(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c := NewConn(&replayConn{data: clientFrames(size, 64)}, ServerRole, nil, nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkConn_WriteMessage(b *testing.B) {
	for _, role := range []Role{ServerRole, ClientRole} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d", role, size), func(b *testing.B) {
				c := NewConn(&replayConn{}, role, nil, nil)
				p := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(Binary, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConn_Relay is the proxy's hot path: read a client frame, buffer
// it masked-free towards... here towards an upstream (client role, so it is
// masked again), flush when no whole frame is left.
func BenchmarkConn_Relay(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			src := NewConn(&replayConn{data: clientFrames(size, 64)}, ServerRole, nil, nil)
			dst := NewConn(&replayConn{}, ClientRole, nil, nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				f, err := src.ReadFrame()
				if err != nil {
					b.Fatal(err)
				}
				if err := dst.BufferFrame(f.Fin, f.Opcode, f.Payload); err != nil {
					b.Fatal(err)
				}
				if !src.Buffered() {
					if err := dst.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkConn_ReadMessageFragmented assembles messages sent as 8
// fragments each: the assembly buffer is pooled and reused.
func BenchmarkConn_ReadMessageFragmented(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			w := &recordConn{}
			c := NewConn(w, ClientRole, nil, nil)
			part := make([]byte, max(size/8, 1))
			for range 16 {
				for i := range 8 {
					op := OpContinuation
					if i == 0 {
						op = OpBinary
					}
					if err := c.WriteFrame(i == 7, op, part); err != nil {
						b.Fatal(err)
					}
				}
			}
			r := NewConn(&replayConn{data: w.buf}, ServerRole, nil, nil)
			b.SetBytes(int64(8 * len(part)))
			b.ReportAllocs()
			for b.Loop() {
				if _, p, err := r.ReadMessage(); err != nil || len(p) != 8*len(part) {
					b.Fatalf("read %d bytes: %v", len(p), err)
				}
			}
		})
	}
}

// BenchmarkMask is the masking a client applies to every payload and a
// server removes from it.
func BenchmarkMask(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			p := make([]byte, size)
			key := [4]byte{1, 2, 3, 4}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				ws.Cipher(p, key, 0)
			}
		})
	}
}

func BenchmarkUTF8Validator(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"ascii", "The quick brown fox jumps over the lazy dog. 0123456789"},
		{"mixed", "Größe → 大きさ — κόσμε 🚀 ascii tail"},
	} {
		p := []byte(tc.s)
		for len(p) < 4096 {
			p = append(p, tc.s...)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				var v utf8Validator
				if !v.Feed(p[:1000]) || !v.Feed(p[1000:]) || !v.Done() {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func TestConn_ZeroAllocsSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose; run without -race")
	}
	for _, size := range benchSizes {
		src := NewConn(&replayConn{data: clientFrames(size, 64)}, ServerRole, nil, nil)
		dst := NewConn(&replayConn{}, ClientRole, nil, nil)
		relay := func() {
			f, err := src.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			dst.BufferFrame(f.Fin, f.Opcode, f.Payload)
			if !src.Buffered() {
				dst.Flush()
			}
		}
		for range 128 { // warm the pools
			relay()
		}
		if n := testing.AllocsPerRun(1000, relay); n != 0 {
			t.Errorf("relay of %d-byte frames: %v allocs per frame, want 0", size, n)
		}
		read := func() {
			if _, _, err := src.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(1000, read); n != 0 {
			t.Errorf("ReadMessage of %d bytes: %v allocs, want 0", size, n)
		}
	}
}
