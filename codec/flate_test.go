package codec

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// deflateBytes compresses p as one permessage-deflate message without
// context: raw DEFLATE, flushed, the final 00 00 ff ff removed.
func deflateBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p) //nolint:errcheck // a bytes.Buffer does not fail
	w.Flush()  //nolint:errcheck // same
	return bytes.TrimSuffix(b.Bytes(), syncMarker)
}

// frameWith encodes one frame with reserved bits, masked as a client sends
// it when masked.
func frameWith(finBit bool, rsv byte, op Opcode, payload []byte, masked bool) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var mask *[4]byte
	if masked {
		mask = &key
	}
	b := make([]byte, maxHeaderSize, maxHeaderSize+len(payload))
	b = append(b[:putHeader(b, finBit, rsv, op, len(payload), mask)], payload...)
	if masked {
		for i := range payload {
			b[len(b)-len(payload)+i] ^= key[i%4]
		}
	}
	return b
}

// deflateReader returns a Conn of the given role reading data, with
// permessage-deflate agreed with p.
func deflateReader(data []byte, role Role, p CompressionParams, opts *Options) (*Conn, *streamConn) {
	nc := &streamConn{r: bytes.NewReader(data)}
	c := NewConn(nc, role, opts, nil)
	c.enableDeflate(&Compression{}, "permessage-deflate", p)
	return c, nc
}

var takeoverParams = CompressionParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
var noTakeoverParams = CompressionParams{true, true, 15, 15}

// readAll reads data messages until an error, with ReadMessage or with
// ReadFrame (the pieces assembled).
func readAll(c *Conn, frames bool) ([]modelMessage, error) {
	var msgs []modelMessage
	var cur []byte
	for {
		if !frames {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return msgs, err
			}
			msgs = append(msgs, modelMessage{typ, slices.Clone(p)})
			continue
		}
		f, err := c.ReadFrame()
		if err != nil {
			return msgs, err
		}
		cur = append(cur, f.Payload...)
		if f.Fin {
			msgs = append(msgs, modelMessage{f.Type, cur})
			cur = nil
		}
	}
}

// TestConn_DeflateRFC7692Examples reads the examples of RFC 7692, section
// 7.2.3, as a client reads them from a server.
func TestConn_DeflateRFC7692Examples(t *testing.T) {
	hello := modelMessage{Text, []byte("Hello")}
	tests := []struct {
		name   string
		params CompressionParams
		wire   []byte
		want   []modelMessage
		end    StatusCode // 0: the stream just ends
	}{
		{"7.2.3.1 one frame", takeoverParams, []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []modelMessage{hello}, 0},
		{"7.2.3.1 fragmented", takeoverParams, []byte{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}, []modelMessage{hello}, 0},
		{"7.2.3.2 sharing the window", takeoverParams,
			[]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}, []modelMessage{hello, hello}, 0},
		{"7.2.3.2 without takeover", noTakeoverParams,
			[]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []modelMessage{hello, hello}, 0},
		// The second message refers to the first, which the server agreed
		// not to do.
		{"7.2.3.2 shared window without takeover", noTakeoverParams,
			[]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}, []modelMessage{hello}, CloseInvalidPayload},
		{"7.2.3.3 no compression", takeoverParams,
			[]byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, []modelMessage{hello}, 0},
		{"7.2.3.4 BFINAL set", takeoverParams, []byte{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, []modelMessage{hello}, 0},
		{"7.2.3.5 two blocks", takeoverParams,
			[]byte{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}, []modelMessage{hello}, 0},
		{"7.2.3.6 empty message", takeoverParams, []byte{0xc1, 0x01, 0x00}, []modelMessage{{Text, []byte{}}}, 0},
		{"uncompressed message between", takeoverParams,
			[]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x82, 0x02, 'h', 'i', 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00},
			[]modelMessage{hello, {Binary, []byte("hi")}, hello}, 0},
	}
	for _, tt := range tests {
		for _, frames := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/frames=%v", tt.name, frames), func(t *testing.T) {
				c, _ := deflateReader(tt.wire, ClientRole, tt.params, nil)
				got, err := readAll(c, frames)
				if !slices.EqualFunc(got, tt.want, modelMessage.equal) {
					t.Errorf("read %v, want %v", got, tt.want)
				}
				var pe *ProtocolError
				switch {
				case tt.end == 0 && err != io.EOF:
					t.Errorf("ended with %v, want EOF", err)
				case tt.end != 0 && (!errors.As(err, &pe) || pe.Code != tt.end):
					t.Errorf("ended with %v, want a failure with %d", err, tt.end)
				}
			})
		}
	}
}

