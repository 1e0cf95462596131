package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// This file is the harness's own raw DEFLATE (RFC 1951) for
// permessage-deflate (RFC 7692). compress/flate cannot serve: its reader
// always keeps a 32 KiB window, so it cannot tell whether the server kept
// to server_max_window_bits or server_no_context_takeover, and its writer
// cannot be told to keep within client_max_window_bits. The deflater
// writes back-references up to the agreed window and no farther, so a
// server whose inflater keeps too little history fails; the inflater
// checks every back-reference of the server against the agreement.

// The tail that RFC 7692 §7.2.1 has the sender remove from the end of a
// message's data (the LEN and NLEN of the empty stored block of a sync
// flush) and §7.2.2 has the receiver append again.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

const (
	minMatch   = 3
	maxMatch   = 258
	maxStored  = 65535 // the longest stored block: LEN is 16 bits
	maxChain   = 8     // hash-chain candidates tried at each position
	niceMatch  = 128   // a match this long ends the search
	hashBits   = 15
	endOfBlock = 256 // the end-of-block symbol
)

// Base values and extra bits of the length symbols 257-285 and of the
// distance symbols 0-29 (RFC 1951 §3.2.5).
var (
	lengthBase = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// fixedLitLengths are the code lengths of the fixed literal/length code
// (RFC 1951 §3.2.6); the fixed distance code gives all 32 symbols 5 bits.
var fixedLitLengths = func() (l [288]uint8) {
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	return l
}()

// fixedLitCodes are the fixed literal/length codes, bit-reversed so that a
// writer that fills bytes from the least significant bit can send them as
// they are (RFC 1951 §3.1.1: Huffman codes go most significant bit first).
var fixedLitCodes = func() (c [288]uint16) {
	next := [10]int{7: 0, 8: 0b00110000, 9: 0b110010000}
	for i, l := range fixedLitLengths {
		code := next[l]
		if i == 280 {
			code = 0b11000000 // the 8-bit codes of 280-287 follow the 7-bit ones
		}
		next[l] = code + 1
		c[i] = reverseBits(code, uint(l))
	}
	return c
}()

// lengthSymbol maps a match length minus 3 to its length symbol minus 257.
var lengthSymbol = func() (s [maxMatch - minMatch + 1]uint8) {
	for sym := range len(lengthBase) - 1 {
		for l := lengthBase[sym]; l < lengthBase[sym]+1<<lengthExtra[sym]; l++ {
			s[l-minMatch] = uint8(sym)
		}
	}
	// 284 with 31 extra bits would also make 258, but RFC 1951 §3.2.5
	// gives 284 the lengths 227-257 and 258 its own symbol.
	s[maxMatch-minMatch] = uint8(len(lengthBase) - 1)
	return s
}()

// distSymbol returns the distance symbol (0-29) of distance d (1-32768).
func distSymbol(d int) int {
	if d <= 4 {
		return d - 1
	}
	n := bits.Len(uint(d - 1)) // 3..15
	return 2*(n-1) + int((d-1)>>(n-2))&1
}

func reverseBits(code int, n uint) uint16 {
	return bits.Reverse16(uint16(code)) >> (16 - n)
}

// deflater compresses the messages of one direction of a connection as
// RFC 7692 §7.2.1 says, with back-references that reach as far as the
// window allows: the harness's messages are meant to catch a server that
// keeps less history than it agreed to. It uses greedy matching over hash
// chains, fixed-Huffman blocks, and stored blocks where they are shorter.
type deflater struct {
	window   int  // 1<<bits: the farthest a back-reference may reach
	takeover bool // whether history carries over between messages

	// buf holds the last window bytes of the earlier messages (with
	// takeover), and during compress the message after them.
	buf  []byte
	head []int32 // hash of 3 bytes -> last position in buf with it, plus 1
	// prev[p%window] is the position before p with the hash of p, plus 1.
	// A ring of window entries is enough: a chain is followed only while
	// it stays within the window, and the entry of a position in the
	// window is not yet overwritten.
	prev   []int32
	tokens []uint32 // literal byte, or matchFlag|length<<16|distance
}

const matchFlag = 1 << 31

// newDeflater returns a deflater for a window of 1<<bits bytes (bits 8 to
// 15, the range of client_max_window_bits) that refers back into earlier
// messages when takeover is set.
func newDeflater(bits int, takeover bool) *deflater {
	if bits < 8 || bits > 15 {
		panic(fmt.Sprintf("conformance: deflate window bits %d outside 8-15", bits))
	}
	return &deflater{
		window:   1 << bits,
		takeover: takeover,
		head:     make([]int32, 1<<hashBits),
		prev:     make([]int32, 1<<bits),
	}
}

// compress appends to dst the data of msg as RFC 7692 §7.2.1 sends it: the
// blocks, ended by a sync flush (an empty stored block) whose last 4
// octets, 0x00 0x00 0xff 0xff, are left off. Every back-reference reaches
// at most the window back and, with takeover, may reach into the earlier
// messages; without it, only into msg.
func (d *deflater) compress(dst, msg []byte) []byte {
	start := len(d.buf) // where msg starts in buf
	d.buf = append(d.buf, msg...)
	clear(d.head)
	for p := range start {
		d.insert(p)
	}

	w := bitWriter{dst: dst}
	for s := start; s < len(d.buf); s += maxStored {
		e := min(s+maxStored, len(d.buf))
		cost := d.tokenize(s, e)
		// A fixed block costs its 3-bit header, the codes and the
		// end-of-block code; a stored one its header, the padding to a
		// byte, LEN, NLEN and the bytes themselves.
		fixed := 3 + cost + 7
		stored := 3 + (8-(w.n+3)%8)%8 + 32 + 8*(e-s)
		if fixed < stored {
			d.writeFixed(&w)
		} else {
			w.writeStored(d.buf[s:e])
		}
	}
	// The sync flush: the header of an empty stored block (BFINAL 0,
	// BTYPE 00) and the padding to a byte; LEN and NLEN are what §7.2.1
	// removes.
	w.writeBits(0, 3)
	w.align()

	keep := 0
	if d.takeover {
		keep = min(len(d.buf), d.window)
	}
	copy(d.buf, d.buf[len(d.buf)-keep:])
	d.buf = d.buf[:keep]
	// A big message should not pin its buffers for the rest of the
	// connection.
	if cap(d.buf) > 4*d.window+64<<10 {
		d.buf = append([]byte(nil), d.buf...)
		d.tokens = nil
	}
	return w.dst
}

// insert adds position p of buf to the hash chains.
func (d *deflater) insert(p int) {
	if p+minMatch > len(d.buf) {
		return
	}
	h := hash3(d.buf[p:])
	d.prev[p&(d.window-1)] = d.head[h]
	d.head[h] = int32(p + 1)
}

func hash3(b []byte) uint32 {
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return (v * 0x9E3779B1) >> (32 - hashBits)
}

// tokenize turns buf[s:e] into literals and matches in d.tokens, the
// longest match at each position (greedy), and returns their cost in bits
// under the fixed code. Matches end at e so that the span can go into a
// stored block instead when that is shorter.
func (d *deflater) tokenize(s, e int) int {
	buf := d.buf
	d.tokens = d.tokens[:0]
	cost := 0
	for p := s; p < e; {
		bestLen, bestDist := 0, 0
		if limit := min(maxMatch, e-p); limit >= minMatch {
			chain := 0
			for c := int(d.head[hash3(buf[p:])]) - 1; c >= 0 && chain < maxChain; c = int(d.prev[c&(d.window-1)]) - 1 {
				dist := p - c
				if dist > d.window {
					break // the chain runs from the nearest position to the farthest
				}
				chain++
				if buf[c+bestLen] != buf[p+bestLen] {
					continue
				}
				if n := matchLen(buf[c:], buf[p:], limit); n > bestLen {
					bestLen, bestDist = n, dist
					if n >= min(limit, niceMatch) {
						break
					}
				}
			}
		}
		if bestLen < minMatch {
			d.tokens = append(d.tokens, uint32(buf[p]))
			cost += int(fixedLitLengths[buf[p]])
			d.insert(p)
			p++
			continue
		}
		d.tokens = append(d.tokens, matchFlag|uint32(bestLen)<<16|uint32(bestDist))
		ls, ds := lengthSymbol[bestLen-minMatch], distSymbol(bestDist)
		cost += int(fixedLitLengths[257+int(ls)]) + int(lengthExtra[ls]) + 5 + int(distExtra[ds])
		for i := range bestLen {
			d.insert(p + i)
		}
		p += bestLen
	}
	return cost
}

// matchLen returns how many bytes, up to limit, a and b have in common
// at their start; both are at least limit long.
func matchLen(a, b []byte, limit int) int {
	n := 0
	for ; n+8 <= limit; n += 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
	}
	for n < limit && a[n] == b[n] {
		n++
	}
	return n
}

