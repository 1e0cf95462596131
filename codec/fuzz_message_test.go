package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"unicode/utf8"
)

// maskedFrame encodes one frame as a client sends it, masked with a fixed
// key, for the seeds of the message fuzzer.
func maskedFrame(finBit bool, op Opcode, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := make([]byte, maxHeaderSize, maxHeaderSize+len(payload))
	n := putHeader(b, finBit, 0, op, len(payload), &key)
	b = b[:n]
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// FuzzReadMessage feeds a stream of client frames (fragments, control
// frames between them, continuation errors, bad UTF-8, lengths over the
// limits) to a server Conn with small limits, and checks what ReadMessage
// returns against a model of RFC 6455 written independently of the Conn:
// the same messages, then the same end (the end of the input, the
// peer's close with its code, or a failure with the close code that
// RFC 6455 calls for). The same stream read with ReadFrame, assembled by
// hand, must give the same messages and the same bytes on the wire (pongs
// and the close frame). Nothing returned may exceed the limits, and text
// must be valid UTF-8.
func FuzzReadMessage(f *testing.F) {
	frame := maskedFrame
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	f.Add(cat(frame(true, OpText, []byte("hello")), frame(true, OpBinary, []byte{0, 1, 2})), uint16(64), uint16(0), false)
	// Fragments with a ping and a pong between them, then a close.
	f.Add(cat(frame(false, OpText, []byte("fra")), frame(true, OpPing, []byte("p")), frame(false, OpContinuation, []byte("gme")),
		frame(true, OpPong, nil), frame(true, OpContinuation, []byte("nts")), frame(true, OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'})), uint16(64), uint16(4), true)
	// A two-byte character split across fragments, and one cut short.
	f.Add(cat(frame(false, OpText, []byte{0xce}), frame(true, OpContinuation, []byte{0xba})), uint16(64), uint16(0), false)
	f.Add(cat(frame(false, OpText, []byte{0xce}), frame(true, OpContinuation, []byte("x"))), uint16(64), uint16(0), false)
	f.Add(cat(frame(false, OpText, []byte("a\xf0\x9f")), frame(true, OpContinuation, nil)), uint16(64), uint16(0), false)
	// A surrogate, an overlong form, a code point over U+10FFFF.
	f.Add(frame(true, OpText, []byte("\xed\xa0\x80")), uint16(64), uint16(0), false)
	f.Add(frame(true, OpText, []byte("\xc0\xaf")), uint16(64), uint16(0), false)
	f.Add(cat(frame(false, OpText, []byte("\xf4")), frame(true, OpContinuation, []byte("\x90\x80\x80"))), uint16(64), uint16(0), false)
	// Continuation without a message; a new message inside one.
	f.Add(frame(true, OpContinuation, []byte("x")), uint16(64), uint16(0), false)
	f.Add(cat(frame(false, OpBinary, []byte("x")), frame(true, OpText, []byte("y"))), uint16(64), uint16(0), false)
	// Over the message limit only when the fragments add up.
	f.Add(cat(frame(false, OpBinary, bytes.Repeat([]byte{7}, 40)), frame(true, OpContinuation, bytes.Repeat([]byte{8}, 40))), uint16(63), uint16(0), false)
	// A frame over the frame limit, and a 64-bit length with the top bit set.
	f.Add(frame(true, OpBinary, bytes.Repeat([]byte{9}, 300)), uint16(1000), uint16(100), false)
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, uint16(64), uint16(0), false)
	// Non-minimal lengths, a fragmented ping, a long ping, a reserved
	// opcode, a reserved bit, an unmasked frame.
	f.Add([]byte{0x82, 0xfe, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 5}, uint16(64), uint16(0), false)
	f.Add(frame(false, OpPing, nil), uint16(64), uint16(0), false)
	f.Add(frame(true, OpPing, bytes.Repeat([]byte{1}, 126)), uint16(200), uint16(0), false)
	f.Add(frame(true, Opcode(0x3), nil), uint16(64), uint16(0), false)
	f.Add([]byte{0xc1, 0x80, 0, 0, 0, 0}, uint16(64), uint16(0), false)
	f.Add([]byte{0x81, 0x01, 'x'}, uint16(64), uint16(0), false)
	// Close payloads: empty, one byte, a code not for the wire, a bad reason.
	f.Add(frame(true, OpClose, nil), uint16(64), uint16(0), false)
	f.Add(frame(true, OpClose, []byte{3}), uint16(64), uint16(0), false)
	f.Add(frame(true, OpClose, []byte{0x03, 0xed}), uint16(64), uint16(0), false)
	f.Add(frame(true, OpClose, []byte{0x03, 0xe8, 0xff}), uint16(64), uint16(0), false)
	// Large enough to take the path of payloads over the read buffer.
	f.Add(cat(frame(false, OpBinary, []byte{1}), frame(true, OpContinuation, bytes.Repeat([]byte{2}, 16400))), uint16(20000), uint16(0), false)
	// Cut inside a header, inside a payload.
	f.Add(frame(true, OpText, []byte("hello"))[:4], uint16(64), uint16(0), false)
	f.Add(frame(true, OpText, []byte("hello"))[:9], uint16(64), uint16(0), true)

	f.Fuzz(func(t *testing.T, data []byte, maxMessage, maxFrame uint16, split bool) {
		opts := &Options{MaxMessageSize: int64(maxMessage) + 1, MaxFrameSize: int64(maxFrame)}
		limits := opts.withDefaults()
		newConn := func() (*Conn, *streamConn) {
			var r io.Reader = bytes.NewReader(data)
			if split {
				r = &oneByteReader{data: data}
			}
			nc := &streamConn{r: r}
			return NewConn(nc, ServerRole, opts, nil), nc
		}

		c, nc := newConn()
		var got []modelMessage
		var err error
		for {
			var typ MessageType
			var p []byte
			typ, p, err = c.ReadMessage()
			if err != nil {
				break
			}
			if int64(len(p)) > limits.MaxMessageSize {
				t.Fatalf("message of %d bytes over the limit of %d", len(p), limits.MaxMessageSize)
			}
			if typ == Text && !utf8.Valid(p) {
				t.Fatalf("invalid UTF-8 text returned: %q", p)
			}
			got = append(got, modelMessage{typ, slices.Clone(p)})
		}
		gotEnd := endOf(t, err)

		want, wantEnd := modelRead(data, limits.MaxMessageSize, limits.MaxFrameSize)
		if !slices.EqualFunc(got, want, modelMessage.equal) || gotEnd != wantEnd {
			t.Fatalf("ReadMessage gave %v then %s\nthe model says %v then %s", got, gotEnd, want, wantEnd)
		}

		// The same stream, frame by frame.
		fc, fnc := newConn()
		var framed []modelMessage
		var cur []byte
		for {
			fr, err := fc.ReadFrame()
			if err != nil {
				if end := endOf(t, err); end != gotEnd {
					t.Fatalf("ReadFrame ended with %s, ReadMessage with %s", end, gotEnd)
				}
				break
			}
			if int64(len(fr.Payload)) > limits.MaxFrameSize {
				t.Fatalf("frame of %d bytes over the limit of %d", len(fr.Payload), limits.MaxFrameSize)
			}
			cur = append(cur, fr.Payload...)
			if fr.Fin {
				framed = append(framed, modelMessage{fr.Type, cur})
				cur = nil
			}
		}
		if !slices.EqualFunc(framed, got, modelMessage.equal) {
			t.Fatalf("ReadFrame assembled %v, ReadMessage read %v", framed, got)
		}
		if !bytes.Equal(fnc.out.Bytes(), nc.out.Bytes()) {
			t.Fatalf("ReadFrame wrote %q, ReadMessage %q", fnc.out.Bytes(), nc.out.Bytes())
		}
	})
}

type modelMessage struct {
	typ     MessageType
	payload []byte
}

func (m modelMessage) equal(o modelMessage) bool {
	return m.typ == o.typ && bytes.Equal(m.payload, o.payload)
}

func (m modelMessage) String() string {
	if len(m.payload) > 32 {
		return fmt.Sprintf("%s(%d bytes)", m.typ, len(m.payload))
	}
	return fmt.Sprintf("%s(%q)", m.typ, m.payload)
}

// modelEnd is how a read of a stream ended.
type modelEnd string

// endEOF is the end of the input. Whether the Conn reports a cut inside a
// frame as io.ErrUnexpectedEOF or as io.EOF is not compared: when the
// whole payload of one or two bytes is missing it returns io.EOF (fill
// tells a frame boundary by the size it waits for).
const endEOF modelEnd = "EOF"

func peerClosed(code StatusCode) modelEnd { return modelEnd(fmt.Sprintf("peer closed with %d", code)) }
func failed(code StatusCode) modelEnd     { return modelEnd(fmt.Sprintf("failed with %d", code)) }

// endOf classifies the error that ended a read, failing t on an error a
// read of a byte stream must not return.
func endOf(t *testing.T, err error) modelEnd {
	t.Helper()
	var ce *CloseError
	var pe *ProtocolError
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return endEOF
	case errors.As(err, &ce):
		return peerClosed(ce.Code)
	case errors.As(err, &pe):
		if !pe.Code.ValidOnWire() {
			t.Fatalf("failed with code %d, not valid on the wire", pe.Code)
		}
		return failed(pe.Code)
	}
	t.Fatalf("read ended with %T %v", err, err)
	return ""
}

// modelRead reads the client frames in data as RFC 6455 says a server
// must, straight from the byte slice: the data messages, then how the
// stream ended. A text message fails as soon as its bytes so far cannot
// begin valid UTF-8.
func modelRead(data []byte, maxMessage, maxFrame int64) ([]modelMessage, modelEnd) {
	var msgs []modelMessage
	var msg []byte
	var typ MessageType
	inMessage := false
	for {
		if len(data) == 0 {
			return msgs, endEOF
		}
		if len(data) < 2 {
			return msgs, endEOF
		}
		b0, b1 := data[0], data[1]
		finBit, op, masked := b0&0x80 != 0, Opcode(b0&0x0f), b1&0x80 != 0
		hsize, length := 2, uint64(b1&0x7f)
		switch length {
		case 126:
			hsize += 2
		case 127:
			hsize += 8
		}
		if masked {
			hsize += 4
		}
		// What the first two bytes decide fails the connection before the
		// rest of the header is read.
		switch {
		case b0&0x70 != 0, !masked:
			return msgs, failed(CloseProtocolError)
		case op == OpClose || op == OpPing || op == OpPong:
			if !finBit || length > 125 {
				return msgs, failed(CloseProtocolError)
			}
		case op != OpText && op != OpBinary && op != OpContinuation:
			return msgs, failed(CloseProtocolError)
		}
		if len(data) < hsize {
			return msgs, endEOF
		}
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(data[2:]))
			if length < 126 {
				return msgs, failed(CloseProtocolError)
			}
		case 127:
			length = binary.BigEndian.Uint64(data[2:])
			if length>>63 != 0 || length <= 0xffff {
				return msgs, failed(CloseProtocolError)
			}
		}
		switch {
		case b0&0x70 != 0, !masked:
			return msgs, failed(CloseProtocolError)
		case op.IsControl() && op <= OpPong:
			if !finBit || length > 125 {
				return msgs, failed(CloseProtocolError)
			}
		case op == OpText || op == OpBinary:
			if inMessage {
				return msgs, failed(CloseProtocolError)
			}
			typ, msg = MessageType(op), []byte{}
		case op == OpContinuation:
			if !inMessage {
				return msgs, failed(CloseProtocolError)
			}
		default:
			return msgs, failed(CloseProtocolError)
		}
		if !op.IsControl() && (int64(length) > maxFrame || int64(len(msg))+int64(length) > maxMessage) {
			return msgs, failed(CloseMessageTooBig)
		}
		if uint64(len(data)-hsize) < length {
			return msgs, endEOF
		}
		payload := slices.Clone(data[hsize : hsize+int(length)])
		key := data[hsize-4 : hsize]
		for i := range payload {
			payload[i] ^= key[i%4]
		}
		data = data[hsize+int(length):]

		switch op {
		case OpPing, OpPong:
			continue
		case OpClose:
			switch {
			case len(payload) == 0:
				return msgs, peerClosed(CloseNoStatus)
			case len(payload) == 1:
				return msgs, failed(CloseProtocolError)
			}
			code := StatusCode(binary.BigEndian.Uint16(payload))
			if !code.ValidOnWire() {
				return msgs, failed(CloseProtocolError)
			}
			if !utf8.Valid(payload[2:]) {
				return msgs, failed(CloseInvalidPayload)
			}
			return msgs, peerClosed(code)
		}
		msg = append(msg, payload...)
		if typ == Text && !validPrefix(msg, finBit) {
			return msgs, failed(CloseInvalidPayload)
		}
		inMessage = !finBit
		if finBit {
			msgs = append(msgs, modelMessage{typ, msg})
		}
	}
}

// validPrefix reports whether p is valid UTF-8 (whole) or, unless whole,
// can be made valid UTF-8 by appending bytes: it is valid up to a last
// incomplete sequence that some continuation bytes would complete.
func validPrefix(p []byte, whole bool) bool {
	if utf8.Valid(p) {
		return true
	}
	if whole {
		return false
	}
	// The last incomplete sequence starts at the last lead byte, in the
	// last three bytes.
	j := len(p) - 1
	for j > 0 && j > len(p)-3 && !utf8.RuneStart(p[j]) {
		j--
	}
	head, tail := p[:j], p[j:]
	if !utf8.Valid(head) {
		return false
	}
	// Only the byte after the lead byte has a range narrower than
	// 0x80-0xbf, so trying each value for the next byte, and the smallest
	// continuation after it, finds a completion if there is one.
	for next := byte(0x80); next <= 0xbf; next++ {
		try := append(append(slices.Clone(tail), next), 0x80, 0x80)
		if r, size := utf8.DecodeRune(try); r != utf8.RuneError && size > len(tail) {
			return true
		}
	}
	return false
}