// TestConn_DeflateReadErrors: what a server reading compressed messages
// fails with.
func TestConn_DeflateReadErrors(t *testing.T) {
	frame := func(finBit bool, rsv byte, op Opcode, payload []byte) []byte {
		return frameWith(finBit, rsv, op, payload, true)
	}
	hello := deflateBytes(t, []byte("Hello"))
	emptyBlocks := bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 400)
	tests := []struct {
		name       string
		negotiated bool
		limit      int64
		wire       []byte
		want       modelEnd
	}{
		{"RSV1 not negotiated", false, 0, frame(true, rsv1, OpText, hello), failed(CloseProtocolError)},
		{"RSV1 on a continuation", true, 0, cat(frame(false, rsv1, OpText, hello[:2]), frame(true, rsv1, OpContinuation, hello[2:])), failed(CloseProtocolError)},
		{"RSV1 on a continuation of a plain message", true, 0, cat(frame(false, 0, OpText, []byte("a")), frame(true, rsv1, OpContinuation, hello)), failed(CloseProtocolError)},
		{"RSV1 on a ping", true, 0, frame(true, rsv1, OpPing, nil), failed(CloseProtocolError)},
		{"RSV1 on a close", true, 0, frame(true, rsv1, OpClose, []byte{0x03, 0xe8}), failed(CloseProtocolError)},
		{"RSV2", true, 0, frame(true, rsv2, OpBinary, hello), failed(CloseProtocolError)},
		{"RSV1 and RSV3", true, 0, frame(true, rsv1|rsv3, OpBinary, hello), failed(CloseProtocolError)},
		{"invalid block type", true, 0, frame(true, rsv1, OpBinary, []byte{0xff, 0xff, 0xff}), failed(CloseInvalidPayload)},
		{"cut inside a block", true, 0, frame(true, rsv1, OpBinary, hello[:2]), failed(CloseInvalidPayload)},
		{"distance beyond the history", true, 0, frame(true, rsv1, OpBinary, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}), failed(CloseInvalidPayload)},
		{"invalid UTF-8", true, 0, frame(true, rsv1, OpText, deflateBytes(t, []byte("ok \xff"))), failed(CloseInvalidPayload)},
		{"ends inside a UTF-8 sequence", true, 0, frame(true, rsv1, OpText, deflateBytes(t, []byte("ok \xce"))), failed(CloseInvalidPayload)},
		{"inflates over the limit", true, 100, frame(true, rsv1, OpBinary, deflateBytes(t, make([]byte, 101))), failed(CloseMessageTooBig)},
		{"inflates to the limit", true, 100, frame(true, rsv1, OpBinary, deflateBytes(t, make([]byte, 100))), endEOF},
		// Blocks that inflate to nothing still count on the wire.
		{"empty blocks over the wire limit", true, 100, frame(true, rsv1, OpBinary, emptyBlocks), failed(CloseMessageTooBig)},
		{"peer closes inside a message", true, 0,
			cat(frame(false, rsv1, OpText, hello[:3]), frame(true, 0, OpPing, []byte("p")), frame(true, 0, OpClose, []byte{0x03, 0xe8})), peerClosed(CloseNormal)},
		{"new message inside a compressed one", true, 0,
			cat(frame(false, rsv1, OpText, hello[:3]), frame(true, 0, OpText, []byte("x"))), failed(CloseProtocolError)},
	}
	for _, tt := range tests {
		for _, frames := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/frames=%v", tt.name, frames), func(t *testing.T) {
				nc := &streamConn{r: bytes.NewReader(tt.wire)}
				c := NewConn(nc, ServerRole, &Options{MaxMessageSize: tt.limit}, nil)
				if tt.negotiated {
					c.enableDeflate(&Compression{}, "permessage-deflate", takeoverParams)
				}
				_, err := readAll(c, frames)
				if got := endOf(t, err); got != tt.want {
					t.Fatalf("ended: %s, want %s", got, tt.want)
				}
			})
		}
	}
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// TestConn_DeflatePingInsideMessage: a ping between the frames of a
// compressed message is answered, and the message read whole.
func TestConn_DeflatePingInsideMessage(t *testing.T) {
	p := bytes.Repeat([]byte("fragmented and compressed "), 100)
	z := deflateBytes(t, p)
	wire := cat(frameWith(false, rsv1, OpText, z[:10], true), frameWith(true, 0, OpPing, []byte("p"), true),
		frameWith(false, 0, OpContinuation, z[10:20], true), frameWith(true, 0, OpContinuation, z[20:], true))
	for _, frames := range []bool{false, true} {
		c, nc := deflateReader(wire, ServerRole, takeoverParams, nil)
		got, err := readAll(c, frames)
		if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0].payload, p) {
			t.Fatalf("frames=%v: read %v, %v", frames, got, err)
		}
		if want := []byte{0x8a, 0x01, 'p'}; !bytes.Equal(nc.out.Bytes(), want) {
			t.Fatalf("frames=%v: wrote %x, want the pong %x", frames, nc.out.Bytes(), want)
		}
	}
}

