package codec

import (
	"bytes"
	"compress/flate"
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
		got, err := readAllMessages(t, c, limits.MaxMessageSize)
		gotEnd := endOf(t, err)

		want, wantEnd := modelRead(data, limits.MaxMessageSize, limits.MaxFrameSize)
		if !slices.EqualFunc(got, want, modelMessage.equal) || gotEnd != wantEnd {
			t.Fatalf("ReadMessage gave %v then %s\nthe model says %v then %s", got, gotEnd, want, wantEnd)
		}

		// The same stream, frame by frame.
		fc, fnc := newConn()
		checkFramesMatch(t, fc, fnc, nc, limits.MaxFrameSize, got, gotEnd)
	})
}

// checkFramesMatch reads the stream again frame by frame with fc, which
// wrote to fnc, and checks that the frames assemble into the messages
// that ReadMessage got from the same stream, end the same way, stay
// within the frame limit, and that both wrote the same (pongs, closes)
// as ReadMessage's nc.
func checkFramesMatch(t *testing.T, fc *Conn, fnc, nc *streamConn, maxFrame int64, got []modelMessage, gotEnd modelEnd) {
	t.Helper()
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
		if int64(len(fr.Payload)) > maxFrame {
			t.Fatalf("frame of %d bytes over the limit of %d", len(fr.Payload), maxFrame)
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
	msgs, end, _ := modelReadDeflate(data, maxMessage, maxFrame, nil)
	return msgs, end
}

// modelDeflate is permessage-deflate for modelReadDeflate: whether the
// client takes over its context, and the history it refers to.
type modelDeflate struct {
	takeover bool
	history  []byte
}

// modelReadDeflate is modelRead with permessage-deflate agreed when fl is
// not nil. A compressed message is inflated whole once its last frame is
// in, in one go with compress/flate: when the stream ends inside one (or
// a frame after its start breaks the protocol), a Conn, which inflates as
// the frames come, may have failed on the output so far instead; alt is
// that end, or "".
func modelReadDeflate(data []byte, maxMessage, maxFrame int64, fl *modelDeflate) (msgs []modelMessage, end, alt modelEnd) {
	var msg []byte
	var typ MessageType
	inMessage, compressed := false, false
	stop := func(e modelEnd) ([]modelMessage, modelEnd, modelEnd) {
		if inMessage && compressed {
			_, alt = fl.inflate(msg, false, maxMessage, typ)
		}
		return msgs, e, alt
	}
	for {
		if len(data) < 2 {
			return stop(endEOF)
		}
		b0, b1 := data[0], data[1]
		finBit, op, masked := b0&0x80 != 0, Opcode(b0&0x0f), b1&0x80 != 0
		// RSV1 may start a compressed message, nothing else.
		rsvOK := b0&0x70 == 0 || fl != nil && b0&0x70 == 0x40 && (op == OpText || op == OpBinary)
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
		case !rsvOK, !masked:
			return stop(failed(CloseProtocolError))
		case op == OpClose || op == OpPing || op == OpPong:
			if !finBit || length > 125 {
				return stop(failed(CloseProtocolError))
			}
		case op != OpText && op != OpBinary && op != OpContinuation:
			return stop(failed(CloseProtocolError))
		}
		if len(data) < hsize {
			return stop(endEOF)
		}
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(data[2:]))
			if length < 126 {
				return stop(failed(CloseProtocolError))
			}
		case 127:
			length = binary.BigEndian.Uint64(data[2:])
			if length>>63 != 0 || length <= 0xffff {
				return stop(failed(CloseProtocolError))
			}
		}
		switch {
		case op == OpText || op == OpBinary:
			if inMessage {
				return stop(failed(CloseProtocolError))
			}
			typ, msg, compressed = MessageType(op), []byte{}, b0&0x40 != 0
		case op == OpContinuation:
			if !inMessage {
				return stop(failed(CloseProtocolError))
			}
		}
		limit := maxMessage
		if compressed {
			limit = compressedWireLimit(maxMessage)
		}
		if !op.IsControl() && (int64(length) > maxFrame || int64(len(msg))+int64(length) > limit) {
			return stop(failed(CloseMessageTooBig))
		}
		if uint64(len(data)-hsize) < length {
			return stop(endEOF)
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
				return stop(peerClosed(CloseNoStatus))
			case len(payload) == 1:
				return stop(failed(CloseProtocolError))
			}
			code := StatusCode(binary.BigEndian.Uint16(payload))
			if !code.ValidOnWire() {
				return stop(failed(CloseProtocolError))
			}
			if !utf8.Valid(payload[2:]) {
				return stop(failed(CloseInvalidPayload))
			}
			return stop(peerClosed(code))
		}
		msg = append(msg, payload...)
		inMessage = !finBit
		if compressed {
			if !finBit {
				continue
			}
			out, fail := fl.inflate(msg, true, maxMessage, typ)
			if fail != "" {
				return msgs, fail, ""
			}
			msgs = append(msgs, modelMessage{typ, out})
			continue
		}
		if typ == Text && !validPrefix(msg, finBit) {
			return msgs, failed(CloseInvalidPayload), ""
		}
		if finBit {
			msgs = append(msgs, modelMessage{typ, msg})
		}
	}
}

// inflate inflates the payload of a compressed message, whole or the part
// received so far, with compress/flate in one go, and returns the output
// or how it fails the connection ("" if it does not, which for a part
// means that it may yet be valid). A whole message's output joins the
// history.
func (fl *modelDeflate) inflate(payload []byte, whole bool, maxMessage int64, typ MessageType) ([]byte, modelEnd) {
	src := payload
	if whole {
		src = append(slices.Clone(payload), 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	}
	var dict []byte
	if fl.takeover {
		dict = fl.history[max(0, len(fl.history)-32768):]
	}
	fr := flate.NewReaderDict(bytes.NewReader(src), dict)
	out, err := io.ReadAll(io.LimitReader(fr, maxMessage+1))
	switch {
	case typ == Text && !validPrefix(out[:min(int64(len(out)), maxMessage)], false):
		return nil, failed(CloseInvalidPayload)
	case int64(len(out)) > maxMessage:
		return nil, failed(CloseMessageTooBig)
	case err != nil && (whole || !errors.Is(err, io.ErrUnexpectedEOF)):
		return nil, failed(CloseInvalidPayload)
	case (whole || err == nil) && typ == Text && !utf8.Valid(out):
		// The stream is over (a part may end it with a final block): the
		// text must be whole.
		return nil, failed(CloseInvalidPayload)
	case !whole:
		return nil, ""
	}
	if fl.takeover {
		fl.history = append(fl.history, out...)
	}
	return out, ""
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

// readAllMessages reads messages from c until ReadMessage fails, and
// checks what every message must be whatever the input: no longer than
// limit, and UTF-8 if it is text.
func readAllMessages(t *testing.T, c *Conn, limit int64) ([]modelMessage, error) {
	t.Helper()
	var got []modelMessage
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			return got, err
		}
		if int64(len(p)) > limit {
			t.Fatalf("message of %d bytes over the limit of %d", len(p), limit)
		}
		if typ == Text && !utf8.Valid(p) {
			t.Fatalf("invalid UTF-8 text returned: %q", p)
		}
		got = append(got, modelMessage{typ, slices.Clone(p)})
	}
}