// writeFixed writes d.tokens as one fixed-Huffman block (BFINAL 0).
func (d *deflater) writeFixed(w *bitWriter) {
	w.writeBits(0b010, 3) // BFINAL 0, BTYPE 01
	for _, t := range d.tokens {
		if t&matchFlag == 0 {
			w.writeBits(uint64(fixedLitCodes[t]), uint(fixedLitLengths[t]))
			continue
		}
		length, dist := int(t>>16&0x1ff), int(t&0xffff)
		ls, ds := int(lengthSymbol[length-minMatch]), distSymbol(dist)
		w.writeBits(uint64(fixedLitCodes[257+ls]), uint(fixedLitLengths[257+ls]))
		w.writeBits(uint64(length-lengthBase[ls]), lengthExtra[ls])
		w.writeBits(uint64(reverseBits(ds, 5)), 5)
		w.writeBits(uint64(dist-distBase[ds]), distExtra[ds])
	}
	w.writeBits(uint64(fixedLitCodes[endOfBlock]), uint(fixedLitLengths[endOfBlock]))
}

// compressedZeros returns the data of a message of n zero bytes (n > 0)
// as compress would send it without history: a literal zero, then matches
// at distance 1, in one fixed-Huffman block. It is built directly rather
// than searched for, so that a bomb of many megabytes costs microseconds
// per megabyte to make, even under the race detector.
func compressedZeros(n int) []byte {
	var w bitWriter
	w.writeBits(0b010, 3) // BFINAL 0, BTYPE 01
	for first := true; n > 0; first = false {
		if first || n < minMatch {
			w.writeBits(uint64(fixedLitCodes[0]), uint(fixedLitLengths[0]))
			n--
			continue
		}
		length := min(n, maxMatch)
		ls := int(lengthSymbol[length-minMatch])
		w.writeBits(uint64(fixedLitCodes[257+ls]), uint(fixedLitLengths[257+ls]))
		w.writeBits(uint64(length-lengthBase[ls]), lengthExtra[ls])
		w.writeBits(0, 5) // distance symbol 0: distance 1, no extra bits
		n -= length
	}
	w.writeBits(uint64(fixedLitCodes[endOfBlock]), uint(fixedLitLengths[endOfBlock]))
	w.writeBits(0, 3) // the sync flush, as in compress
	w.align()
	return w.dst
}