// TestConn_DeflateReadFramePieces: ReadFrame hands out a compressed
// message in pieces no larger than MaxFrameSize.
func TestConn_DeflateReadFramePieces(t *testing.T) {
	p := make([]byte, 200<<10)
	for i := range p {
		p[i] = 'a' + byte(i%7*i%13)
	}
	c, _ := deflateReader(frameWith(true, rsv1, OpText, deflateBytes(t, p), true), ServerRole, takeoverParams, &Options{MaxFrameSize: 10000})
	var got []byte
	for i := 0; ; i++ {
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		wantOp := OpContinuation
		if i == 0 {
			wantOp = OpText
		}
		if f.Opcode != wantOp || f.Type != Text || len(f.Payload) > 10000 {
			t.Fatalf("piece %d: opcode %v, type %v, %d bytes", i, f.Opcode, f.Type, len(f.Payload))
		}
		got = append(got, f.Payload...)
		if f.Fin {
			break
		}
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("read %d bytes, not the %d sent", len(got), len(p))
	}
}

// zipBomb is a compressed message of size zero bytes (a multiple of 1 MiB),
// built from one compressed MiB repeated.
func zipBomb(t testing.TB, size int) []byte {
	mib := deflateBytes(t, make([]byte, 1<<20))
	// Each copy ends with the empty stored block that flushing wrote.
	mib = append(mib, syncMarker...)
	return bytes.Repeat(mib, size>>20)
}

// TestConn_DeflateZipBomb: 1 GiB of zeros, compressed to about 1 MiB,
// fails with 1009 once the output passes the limit, having allocated a
// few times the limit at most, not the gigabyte.
func TestConn_DeflateZipBomb(t *testing.T) {
	const limit = 4 << 20
	bomb := zipBomb(t, 1<<30)
	wire := frameWith(true, rsv1, OpBinary, bomb, true)
	for _, frames := range []bool{false, true} {
		t.Run(fmt.Sprintf("frames=%v", frames), func(t *testing.T) {
			c, _ := deflateReader(wire, ServerRole, takeoverParams, &Options{MaxMessageSize: limit})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			for err == nil {
				if frames {
					_, err = c.ReadFrame() // the pieces are not kept
				} else {
					_, _, err = c.ReadMessage()
				}
			}
			runtime.ReadMemStats(&after)
			if got := endOf(t, err); got != failed(CloseMessageTooBig) {
				t.Fatalf("ended: %s, want 1009", got)
			}
			// The message buffer grows to the limit; the wire frame is
			// read into buffers of its own.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*limit+3*uint64(len(wire))+1<<20 {
				t.Fatalf("allocated %d MiB for a limit of %d MiB", alloc>>20, limit>>20)
			}
		})
	}
}

