package main

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// replayConn is a net.Conn whose reads replay one byte stream forever and
// whose writes are discarded, so that the benchmarks measure wsbench's
// per-message work and the codec's, without the network.
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

func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// recordConn records what is written to it.
type recordConn struct {
	replayConn
	buf []byte
}

func (c *recordConn) Write(p []byte) (int, error) { c.buf = append(c.buf, p...); return len(p), nil }

// frames returns n stamped text messages of size bytes as role sends
// them: masked for a client, plain for a server.
func frames(tb testing.TB, role codec.Role, size, n int) []byte {
	w := &recordConn{}
	c := codec.NewConn(w, role, nil, nil)
	p, err := newPayload(size, payloadPlain)
	if err != nil {
		tb.Fatal(err)
	}
	putTimestamp(p, monoNow())
	for range n {
		if err := c.WriteMessage(codec.Text, p); err != nil {
			tb.Fatal(err)
		}
	}
	return w.buf
}

var benchSizes = []int{128, 4096}

// newBenchThroughputConn returns a throughput connection, in the measured
// phase, that reads echoes from a replay of server frames.
func newBenchThroughputConn(tb testing.TB, size int) *throughputConn {
	clock := &runClock{}
	clock.store(phaseMeasure)
	c := codec.NewConn(&replayConn{data: frames(tb, codec.ServerRole, size, 64)}, codec.ClientRole, nil, nil)
	cfg := throughputConfig{size: size, payload: payloadPlain}
	t, err := newThroughputConn(&cfg, c, clock)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// clientStep is the client's per-message path.
func clientStep(t *throughputConn) error {
	_, err := t.step()
	return err
}

func BenchmarkThroughputConn_PerMessage(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			t := newBenchThroughputConn(b, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := clientStep(t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEcho_PerFrame(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c := codec.NewConn(&replayConn{data: frames(b, codec.ClientRole, size, 64)}, codec.ServerRole, nil, nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := echoFrame(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHistogram_Record(b *testing.B) {
	var h histogram
	d := 1234 * time.Microsecond
	for b.Loop() {
		h.record(d)
	}
}

// TestZeroAllocsPerMessage checks that the client's and the echo's
// per-message paths allocate nothing once warm.
func TestZeroAllocsPerMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose; run without -race")
	}
	for _, size := range benchSizes {
		tc := newBenchThroughputConn(t, size)
		client := func() {
			if err := clientStep(tc); err != nil {
				t.Fatal(err)
			}
		}
		ec := codec.NewConn(&replayConn{data: frames(t, codec.ClientRole, size, 64)}, codec.ServerRole, nil, nil)
		echo := func() {
			if err := echoFrame(ec); err != nil {
				t.Fatal(err)
			}
		}
		for name, f := range map[string]func(){"client": client, "echo": echo} {
			for range 256 { // warm the pools
				f()
			}
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s, %d-byte messages: %v allocs per message, want 0", name, size, n)
			}
		}
		if tc.messages == 0 || tc.hist.total != tc.messages || tc.badTimestamps != 0 {
			t.Errorf("client counted %d messages, %d latencies, %d bad timestamps", tc.messages, tc.hist.total, tc.badTimestamps)
		}
	}
}