// bitWriter appends bits to dst from the least significant bit of each
// byte up, as RFC 1951 §3.1.1 packs them.
type bitWriter struct {
	dst  []byte
	bits uint64
	n    int // bits held in bits, fewer than 8 between calls
}

func (w *bitWriter) writeBits(v uint64, n uint) {
	w.bits |= v << w.n
	w.n += int(n)
	for w.n >= 8 {
		w.dst = append(w.dst, byte(w.bits))
		w.bits >>= 8
		w.n -= 8
	}
}

// align pads the last byte with zero bits.
func (w *bitWriter) align() {
	if w.n > 0 {
		w.dst = append(w.dst, byte(w.bits))
		w.bits, w.n = 0, 0
	}
}

// writeStored writes p (at most 65535 bytes) as a stored block (BFINAL 0).
func (w *bitWriter) writeStored(p []byte) {
	w.writeBits(0, 3)
	w.align()
	n := uint16(len(p))
	w.dst = append(w.dst, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	w.dst = append(w.dst, p...)
}

// inflater decompresses the messages of one direction as RFC 7692 §7.2.2
// says, and checks that the sender kept to what was agreed: no
// back-reference farther than the window of 1<<bits bytes, and none into
// an earlier message without context takeover. The harness inflates what
// the server sends, so its errors name the server's parameters.
//
// A block with BFINAL set may end the data of a message or be followed
// by more blocks (§7.2.1 has the sender pad it with zero bits to a byte,
// "the next DEFLATE block follows the padded data if any"); §7.2.3.4
// shows a final block followed by the empty stored block of a sync flush.
// The inflater takes the blocks after a final block as going on with the
// same history, and accepts data that ends with a final block (the 4
// appended octets then go unused), as zlib-based receivers do.
type inflater struct {
	bits, window int
	takeover     bool

	hist []byte // with takeover: the last window bytes of the earlier messages
	// seen counts the bytes of the earlier messages, up to window, without
	// takeover: a reference into them breaks the agreement, one before
	// them is plain invalid data.
	seen int

	in               []byte // the data and the 4 octets appended
	br               bitReader
	lit, dist, clens huffman
	lengths          [286 + 30]uint8
}

// newInflater returns an inflater for a window of 1<<bits bytes (bits 8
// to 15, the range of server_max_window_bits) that lets messages refer
// back into earlier ones when takeover is set.
func newInflater(bits int, takeover bool) *inflater {
	if bits < 8 || bits > 15 {
		panic(fmt.Sprintf("conformance: inflate window bits %d outside 8-15", bits))
	}
	return &inflater{bits: bits, window: 1 << bits, takeover: takeover}
}

// windowError is data that is valid DEFLATE but breaks the agreement: a
// back-reference beyond the window of server_max_window_bits (RFC 7692
// §7.1.2.1), or into an earlier message under server_no_context_takeover
// (§7.1.1.1).
type windowError struct {
	distance int
	bits     int  // server_max_window_bits in effect
	previous bool // the reference reaches into an earlier message, not beyond the window
}

func (e *windowError) Error() string {
	if e.previous {
		return fmt.Sprintf("back-reference distance %d reaches into a previous message, "+
			"but no context takeover was agreed (server_no_context_takeover, RFC 7692 §7.1.1.1)", e.distance)
	}
	return fmt.Sprintf("back-reference distance %d beyond the %d-byte window of server_max_window_bits=%d (RFC 7692 §7.1.2.1)",
		e.distance, 1<<e.bits, e.bits)
}

// dataError is data that is not valid DEFLATE (RFC 1951), or does not end
// as RFC 7692 §7.2.1 has a message end.
type dataError struct {
	msg string
	err error // errIncompleteCode or errNotFlushed, when one of them is why
}

func (e *dataError) Error() string { return "invalid deflate data: " + e.msg }
func (e *dataError) Unwrap() error { return e.err }

func invalidf(format string, args ...any) *dataError {
	return &dataError{msg: fmt.Sprintf(format, args...)}
}

// The two reasons for which the inflater rejects data that compress/flate
// (and zlib) accept.
var (
	// errIncompleteCode is a Huffman code that leaves bit patterns unused.
	// RFC 1951 allows that only for a distance code of one symbol (§3.2.7);
	// zlib also takes a literal/length code of one symbol.
	errIncompleteCode = errors.New("incomplete Huffman code")
	// errNotFlushed is data whose blocks end somewhere other than in the
	// empty stored block of a sync flush or a final block.
	errNotFlushed = errors.New("no sync flush at the end")
)

// limitError is a message that decompresses to more than the limit.
type limitError struct{ limit int }

func (e *limitError) Error() string { return fmt.Sprintf("output over limit %d bytes", e.limit) }

var errUnexpectedEnd = &dataError{msg: "unexpected end of data"}

// inflate appends to dst the message that data decompresses to. data is
// as on the wire: inflate appends the 0x00 0x00 0xff 0xff that §7.2.2
// says to. It fails with a *windowError when the data breaks the
// agreement, a *limitError as soon as the message passes limit bytes, and
// a *dataError when the data is invalid; then it returns dst with its
// length as it was (its capacity may have grown) and keeps the history it
// had.
func (f *inflater) inflate(dst, data []byte, limit int) ([]byte, error) {
	if len(data) == 0 {
		// A compressed empty message is the one octet 0x00 of a sync
		// flush (§7.2.3.6); with nothing, the 4 octets appended are the
		// start of a stored block that never ends.
		return dst, invalidf("empty data: a compressed message is at least the 0x00 of a sync flush")
	}
	f.in = append(append(f.in[:0], data...), deflateTail[:]...)
	f.br = bitReader{in: f.in}
	start := len(dst)
	out, err := f.blocks(dst, start, limit)
	if err != nil {
		return out[:start], err
	}
	f.remember(out[start:])
	return out, nil
}

// remember keeps what history the next message may refer to.
func (f *inflater) remember(msg []byte) {
	if !f.takeover {
		f.seen = min(f.window, f.seen+len(msg))
		return
	}
	if len(msg) >= f.window {
		f.hist = append(f.hist[:0], msg[len(msg)-f.window:]...)
		return
	}
	if keep := f.window - len(msg); len(f.hist) > keep {
		copy(f.hist, f.hist[len(f.hist)-keep:])
		f.hist = f.hist[:keep]
	}
	f.hist = append(f.hist, msg...)
}

// blocks decodes the blocks of f.in, appending the message to out, whose
// first start bytes are not part of it.
func (f *inflater) blocks(out []byte, start, limit int) ([]byte, error) {
	br := &f.br
	tailStart := len(f.in) - len(deflateTail)
	for {
		if br.remaining() < 8 {
			// The last block ended inside the last octet: the 4 octets
			// appended were not the LEN and NLEN of an empty stored block.
			return out, &dataError{msg: "the data does not end with the empty stored block of a sync flush (RFC 7692 §7.2.1)", err: errNotFlushed}
		}
		hdr, err := br.read(3)
		if err != nil {
			return out, err
		}
		final := hdr&1 != 0
		switch hdr >> 1 {
		case 0:
			br.align()
			at := br.offset()
			v, err := br.read(32)
			if err != nil {
				return out, err
			}
			n, nn := int(v&0xffff), int(v>>16)
			if n != nn^0xffff {
				return out, invalidf("stored block LEN %#04x does not match NLEN %#04x", n, nn)
			}
			if n == 0 && at == tailStart {
				// The empty stored block of the sync flush, whose LEN and
				// NLEN are the 4 octets appended: the end of the message.
				return out, nil
			}
			if len(out)-start+n > limit {
				return out, &limitError{limit}
			}
			p, err := br.bytes(n)
			if err != nil {
				return out, err
			}
			out = append(out, p...)
		case 1:
			if out, err = f.huffmanBlock(out, start, limit, &fixedLit, &fixedDist); err != nil {
				return out, err
			}
		case 2:
			if err := f.readCodes(); err != nil {
				return out, err
			}
			if out, err = f.huffmanBlock(out, start, limit, &f.lit, &f.dist); err != nil {
				return out, err
			}
		default:
			return out, invalidf("reserved block type 3")
		}
		if final {
			// RFC 7692 §7.2.1: the sender pads a final block with zero
			// bits to a byte.
			if pad := br.align(); pad != 0 {
				return out, invalidf("padding bits %#x after a final block; RFC 7692 §7.2.1 has them 0", pad)
			}
			if br.offset() == tailStart {
				return out, nil // the data ended with its final block
			}
		}
	}
}

// huffmanBlock decodes the symbols of a compressed block up to its end of
// block code.
func (f *inflater) huffmanBlock(out []byte, start, limit int, lit, dist *huffman) ([]byte, error) {
	br := &f.br
	for {
		sym, err := br.symbol(lit)
		if err != nil {
			return out, err
		}
		if sym < endOfBlock {
			if len(out)-start >= limit {
				return out, &limitError{limit}
			}
			out = append(out, byte(sym))
			continue
		}
		if sym == endOfBlock {
			return out, nil
		}
		sym -= endOfBlock + 1
		if sym >= len(lengthBase) {
			return out, invalidf("length code %d", sym+endOfBlock+1)
		}
		extra, err := br.read(lengthExtra[sym])
		if err != nil {
			return out, err
		}
		length := lengthBase[sym] + int(extra)
		if dist.maxLen == 0 {
			return out, invalidf("a length code in a block that defines no distance code")
		}
		dsym, err := br.symbol(dist)
		if err != nil {
			return out, err
		}
		if dsym >= len(distBase) {
			return out, invalidf("distance code %d", dsym)
		}
		if extra, err = br.read(distExtra[dsym]); err != nil {
			return out, err
		}
		if out, err = f.copyMatch(out, start, limit, distBase[dsym]+int(extra), length); err != nil {
			return out, err
		}
	}
}

// copyMatch appends the length bytes that start distance bytes back: in
// this message, or with takeover in the history of the earlier ones.
func (f *inflater) copyMatch(out []byte, start, limit, distance, length int) ([]byte, error) {
	if distance > f.window {
		return out, &windowError{distance: distance, bits: f.bits}
	}
	produced := len(out) - start
	if distance > produced {
		back := distance - produced // how far before this message it starts
		if !f.takeover {
			if back <= f.seen {
				return out, &windowError{distance: distance, bits: f.bits, previous: true}
			}
			return out, invalidf("back-reference distance %d before the start of the data (%d bytes decompressed)", distance, produced)
		}
		if back > len(f.hist) {
			return out, invalidf("back-reference distance %d before the start of the data (%d bytes decompressed)",
				distance, len(f.hist)+produced)
		}
	}
	if produced+length > limit {
		return out, &limitError{limit}
	}
	if distance > produced {
		back := distance - produced
		from := len(f.hist) - back
		n := min(length, back)
		out = append(out, f.hist[from:from+n]...)
		length -= n
	}
	// From here on the source is in out. Where it overlaps what is being
	// written (distance < length), each append doubles the span copied,
	// which keeps the period of distance bytes.
	from := len(out) - distance
	for length > 0 {
		n := min(length, len(out)-from)
		out = append(out, out[from:from+n]...)
		length -= n
	}
	return out, nil
}

// codeLengthOrder is the order in which a dynamic block sends the lengths
// of the code length code (RFC 1951 §3.2.7).
var codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// readCodes reads the header of a dynamic block (RFC 1951 §3.2.7) into
// f.lit and f.dist.
func (f *inflater) readCodes() error {
	br := &f.br
	v, err := br.read(14)
	if err != nil {
		return err
	}
	nlit, ndist, nclen := int(v&0x1f)+257, int(v>>5&0x1f)+1, int(v>>10)+4
	if nlit > 286 {
		return invalidf("HLIT of %d literal/length codes; there are 286", nlit)
	}
	if ndist > 30 {
		return invalidf("HDIST of %d distance codes; there are 30", ndist)
	}
	var clens [19]uint8
	for i := range nclen {
		l, err := br.read(3)
		if err != nil {
			return err
		}
		clens[codeLengthOrder[i]] = uint8(l)
	}
	if err := f.clens.build(clens[:], "code length", false); err != nil {
		return err
	}
	if f.clens.maxLen == 0 {
		return invalidf("empty code length code")
	}
	lengths := f.lengths[:nlit+ndist]
	for i := 0; i < len(lengths); {
		sym, err := br.symbol(&f.clens)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var l uint8
		switch sym {
		case 16:
			if i == 0 {
				return invalidf("code length repeat (16) with no previous length")
			}
			l = lengths[i-1]
			x, err := br.read(2)
			if err != nil {
				return err
			}
			rep = 3 + int(x)
		case 17:
			x, err := br.read(3)
			if err != nil {
				return err
			}
			rep = 3 + int(x)
		default:
			x, err := br.read(7)
			if err != nil {
				return err
			}
			rep = 11 + int(x)
		}
		if i+rep > len(lengths) {
			return invalidf("code length repeat past the %d lengths of the block", len(lengths))
		}
		for range rep {
			lengths[i] = l
			i++
		}
	}
	if lengths[endOfBlock] == 0 {
		return invalidf("no code for end of block")
	}
	if err := f.lit.build(lengths[:nlit], "literal/length", false); err != nil {
		return err
	}
	return f.dist.build(lengths[nlit:], "distance", true)
}

// huffman is a canonical Huffman code (RFC 1951 §3.2.2) as a table that
// the next maxLen bits of input index.
type huffman struct {
	// table[bits] is symbol<<4 | length of the code that the low bits of
	// bits start with, or 0 for a pattern that no code starts (in a code
	// that RFC 1951 lets be incomplete).
	table  []uint32
	maxLen uint // 0 for a code with no symbols
}

// build makes h the code with the given code lengths. A code must be
// complete: every bit pattern starts exactly one code. single allows the
// one exception, a code of one symbol of length 1 (§3.2.7, for distances).
func (h *huffman) build(lengths []uint8, name string, single bool) error {
	var count [16]int
	used := 0
	for _, l := range lengths {
		if l > 0 {
			count[l]++
			used++
		}
	}
	left := 1 // unused codes of the current length
	maxLen := 0
	for l := 1; l < 16; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return invalidf("over-subscribed %s code", name)
		}
		if count[l] > 0 {
			maxLen = l
		}
	}
	h.maxLen = uint(maxLen)
	if used == 0 {
		h.table = h.table[:0]
		return nil
	}
	if left > 0 && !(single && used == 1 && count[1] == 1) {
		unused := left >> (15 - maxLen)
		return &dataError{msg: fmt.Sprintf("incomplete %s code (%d of the %d patterns of %d bits unused)", name, unused, 1<<maxLen, maxLen),
			err: errIncompleteCode}
	}
	var next [16]int
	code := 0
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	size := 1 << maxLen
	if cap(h.table) < size {
		h.table = make([]uint32, size)
	}
	h.table = h.table[:size]
	clear(h.table)
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		r := int(reverseBits(next[l], uint(l)))
		next[l]++
		for i := r; i < size; i += 1 << l {
			h.table[i] = uint32(sym)<<4 | uint32(l)
		}
	}
	return nil
}