// jsonLike is a payload of size bytes that compresses as chat messages do.
func jsonLike(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b []byte
	for len(b) < size {
		b = fmt.Appendf(b, `{"id":%d,"user":"user%d","text":"message number %d","tags":["a","b"]},`, r.IntN(1e6), r.IntN(50), r.IntN(1000))
	}
	return b[:size]
}

// deflateEchoServer serves an echo on a loopback listener that reads each
// message with ReadFrame (inflating in pieces) and writes it back with
// WriteMessage (compressing). The parameters it agreed go to params.
func deflateEchoServer(t testing.TB, u *Upgrader, params chan<- CompressionParams) string {
	t.Helper()
	return serveUpgrades(t, u, func(c *Conn) {
		if params != nil {
			p, _ := c.Compression()
			params <- p
		}
		var msg []byte
		for {
			f, err := c.ReadFrame()
			if err != nil {
				return
			}
			msg = append(msg, f.Payload...)
			if f.Fin {
				if err := c.WriteMessage(f.Type, msg); err != nil {
					return
				}
				msg = msg[:0]
			}
		}
	})
}

// TestConn_DeflateRoundTrip sends messages of every size through a codec
// echo server, compressed both ways, with every combination of context
// takeover and window sizes.
func TestConn_DeflateRoundTrip(t *testing.T) {
	params := make(chan CompressionParams, 1)
	addr := deflateEchoServer(t, &Upgrader{Compression: &Compression{}, Options: Options{MaxMessageSize: 2 << 20}}, params)
	sizes := []int{0, 1, 127, 128, 4 << 10, 1 << 20}
	bits := []int{0, 9, 12}
	for _, serverNo := range []bool{false, true} {
		for _, clientNo := range []bool{false, true} {
			for _, sb := range bits {
				for _, cb := range bits {
					cfg := &Compression{ServerNoContextTakeover: serverNo, ClientNoContextTakeover: clientNo, ServerMaxWindowBits: sb, ClientMaxWindowBits: cb}
					name := fmt.Sprintf("server_no_takeover=%v/client_no_takeover=%v/server_bits=%d/client_bits=%d", serverNo, clientNo, sb, cb)
					t.Run(name, func(t *testing.T) {
						c, hs, err := (&Dialer{Compression: cfg, Options: Options{MaxMessageSize: 2 << 20}}).Dial(context.Background(), "ws://"+addr+"/")
						if err != nil {
							t.Fatal(err)
						}
						defer c.CloseNow()
						got, ok := c.Compression()
						want := CompressionParams{serverNo, clientNo, max(sb, 0), max(cb, 0)}
						if want.ServerMaxWindowBits == 0 {
							want.ServerMaxWindowBits = 15
						}
						if want.ClientMaxWindowBits == 0 {
							want.ClientMaxWindowBits = 15
						}
						if !ok || got != want || <-params != want {
							t.Fatalf("agreed %+v (%q), want %+v on both sides", got, hs.Extensions, want)
						}
						roundTripJSONLike(t, c, sizes)
					})
				}
			}
		}
	}
	// A compressor at the highest level.
	c := dial(t, addr, &Dialer{Compression: &Compression{Level: 9}})
	<-params
	p := jsonLike(100<<10, 7)
	if err := c.WriteMessage(Binary, p); err != nil {
		t.Fatal(err)
	}
	if _, echo, err := c.ReadMessage(); err != nil || !bytes.Equal(echo, p) {
		t.Fatalf("level 9: %d bytes, %v", len(echo), err)
	}
}

// wireFrame is a frame as written: its first byte and its payload.
type wireFrame struct {
	b0      byte
	payload []byte
}

