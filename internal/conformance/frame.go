package conformance

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
)

// Opcode is the 4-bit frame opcode of RFC 6455 §5.2.
type Opcode byte

// The opcodes that RFC 6455 defines; 0x3-0x7 and 0xB-0xF are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// String returns "text", "ping", ... or "opcode N" for a reserved opcode.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %d", byte(op))
}

func (op Opcode) isControl() bool { return op&0x8 != 0 }

func (op Opcode) isReserved() bool {
	return (op > OpBinary && op < OpClose) || op > OpPong
}

// The reserved bits as they appear in Frame.RSV.
const (
	RSV1 byte = 4
	RSV2 byte = 2
	RSV3 byte = 1
)

// Frame is one frame as the harness writes it. The harness encodes exactly
// what the fields say, valid or not: an opcode is not checked, a control
// payload may exceed 125 bytes, RSV may be anything from 0 to 7.
type Frame struct {
	Fin     bool
	RSV     byte // RSV1|RSV2|RSV3
	Opcode  Opcode
	Payload []byte
}

// validClose reports whether f is a close frame that a conforming server
// must take as the start of the closing handshake (RFC 6455 §5.5.1, §7.4):
// final, no RSV bits, and a payload that is empty or a code that may be sent
// followed by a UTF-8 reason, 125 bytes at most. Masking is checked by the
// caller.
func (f Frame) validClose() bool {
	if f.Opcode != OpClose || !f.Fin || f.RSV != 0 || len(f.Payload) > 125 {
		return false
	}
	switch len(f.Payload) {
	case 0:
		return true
	case 1:
		return false
	}
	return validCloseCode(int(binary.BigEndian.Uint16(f.Payload))) && utf8.Valid(f.Payload[2:])
}

// validCloseCode reports whether code may appear in a close frame on the wire:
// the codes of RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number"
// registry (1012-1014 were registered after the RFC), and the ranges for
// libraries (3000-3999) and applications (4000-4999). 1004 is reserved,
// 1005, 1006 and 1015 must never be sent, 1016-2999 are unassigned, and
// nothing above 4999 is defined.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// appendFrame appends the encoding of f to dst. When masked, the payload is
// masked with key (RFC 6455 §5.3); f.Payload itself is not modified.
func appendFrame(dst []byte, f Frame, masked bool, key [4]byte) []byte {
	dst = appendHeader(dst, f.Fin, f.RSV, f.Opcode, int64(len(f.Payload)), masked, key)
	start := len(dst)
	dst = append(dst, f.Payload...)
	if masked {
		maskBytes(dst[start:], key, 0)
	}
	return dst
}

// appendHeader appends a frame header with the minimal length encoding.
func appendHeader(dst []byte, fin bool, rsv byte, op Opcode, n int64, masked bool, key [4]byte) []byte {
	b0 := byte(op)&0xF | (rsv&7)<<4
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if masked {
		b1 = 0x80
	}
	switch {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, key[:]...)
	}
	return dst
}

// maskBytes XORs b with key, starting at position pos of the key, and
// returns the position for the bytes that follow b.
func maskBytes(b []byte, key [4]byte, pos int) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// header is a frame header as the server sent it.
type header struct {
	fin    bool
	rsv1   bool // the message is compressed (permessage-deflate only)
	op     Opcode
	length int64
}

// violation is a frame or message from the server that breaks RFC 6455,
// whatever the case expected.
type violation struct{ msg string }

func (v *violation) Error() string { return "server broke RFC 6455: " + v.msg }

func violationf(format string, args ...any) error {
	return &violation{fmt.Sprintf(format, args...)}
}

// readHeader reads the next frame header from the server and checks it as
// strictly as RFC 6455 §5.2 allows: no mask (§5.1), no RSV bit but RSV1
// on a data frame when permessage-deflate was agreed (deflate), a defined
// opcode, control frames final and at most 125 bytes (§5.5), the most
// significant bit of a 64-bit length clear, and the minimal length
// encoding. Whether RSV1 is on the first frame of a message is for the
// caller to check. io.EOF means the server closed the connection at a
// frame boundary.
func readHeader(r io.Reader, scratch *[8]byte, deflate bool) (header, error) {
	b := scratch[:2]
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.ErrUnexpectedEOF {
			return header{}, midHeader(err)
		}
		return header{}, err
	}
	h := header{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, op: Opcode(b[0] & 0xF), length: int64(b[1] & 0x7F)}
	switch rsv := b[0] >> 4 & 7; {
	case rsv == 0:
	case !deflate:
		return h, violationf("%s frame with RSV bits %03b set, but no extension was negotiated (§5.2)", h.op, rsv)
	case rsv != RSV1:
		return h, violationf("%s frame with RSV bits %03b set; permessage-deflate defines only RSV1 (§5.2, RFC 7692 §6)", h.op, rsv)
	case h.op.isControl():
		return h, violationf("%s frame with RSV1 set; control frames are never compressed (RFC 7692 §6.1)", h.op)
	}
	if b[1]&0x80 != 0 {
		return h, violationf("masked %s frame; a server must not mask (§5.1)", h.op)
	}
	if h.op.isReserved() {
		return h, violationf("frame with reserved %s (§5.2)", h.op)
	}
	switch h.length {
	case 126:
		if _, err := io.ReadFull(r, scratch[:2]); err != nil {
			return h, midHeader(err)
		}
		h.length = int64(binary.BigEndian.Uint16(scratch[:2]))
		if h.length < 126 {
			return h, violationf("%s frame length %d in the 16-bit form; the minimal encoding is required (§5.2)", h.op, h.length)
		}
	case 127:
		if _, err := io.ReadFull(r, scratch[:8]); err != nil {
			return h, midHeader(err)
		}
		u := binary.BigEndian.Uint64(scratch[:8])
		if u>>63 != 0 {
			return h, violationf("%s frame with the most significant bit of its 64-bit length set (§5.2)", h.op)
		}
		if u <= 0xFFFF {
			return h, violationf("%s frame length %d in the 64-bit form; the minimal encoding is required (§5.2)", h.op, u)
		}
		h.length = int64(u)
	}
	if h.op.isControl() {
		if !h.fin {
			return h, violationf("fragmented %s frame (§5.5)", h.op)
		}
		if h.length > 125 {
			return h, violationf("%s frame with a %d-byte payload; control payloads are at most 125 bytes (§5.5)", h.op, h.length)
		}
	}
	return h, nil
}

// midFrameClose is the server closing the connection inside a frame.
type midFrameClose struct{ where string }

func (e *midFrameClose) Error() string { return "the TCP connection closed inside a " + e.where }

// midHeader turns the end of the stream inside a frame header into a
// midFrameClose.
func midHeader(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &midFrameClose{"frame header"}
	}
	return err
}