// The fixed codes of RFC 1951 §3.2.6. The literal/length code has 288
// symbols and the distance code 32, complete codes of which 286, 287, 30
// and 31 never occur in valid data.
var fixedLit, fixedDist = func() (lit, dist huffman) {
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	if lit.build(fixedLitLengths[:], "fixed literal/length", false) != nil ||
		dist.build(d[:], "fixed distance", false) != nil {
		panic("conformance: the fixed Huffman codes do not build")
	}
	return lit, dist
}()

// bitReader reads the bits of in from the least significant bit of each
// byte up.
type bitReader struct {
	in   []byte
	pos  int    // the next byte of in to load into bits
	bits uint64 // loaded bits not yet read, in the low n bits; the rest 0
	n    uint
}

func (br *bitReader) refill() {
	for br.n <= 56 && br.pos < len(br.in) {
		br.bits |= uint64(br.in[br.pos]) << br.n
		br.pos++
		br.n += 8
	}
}

// remaining returns the number of bits not yet read.
func (br *bitReader) remaining() int { return int(br.n) + 8*(len(br.in)-br.pos) }

// offset returns the offset in in of the next byte, at a byte boundary.
func (br *bitReader) offset() int { return br.pos - int(br.n/8) }

// read reads an n-bit number (n at most 32).
func (br *bitReader) read(n uint) (uint32, error) {
	if br.n < n {
		br.refill()
		if br.n < n {
			return 0, errUnexpectedEnd
		}
	}
	v := uint32(br.bits & (1<<n - 1))
	br.bits >>= n
	br.n -= n
	return v, nil
}