// parseWire splits unmasked frames.
func parseWire(t *testing.T, b []byte) []wireFrame {
	t.Helper()
	var fs []wireFrame
	for len(b) > 0 {
		h, size, err := parseHeader(b)
		if err != nil || size == 0 || int64(len(b)-size) < h.length {
			t.Fatalf("bad frame in %x: %v", b, err)
		}
		fs = append(fs, wireFrame{b[0], b[size : size+int(h.length)]})
		b = b[size+int(h.length):]
	}
	return fs
}

// TestConn_DeflateWrite checks on the wire which messages go compressed.
func TestConn_DeflateWrite(t *testing.T) {
	random := make([]byte, 1000)
	rand.NewChaCha8([32]byte{1}).Read(random) //nolint:errcheck // never fails
	tests := []struct {
		name     string
		cfg      Compression
		params   CompressionParams
		write    func(c *Conn) error
		wantRSV1 []bool
	}{
		{"threshold: 127 plain, 128 compressed", Compression{}, takeoverParams, func(c *Conn) error {
			return errors.Join(c.WriteMessage(Text, jsonLike(127, 1)), c.WriteMessage(Text, jsonLike(128, 1)))
		}, []bool{false, true}},
		{"negative threshold compresses the empty message", Compression{Threshold: -1}, takeoverParams, func(c *Conn) error {
			return c.WriteMessage(Binary, nil)
		}, []bool{true}},
		{"threshold 1000", Compression{Threshold: 1000}, takeoverParams, func(c *Conn) error {
			return errors.Join(c.WriteMessage(Text, jsonLike(999, 1)), c.WriteMessage(Text, jsonLike(1000, 1)))
		}, []bool{false, true}},
		{"window of 9 bits: 512 bytes at most", Compression{}, CompressionParams{false, false, 9, 15}, func(c *Conn) error {
			return errors.Join(c.WriteMessage(Text, jsonLike(512, 1)), c.WriteMessage(Text, jsonLike(513, 1)))
		}, []bool{true, false}},
		{"incompressible, without takeover: plain", Compression{}, noTakeoverParams, func(c *Conn) error {
			return c.WriteMessage(Binary, random)
		}, []bool{false}},
		{"incompressible, with takeover: compressed all the same", Compression{}, takeoverParams, func(c *Conn) error {
			return c.WriteMessage(Binary, random)
		}, []bool{true}},
		{"frames and control frames are not compressed", Compression{Threshold: -1}, takeoverParams, func(c *Conn) error {
			return errors.Join(c.WriteFrame(true, OpText, jsonLike(500, 1)), c.Ping([]byte("ping")), c.WriteClose(CloseNormal, "bye"))
		}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &recordConn{}
			c := NewConn(w, ServerRole, nil, nil)
			c.enableDeflate(&tt.cfg, "permessage-deflate", tt.params)
			if err := tt.write(c); err != nil {
				t.Fatal(err)
			}
			fs := parseWire(t, w.buf)
			var got []bool
			for _, f := range fs {
				got = append(got, f.b0&rsv1 != 0)
			}
			if !slices.Equal(got, tt.wantRSV1) {
				t.Fatalf("RSV1 of the frames written: %v, want %v", got, tt.wantRSV1)
			}
			// What was written reads back as it was sent.
			r, _ := deflateReader(w.buf, ClientRole, tt.params, nil)
			if _, err := readAll(r, false); err != io.EOF {
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("reading back: %v", err)
				}
			}
		})
	}
}

