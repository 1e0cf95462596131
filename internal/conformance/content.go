package conformance

import (
	"io"
	"unicode/utf8"
)

// textPattern is repeated to make text payloads of any size. It holds 2-,
// 3- and 4-byte sequences, and its length (45 bytes) does not divide 64 KiB,
// so the frame boundaries of a message cut in 64 KiB frames fall inside
// characters as well as between them.
const textPattern = "wasmgate ✓ κόσμε 𝄞 ok—0123456789 "

// content is the payload of a generated message. Byte i depends only on i
// and the size, so the harness regenerates it to compare an echo instead of
// keeping a copy of what it sent.
type content struct {
	text bool
	size int64
	// tail is, for text, the last partial repeat of textPattern with a
	// character that the end of the message cuts replaced by '.', so every
	// text content is valid UTF-8 of exactly size bytes.
	tail []byte
}

func newContent(op Opcode, size int64) content {
	c := content{text: op == OpText, size: size}
	if c.text {
		tail := []byte(textPattern[:size%int64(len(textPattern))])
		for i := len(tail) - 1; i >= 0 && i >= len(tail)-utf8.UTFMax; i-- {
			if utf8.RuneStart(tail[i]) {
				if !utf8.FullRune(tail[i:]) {
					for j := i; j < len(tail); j++ {
						tail[j] = '.'
					}
				}
				break
			}
		}
		c.tail = tail
	}
	return c
}

// fill writes bytes [off, off+len(dst)) of the content into dst.
func (c content) fill(dst []byte, off int64) {
	if !c.text {
		for i := range dst {
			// A multiplicative hash of the position: every byte value
			// occurs, and no short period hides a misplaced chunk.
			dst[i] = byte(uint32(off+int64(i)) * 2654435761 >> 24)
		}
		return
	}
	tailStart := c.size - int64(len(c.tail))
	for i := range dst {
		p := off + int64(i)
		if p >= tailStart {
			dst[i] = c.tail[p-tailStart]
		} else {
			dst[i] = textPattern[p%int64(len(textPattern))]
		}
	}
}

// bytes returns the whole content; for small messages only.
func (c content) bytes() []byte {
	b := make([]byte, c.size)
	c.fill(b, 0)
	return b
}

// contentReader reads a content from the start.
type contentReader struct {
	c   content
	off int64
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.off >= r.c.size {
		return 0, io.EOF
	}
	if rest := r.c.size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	r.c.fill(p, r.off)
	r.off += int64(len(p))
	return len(p), nil
}

// payload returns n bytes of generated content for a message of type op:
// valid UTF-8 for text.
func payload(op Opcode, n int) []byte { return newContent(op, int64(n)).bytes() }
