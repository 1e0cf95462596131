package codec

import (
	"bytes"
	"compress/flate"
	"io"
	"slices"
	"testing"
)

// zeroMasked encodes a client frame masked with the key 0, so that the
// fuzzer's changes to a payload are changes to the payload.
func zeroMasked(finBit bool, rsv byte, op Opcode, payload []byte) []byte {
	b := make([]byte, maxHeaderSize, maxHeaderSize+len(payload))
	return append(b[:putHeader(b, finBit, rsv, op, len(payload), &[4]byte{})], payload...)
}

// FuzzInflateMessage feeds a stream of client frames to a server Conn
// that agreed permessage-deflate, with or without the client's context
// takeover, and small limits. What ReadMessage returns must match a model
// that inflates each whole compressed message with compress/flate in one
// go (modelReadDeflate): the same messages, then the same end, or, when
// the stream ends inside a compressed message, the failure that the
// output so far already called for. Nothing may exceed the limits, text
// must be valid UTF-8, and ReadFrame, whose pieces must fit MaxFrameSize,
// must give the same messages, end and bytes on the wire.
func FuzzInflateMessage(f *testing.F) {
	frame := zeroMasked
	z := func(p []byte) []byte { return deflateBytes(f, p) }
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	f.Add(frame(true, rsv1, OpText, hello), uint16(64), uint16(0), false, true)
	// RFC 7692, section 7.2.3: a shared window, a stored block, a final
	// block and a byte after it, two blocks, the empty message.
	f.Add(cat(frame(true, rsv1, OpText, hello), frame(true, rsv1, OpText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})), uint16(64), uint16(0), false, true)
	f.Add(cat(frame(true, rsv1, OpText, hello), frame(true, rsv1, OpText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})), uint16(64), uint16(0), false, false)
	f.Add(frame(true, rsv1, OpText, []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}), uint16(64), uint16(0), true, true)
	f.Add(frame(true, rsv1, OpText, []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpBinary, []byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpBinary, []byte{0x00}), uint16(64), uint16(0), false, true)
	// Fragmented, with a ping inside; and cut short before its end.
	long := z(bytes.Repeat([]byte("fragments of a compressed text "), 20))
	f.Add(cat(frame(false, rsv1, OpText, long[:5]), frame(true, 0, OpPing, []byte("p")), frame(true, 0, OpContinuation, long[5:])), uint16(1000), uint16(0), false, true)
	f.Add(cat(frame(false, rsv1, OpText, long[:5]), frame(false, 0, OpContinuation, long[5:9])), uint16(1000), uint16(0), true, true)
	// Compressed and plain messages in turn, sharing the window.
	f.Add(cat(frame(true, rsv1, OpText, z([]byte("a compressed text"))), frame(true, 0, OpBinary, []byte{1, 2, 3}),
		frame(true, rsv1, OpText, z([]byte("a compressed text again")))), uint16(200), uint16(0), false, true)
	// Over the limit once inflated: a small bomb.
	f.Add(frame(true, rsv1, OpBinary, z(make([]byte, 1<<16))), uint16(1000), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpBinary, z(make([]byte, 1<<16))), uint16(65535), uint16(0), false, false)
	// Invalid data, invalid UTF-8, cut inside a character.
	f.Add(frame(true, rsv1, OpBinary, []byte{0xff, 0xff, 0xff}), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpText, z([]byte("bad \xff text"))), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpText, z([]byte("cut \xce"))), uint16(64), uint16(0), false, true)
	// RSV1 where it may not be.
	f.Add(cat(frame(false, rsv1, OpText, hello[:3]), frame(true, rsv1, OpContinuation, hello[3:])), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1, OpPing, nil), uint16(64), uint16(0), false, true)
	f.Add(frame(true, rsv1|rsv2, OpText, hello), uint16(64), uint16(0), false, true)
	// Empty blocks past the wire limit.
	f.Add(frame(true, rsv1, OpBinary, bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 40)), uint16(64), uint16(0), false, true)
	// Larger than the read buffer, in small pieces.
	big := make([]byte, 40000)
	for i := range big {
		big[i] = byte(i * i >> 3)
	}
	f.Add(frame(true, rsv1, OpBinary, z(big)), uint16(50000), uint16(3000), false, true)

	f.Fuzz(func(t *testing.T, data []byte, maxMessage, maxFrame uint16, split, takeover bool) {
		opts := &Options{MaxMessageSize: int64(maxMessage) + 1, MaxFrameSize: int64(maxFrame)}
		limits := opts.withDefaults()
		params := CompressionParams{ClientNoContextTakeover: !takeover, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		newConn := func() (*Conn, *streamConn) {
			var r io.Reader = bytes.NewReader(data)
			if split {
				r = &oneByteReader{data: data}
			}
			nc := &streamConn{r: r}
			c := NewConn(nc, ServerRole, opts, nil)
			c.enableDeflate(&Compression{}, "permessage-deflate", params)
			return c, nc
		}

		c, nc := newConn()
		got, err := readAllMessages(t, c, limits.MaxMessageSize)
		gotEnd := endOf(t, err)

		want, wantEnd, alt := modelReadDeflate(data, limits.MaxMessageSize, limits.MaxFrameSize, &modelDeflate{takeover: takeover})
		if !slices.EqualFunc(got, want, modelMessage.equal) || gotEnd != wantEnd && (alt == "" || gotEnd != alt) {
			t.Fatalf("ReadMessage gave %v then %s\nthe model says %v then %s (or %q)", got, gotEnd, want, wantEnd, alt)
		}

		fc, fnc := newConn()
		checkFramesMatch(t, fc, fnc, nc, limits.MaxFrameSize, got, gotEnd)
	})
}

// The model must agree with the Conn on what a bomb is, or the fuzzer
// compares nothing: a sanity check of modelDeflate itself.
func TestModelDeflate(t *testing.T) {
	fl := &modelDeflate{takeover: true}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write([]byte("hello hello")) //nolint:errcheck // a bytes.Buffer does not fail
	w.Flush()                      //nolint:errcheck // same
	payload := bytes.TrimSuffix(b.Bytes(), syncMarker)
	if out, end := fl.inflate(payload, true, 100, Text); end != "" || string(out) != "hello hello" {
		t.Fatalf("inflate: %q, %s", out, end)
	}
	if _, end := fl.inflate(payload, true, 5, Binary); end != failed(CloseMessageTooBig) {
		t.Fatalf("over the limit: %s", end)
	}
	if _, end := fl.inflate(payload[:2], false, 100, Text); end != "" {
		t.Fatalf("a valid part: %s", end)
	}
}