// TestConn_DeflateIdleHoldsNothing: between messages, a Conn without
// context takeover holds no compressor or decompressor, and one with
// takeover only its compressor and the last window of input.
func TestConn_DeflateIdleHoldsNothing(t *testing.T) {
	for _, tt := range []struct {
		name           string
		params         CompressionParams
		size           int
		wantCompressor bool
		wantDict       int
	}{
		{"takeover", takeoverParams, 50 << 10, true, 32 << 10},
		{"no takeover", noTakeoverParams, 50 << 10, false, 0},
		// The client compresses alone each message that fits its window.
		{"takeover, client window of 10 bits", CompressionParams{false, false, 15, 10}, 1000, false, 1 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := &recordConn{}
			client := NewConn(w, ClientRole, nil, nil)
			client.enableDeflate(&Compression{}, "", tt.params)
			for i := range 3 {
				if err := client.WriteMessage(Text, jsonLike(tt.size, uint64(i))); err != nil {
					t.Fatal(err)
				}
			}
			if fs := len(w.buf); fs > 3*tt.size/2 {
				t.Fatalf("%d bytes written for 3 messages of %d: not compressed", fs, tt.size)
			}
			server, _ := deflateReader(w.buf, ServerRole, tt.params, nil)
			for range 3 {
				if _, _, err := server.ReadMessage(); err != nil {
					t.Fatal(err)
				}
			}
			if (client.fl.out.w != nil) != tt.wantCompressor {
				t.Errorf("compressor held: %v, want %v", client.fl.out.w != nil, tt.wantCompressor)
			}
			in := &server.fl.in
			if in.r != nil || in.piece != nil {
				t.Errorf("decompressor held between messages")
			}
			if len(in.history()) != tt.wantDict || cap(in.dict) > tt.wantDict*5/4 {
				t.Errorf("history of %d bytes (capacity %d), want %d", len(in.history()), cap(in.dict), tt.wantDict)
			}
		})
	}
}

// TestConn_DeflateParkReleasesCompressor: a parked Conn gives up the
// compressor it kept for context takeover, and its next message, which
// starts afresh, reads well on the other side.
func TestConn_DeflateParkReleasesCompressor(t *testing.T) {
	cn, sn := tcpPair(t)
	server := NewConn(sn, ServerRole, &Options{ParkAfter: time.Millisecond}, nil)
	skipUnlessParkable(t, server)
	server.enableDeflate(&Compression{}, "", takeoverParams)
	client := NewConn(cn, ClientRole, nil, nil)
	client.enableDeflate(&Compression{}, "", takeoverParams)
	held := func() bool {
		server.wmu.Lock()
		defer server.wmu.Unlock()
		return server.fl.out.w != nil
	}
	exchange := func(p []byte) {
		t.Helper()
		if err := server.WriteMessage(Text, p); err != nil {
			t.Fatal(err)
		}
		if _, got, err := client.ReadMessage(); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	}
	exchange(jsonLike(4096, 1))
	if !held() {
		t.Fatal("no compressor kept with context takeover")
	}
	type result struct {
		f   Frame
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, _, err := readOrPark(t, server)
		done <- result{f, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); !server.Parked(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never parked")
		}
	}
	if held() {
		t.Fatal("the compressor is still kept while parked")
	}
	exchange(jsonLike(4096, 2))
	if err := client.WriteMessage(Text, []byte("wake up")); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || string(r.f.Payload) != "wake up" {
		t.Fatalf("read %q, %v", r.f.Payload, r.err)
	}
}

// TestConn_DeflateNoLimit: the largest limit does not overflow the
// arithmetic of the inflated and the wire bounds.
func TestConn_DeflateNoLimit(t *testing.T) {
	p := jsonLike(100<<10, 3)
	wire := frameWith(true, rsv1, OpText, deflateBytes(t, p), true)
	for _, frames := range []bool{false, true} {
		c, _ := deflateReader(wire, ServerRole, takeoverParams, &Options{MaxMessageSize: math.MaxInt64})
		got, err := readAll(c, frames)
		if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0].payload, p) {
			t.Fatalf("frames=%v: read %v, %v", frames, got, err)
		}
	}
}

// roundTripJSONLike sends a JSON-like message of each size, as text and
// as binary, and expects each back unchanged before it sends the next.
func roundTripJSONLike(t *testing.T, c *Conn, sizes []int) {
	t.Helper()
	for i, size := range sizes {
		for _, typ := range []MessageType{Text, Binary} {
			p := jsonLike(size, uint64(i))
			if err := c.WriteMessage(typ, p); err != nil {
				t.Fatal(err)
			}
			gotTyp, echo, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			if gotTyp != typ || !bytes.Equal(echo, p) {
				t.Fatalf("%d bytes of %v: got %d bytes of %v back", size, typ, len(echo), gotTyp)
			}
		}
	}
}