// align skips to the next byte boundary and returns the bits it skipped.
func (br *bitReader) align() uint64 {
	k := br.n % 8
	pad := br.bits & (1<<k - 1)
	br.bits >>= k
	br.n -= k
	return pad
}

// bytes returns the next n bytes; the reader must be at a byte boundary.
func (br *bitReader) bytes(n int) ([]byte, error) {
	br.pos = br.offset() // give the loaded bytes back
	br.bits, br.n = 0, 0
	if len(br.in)-br.pos < n {
		return nil, errUnexpectedEnd
	}
	p := br.in[br.pos : br.pos+n]
	br.pos += n
	return p, nil
}

// symbol reads one symbol of code h.
func (br *bitReader) symbol(h *huffman) (int, error) {
	if br.n < h.maxLen {
		br.refill()
	}
	// Near the end of the input fewer than maxLen bits may be left; the
	// missing ones read as 0, and a code longer than what is left is the
	// end of the data.
	e := h.table[br.bits&(1<<h.maxLen-1)]
	l := uint(e & 15)
	if l == 0 {
		return 0, invalidf("bit pattern that starts no code")
	}
	if l > br.n {
		return 0, errUnexpectedEnd
	}
	br.bits >>= l
	br.n -= l
	return int(e >> 4), nil
}
