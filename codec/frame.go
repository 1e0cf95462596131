package codec

import (
	"encoding/binary"
	"strconv"
)

// Opcode is the 4-bit frame opcode of RFC 6455, section 5.2.
type Opcode byte

// The opcodes defined by RFC 6455. All others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xa
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

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
	return "opcode(" + strconv.Itoa(int(op)) + ")"
}

// MessageType is the type of a data message: text or binary.
type MessageType byte

// The two kinds of data message. Their values equal the opcodes of their
// first frame.
const (
	Text   MessageType = MessageType(OpText)
	Binary MessageType = MessageType(OpBinary)
)

func (t MessageType) String() string { return Opcode(t).String() }

// Reserved bits of the first header byte.
const (
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10
	fin  = 0x80
)

// maxHeaderSize is the largest frame header: 2 bytes, 8 bytes of extended
// length and a 4-byte mask key.
const maxHeaderSize = 14

// maxControlPayload is the largest payload a control frame may carry
// (RFC 6455, section 5.5).
const maxControlPayload = 125

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin    bool
	rsv    byte // the three reserved bits, in place (0x70 mask)
	op     Opcode
	masked bool
	mask   [4]byte
	length int64
}

// parseHeader parses a frame header from the start of b. It returns the
// header and its encoded size, or size 0 when b does not hold a whole header
// yet. A length with the most significant bit set (RFC 6455, section 5.2)
// and non-minimal length encodings are protocol errors.
func parseHeader(b []byte) (h frameHeader, size int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.fin = b[0]&fin != 0
	h.rsv = b[0] & (rsv1 | rsv2 | rsv3)
	h.op = Opcode(b[0] & 0x0f)
	h.masked = b[1]&0x80 != 0
	size = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		size += 2
	case 127:
		size += 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		size += 4
	}
	if len(b) < size {
		return h, 0, nil
	}
	switch b[1] & 0x7f {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:4]))
		if h.length < 126 {
			return h, size, protocolError(CloseProtocolError, "non-minimal 16-bit payload length")
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, size, protocolError(CloseProtocolError, "payload length has its most significant bit set")
		}
		h.length = int64(u)
		if h.length <= 0xffff {
			return h, size, protocolError(CloseProtocolError, "non-minimal 64-bit payload length")
		}
	}
	if h.masked {
		copy(h.mask[:], b[size-4:size])
	}
	return h, size, nil
}

// putHeader encodes a frame header into b, which must hold maxHeaderSize
// bytes, and returns the encoded size.
func putHeader(b []byte, finBit bool, rsv byte, op Opcode, length int, mask *[4]byte) int {
	b[0] = byte(op) | rsv
	if finBit {
		b[0] |= fin
	}
	n := 2
	switch {
	case length < 126:
		b[1] = byte(length)
	case length <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:4], uint16(length))
		n = 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:10], uint64(length))
		n = 10
	}
	if mask != nil {
		b[1] |= 0x80
		copy(b[n:n+4], mask[:])
		n += 4
	}
	return n
}
