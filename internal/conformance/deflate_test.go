package conformance

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// deflateWords make text-like test data: words of an uneven length and
// frequency, as text has.
var deflateWords = strings.Fields(`the a of and to in is it that for on with as was by
	permessage deflate window frame server client message compression takeover
	context sliding history reference distance length literal block huffman
	wasmgate proxy upstream filter plugin κόσμε 0123456789 {"id":42,"ok":true}`)

// deflateText returns n bytes of text-like data.
func deflateText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b []byte
	for len(b) < n {
		w := deflateWords[int(float64(len(deflateWords))*r.Float64()*r.Float64())]
		b = append(b, w...)
		b = append(b, " \n"[r.IntN(12)/11])
	}
	return b[:n]
}

// deflateRandom returns n incompressible bytes.
func deflateRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// deflateUnique returns n bytes in which no 3 bytes in a row occur twice,
// also where the n bytes are followed by themselves: the deflater finds
// no match in them, and in a repeat of them only the one n bytes back.
func deflateUnique(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 4))
	gram := func(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }
	for {
		seen := make(map[uint32]bool, n+2)
		b := []byte{byte(r.Uint32()), byte(r.Uint32())}
		for len(b) < n {
			c := byte(r.Uint32())
			if g := gram([]byte{b[len(b)-2], b[len(b)-1], c}); !seen[g] {
				seen[g] = true
				b = append(b, c)
			}
		}
		across := []byte{b[n-2], b[n-1], b[0], b[1]}
		g1, g2 := gram(across), gram(across[1:])
		if !seen[g1] && !seen[g2] && g1 != g2 {
			return b
		}
	}
}

// deflateRepetitive returns n bytes of long runs and short periods.
func deflateRepetitive(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	var b []byte
	for len(b) < n {
		unit := deflateRandom(1+r.IntN(7), r.Uint64())
		for range 1 + r.IntN(300) {
			b = append(b, unit...)
		}
	}
	return b[:n]
}

var deflateKinds = []struct {
	name string
	gen  func(n int, seed uint64) []byte
}{
	{"text", deflateText},
	{"random", deflateRandom},
	{"repetitive", deflateRepetitive},
}

// deflateMessages returns messages of one kind, 0 B to 256 KiB; the last
// repeats an earlier one, for a sender with context takeover to refer to.
func deflateMessages(gen func(int, uint64) []byte) [][]byte {
	sizes := []int{0, 1, 200, 5000, 70000, 256 << 10}
	var msgs [][]byte
	for i, n := range sizes {
		msgs = append(msgs, gen(n, uint64(i)))
	}
	return append(msgs, msgs[3])
}

// How compress/flate is used as a sender in TestInflater_DecodesCompressFlate.
const (
	flateFresh      = "fresh writer"            // no context takeover
	flateOneWriter  = "one flushed writer"      // context takeover, as most senders do it
	flateDictionary = "writer with the history" // context takeover through NewWriterDict
)

// flateCompress compresses msgs as a permessage-deflate sender built on
// compress/flate would (RFC 7692 §7.2.1).
func flateCompress(msgs [][]byte, level int, mode string) ([][]byte, error) {
	var buf bytes.Buffer
	var hist []byte
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, m := range msgs {
		switch mode {
		case flateFresh:
			w.Reset(&buf)
		case flateDictionary:
			if w, err = flate.NewWriterDict(&buf, level, hist); err != nil {
				return nil, err
			}
		}
		if _, err := w.Write(m); err != nil {
			return nil, err
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		data, ok := bytes.CutSuffix(buf.Bytes(), deflateTail[:])
		if !ok {
			return nil, errors.New("compress/flate's flush did not end with 00 00 ff ff")
		}
		out = append(out, bytes.Clone(data))
		buf.Reset()
		hist = append(hist, m...)
		hist = hist[max(0, len(hist)-32768):]
	}
	return out, nil
}

func mustFlateCompress(t *testing.T, msgs [][]byte, level int, mode string) [][]byte {
	t.Helper()
	out, err := flateCompress(msgs, level, mode)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInflater_DecodesCompressFlate(t *testing.T) {
	levels := []struct {
		name  string
		level int
	}{
		{"level 1", 1}, {"level 6", 6}, {"level 9", 9}, {"Huffman only", flate.HuffmanOnly},
	}
	for _, kind := range deflateKinds {
		msgs := deflateMessages(kind.gen)
		for _, lv := range levels {
			for _, mode := range []string{flateFresh, flateOneWriter, flateDictionary} {
				t.Run(kind.name+"/"+lv.name+"/"+mode, func(t *testing.T) {
					if mode == flateDictionary && kind.name == "random" && lv.level >= 2 {
						// Its compressor of levels 2-9 puts the last byte of the
						// dictionary into a first stored block.
						t.Skip("compress/flate writes part of its dictionary into the output (golang/go#80538)")
					}
					f := newInflater(15, mode != flateFresh)
					for i, data := range mustFlateCompress(t, msgs, lv.level, mode) {
						got, err := f.inflate([]byte("prefix"), data, 1<<20)
						if err != nil {
							t.Fatalf("message %d (%d bytes): %v", i, len(msgs[i]), err)
						}
						if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], msgs[i]) {
							t.Fatalf("message %d (%d bytes) inflated to %d bytes that differ", i, len(msgs[i]), len(got)-6)
						}
					}
				})
			}
		}
	}
}

// deflateRoundTripMessages are consecutive messages for the deflater: the
// second repeats the first (a reference into the previous message with
// context takeover), 70000 bytes take two blocks (a stored block holds at
// most 65535), and random data goes into stored blocks.
var deflateRoundTripMessages = [][]byte{
	deflateText(3000, 1),
	deflateText(3000, 1),
	{},
	deflateRandom(2000, 2),
	deflateRepetitive(40000, 3),
	deflateText(70000, 4),
	deflateRandom(70000, 5),
	{'x'},
	deflateText(3000, 1),
}

func TestDeflater_RoundTrip(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		for _, takeover := range []bool{false, true} {
			t.Run(fmt.Sprintf("bits %d takeover %v", bits, takeover), func(t *testing.T) {
				d := newDeflater(bits, takeover)
				f := newInflater(bits, takeover)
				var hist []byte // what compress/flate is given as the window
				for i, msg := range deflateRoundTripMessages {
					data := d.compress(nil, msg)
					got, err := f.inflate(nil, data, len(msg))
					if err != nil {
						t.Fatalf("message %d: inflater: %v", i, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("message %d: the inflater gives %d bytes that differ from the %d sent", i, len(got), len(msg))
					}
					// compress/flate rejects a distance beyond the dictionary and
					// what it has decompressed, so a dictionary of only the window
					// checks the references into earlier messages too.
					if !takeover {
						hist = nil
					}
					r := flate.NewReaderDict(bytes.NewReader(append(data, deflateTail[:]...)), hist)
					got, err = io.ReadAll(r)
					if err != io.ErrUnexpectedEOF {
						t.Fatalf("message %d: compress/flate: %v, want the unexpected EOF after a sync flush", i, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("message %d: compress/flate gives %d bytes that differ from the %d sent", i, len(got), len(msg))
					}
					hist = append(hist, msg...)
					hist = hist[max(0, len(hist)-1<<bits):]
				}
			})
		}
	}
}

func TestDeflater_Compresses(t *testing.T) {
	tests := []struct {
		name    string
		msg     []byte
		maxSize int
	}{
		{"empty message: the 0x00 of a sync flush (RFC 7692 §7.2.3.6)", nil, 1},
		{"1 MiB of zeros", make([]byte, 1<<20), 1 << 20 / 258 * 3},
		{"text", deflateText(1<<16, 7), 1 << 16 * 3 / 4},
		{"random: stored blocks", deflateRandom(1<<17, 8), 1<<17 + 3*5 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := newDeflater(15, false).compress(nil, tt.msg)
			if len(data) > tt.maxSize {
				t.Errorf("%d bytes compress to %d, want at most %d", len(tt.msg), len(data), tt.maxSize)
			}
		})
	}
}

// TestDeflater_ReachesWindow proves that the deflater refers back as far
// as the window allows, and no farther: a block repeated at exactly the
// window's distance, in one message and across two, costs next to
// nothing the second time, and an inflater of half the window rejects it.
func TestDeflater_ReachesWindow(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		window := 1 << bits
		block := deflateUnique(window, uint64(bits))
		t.Run(fmt.Sprintf("bits %d in one message", bits), func(t *testing.T) {
			msg := append(bytes.Clone(block), block...)
			data := newDeflater(bits, false).compress(nil, msg)
			if max := window + window/8 + 16; len(data) > max {
				t.Fatalf("a %d-byte block twice compresses to %d bytes, want at most %d", window, len(data), max)
			}
			if got, err := newInflater(bits, false).inflate(nil, data, len(msg)); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("inflate: %v (equal %v)", err, bytes.Equal(got, msg))
			}
			if bits > 8 {
				_, err := newInflater(bits-1, false).inflate(nil, data, len(msg))
				wantWindowError(t, err, window, false)
			}
		})
		t.Run(fmt.Sprintf("bits %d across messages", bits), func(t *testing.T) {
			d := newDeflater(bits, true)
			first, second := d.compress(nil, block), d.compress(nil, block)
			if max := window/8 + 16; len(second) > max {
				t.Fatalf("the block again in the next message compresses to %d bytes, want at most %d", len(second), max)
			}
			f := newInflater(bits, true)
			for i, data := range [][]byte{first, second} {
				if got, err := f.inflate(nil, data, window); err != nil || !bytes.Equal(got, block) {
					t.Fatalf("message %d: %v (equal %v)", i, err, bytes.Equal(got, block))
				}
			}
			f = newInflater(bits, false)
			if _, err := f.inflate(nil, first, window); err != nil {
				t.Fatal(err)
			}
			_, err := f.inflate(nil, second, window)
			wantWindowError(t, err, window, true)
			if bits > 8 {
				f = newInflater(bits-1, true)
				if _, err := f.inflate(nil, first, window); err != nil {
					t.Fatal(err)
				}
				_, err := f.inflate(nil, second, window)
				wantWindowError(t, err, window, false)
			}
		})
	}
}

func wantWindowError(t *testing.T, err error, distance int, previous bool) {
	t.Helper()
	var we *windowError
	if !errors.As(err, &we) {
		t.Fatalf("got %v, want a window error", err)
	}
	if we.distance != distance || we.previous != previous {
		t.Fatalf("got %v (distance %d, previous %v), want distance %d, previous %v", err, we.distance, we.previous, distance, previous)
	}
}

// blockWriter builds DEFLATE data by hand for the inflater's tests.
type blockWriter struct{ bitWriter }

// header writes a block header.
func (w *blockWriter) header(final bool, btype uint64) {
	var f uint64
	if final {
		f = 1
	}
	w.writeBits(f|btype<<1, 3)
}

// fixed writes symbol sym of the fixed literal/length code.
func (w *blockWriter) fixed(sym int) {
	w.writeBits(uint64(fixedLitCodes[sym]), uint(fixedLitLengths[sym]))
}

// code writes symbol sym of the canonical code with the given lengths.
func (w *blockWriter) code(lengths []uint8, sym int) {
	var count [16]int
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	code := 0
	var next [16]int
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s := range sym {
		if lengths[s] == lengths[sym] {
			next[lengths[sym]]++
		}
	}
	w.writeBits(uint64(reverseBits(next[lengths[sym]], uint(lengths[sym]))), uint(lengths[sym]))
}

// dynamic writes the header of a dynamic block with the given code
// lengths, sent with a code length code that gives 0-15 four bits each.
func (w *blockWriter) dynamic(final bool, lit, dist []uint8) {
	w.header(final, 2)
	w.writeBits(uint64(len(lit)-257), 5)
	w.writeBits(uint64(len(dist)-1), 5)
	w.writeBits(19-4, 4)
	var clens [19]uint8
	for i := range 16 {
		clens[i] = 4
	}
	for _, s := range codeLengthOrder {
		w.writeBits(uint64(clens[s]), 3)
	}
	for _, l := range append(append([]uint8(nil), lit...), dist...) {
		w.code(clens[:], int(l))
	}
}

// syncFlush ends the data as RFC 7692 §7.2.1 does and returns it.
func (w *blockWriter) syncFlush() []byte {
	w.header(false, 0)
	w.align()
	return w.dst
}

// build returns the data that write makes, ended by a sync flush.
func build(write func(w *blockWriter)) []byte {
	var w blockWriter
	write(&w)
	return w.syncFlush()
}

// codeLengths returns n code lengths, those of syms as given, the rest 0.
func codeLengths(n int, syms map[int]uint8) []uint8 {
	l := make([]uint8, n)
	for s, v := range syms {
		l[s] = v
	}
	return l
}

// flateClosed is "Hello" from a compress/flate writer that is closed
// instead of flushed: it ends with a final empty stored block.
func flateClosed(t *testing.T) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, 6)
	if err == nil {
		_, err = w.Write([]byte("Hello"))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), deflateTail[:])
}

func TestInflater_Accepts(t *testing.T) {
	// A block of literals and one match, with a distance code of one
	// symbol of one bit, the incomplete code that RFC 1951 §3.2.7 allows.
	lit := codeLengths(286, map[int]uint8{'a': 2, 'b': 2, endOfBlock: 2, 258: 2})
	tests := []struct {
		name     string
		takeover bool
		messages [][]byte
		want     []string
		limit    int
	}{
		{"RFC 7692 §7.2.3.1 a fixed block", false, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}, 5},
		{"RFC 7692 §7.2.3.2 a reference into the previous message", true,
			[][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}, []string{"Hello", "Hello"}, 5},
		{"RFC 7692 §7.2.3.3 a stored block", false,
			[][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, []string{"Hello"}, 5},
		{"RFC 7692 §7.2.3.4 a final block and a sync flush", false,
			[][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, []string{"Hello"}, 5},
		{"a final block at the end of the data", false,
			[][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}, 5},
		{"a final empty stored block at the end (compress/flate's Close)", false, [][]byte{flateClosed(t)}, []string{"Hello"}, 5},
		{"RFC 7692 §7.2.3.5 two blocks", false,
			[][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, []string{"Hello"}, 5},
		{"RFC 7692 §7.2.3.6 an empty message", false, [][]byte{{0x00}}, []string{""}, 0},
		{"blocks after a final block (RFC 7692 §7.2.1)", true, [][]byte{build(func(w *blockWriter) {
			w.header(true, 1)
			w.fixed('a')
			w.fixed(endOfBlock)
			w.align()
			w.header(false, 1)
			w.fixed('b')
			w.fixed(257) // length 3
			w.writeBits(uint64(reverseBits(1, 5)), 5)
			w.fixed(endOfBlock)
		})}, []string{"ababa"}, 5},
		{"one distance code of one bit", false, [][]byte{build(func(w *blockWriter) {
			dist := []uint8{0, 0, 0, 1} // distance 4
			w.dynamic(false, lit, dist)
			for _, c := range "abab" {
				w.code(lit, int(c))
			}
			w.code(lit, 258) // length 4
			w.code(dist, 3)
			w.code(lit, endOfBlock)
		})}, []string{"abababab"}, 8},
		{"no distance code, literals only", false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, lit, []uint8{0})
			w.code(lit, 'b')
			w.code(lit, endOfBlock)
		})}, []string{"b"}, 1},
		{"an empty stored block inside the data", false, [][]byte{build(func(w *blockWriter) {
			w.writeStored(nil)
			w.writeStored([]byte("Hi"))
		})}, []string{"Hi"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflater(15, tt.takeover)
			for i, data := range tt.messages {
				got, err := f.inflate(nil, data, tt.limit)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if string(got) != tt.want[i] {
					t.Fatalf("message %d: got %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestInflater_Rejects(t *testing.T) {
	block := deflateUnique(4096, 9)
	twice := append(bytes.Clone(block), block...)
	zeros := make([]byte, 1<<20)
	fixedHeader := func(w *blockWriter) { w.header(false, 1) }
	lit := codeLengths(286, map[int]uint8{'a': 2, 'b': 2, endOfBlock: 2, 257: 2})
	dynamicHeader := func(nlit, ndist, nclen uint64) func(w *blockWriter) {
		return func(w *blockWriter) {
			w.header(false, 2)
			w.writeBits(nlit-257, 5)
			w.writeBits(ndist-1, 5)
			w.writeBits(nclen-4, 4)
		}
	}

	// kinds of error
	type kind int
	const (
		window kind = iota
		previous
		data
		incomplete
		limit
	)
	tests := []struct {
		name     string
		bits     int
		takeover bool
		messages [][]byte // all but the last must inflate
		limit    int
		want     kind
		contains string
	}{
		{"distance beyond the window", 10, false,
			[][]byte{newDeflater(12, false).compress(nil, twice)}, len(twice), window,
			"back-reference distance 4096 beyond the 1024-byte window of server_max_window_bits=10 (RFC 7692 §7.1.2.1)"},
		{"reference into the previous message without takeover", 12, false,
			func() [][]byte {
				d := newDeflater(12, true)
				return [][]byte{d.compress(nil, block), d.compress(nil, block)}
			}(), len(block), previous, "server_no_context_takeover, RFC 7692 §7.1.1.1"},
		{"RFC 7692 §7.2.3.2 without takeover", 15, false,
			[][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}, 5, previous, "distance 5"},
		{"reference before the start of the data", 15, true, [][]byte{build(func(w *blockWriter) {
			fixedHeader(w)
			w.fixed('a')
			w.fixed(257)
			w.writeBits(uint64(reverseBits(1, 5)), 5) // distance 2
			w.fixed(endOfBlock)
		})}, 10, data, "before the start of the data"},
		{"reference before the first message without takeover", 15, false, [][]byte{build(func(w *blockWriter) {
			fixedHeader(w)
			w.fixed('a')
			w.fixed(257)
			w.writeBits(uint64(reverseBits(1, 5)), 5)
			w.fixed(endOfBlock)
		})}, 10, data, "before the start of the data"},
		{"empty data", 15, false, [][]byte{{}}, 10, data, "empty data"},
		{"stored LEN and NLEN disagree", 15, false,
			[][]byte{{0x00, 0x05, 0x00, 0xfa, 0xfe, 'H', 'e', 'l', 'l', 'o', 0x00}}, 10, data, "does not match NLEN"},
		{"data ends inside a stored block", 15, false,
			[][]byte{{0x00, 0x0a, 0x00, 0xf5, 0xff, 'H', 'e'}}, 10, data, "unexpected end of data"},
		{"reserved block type", 15, false, [][]byte{{0x06, 0x00}}, 10, data, "reserved block type 3"},
		{"length code 286 in a fixed block", 15, false, [][]byte{build(func(w *blockWriter) {
			fixedHeader(w)
			w.fixed('a')
			w.fixed(286)
		})}, 10, data, "length code 286"},
		{"distance code 30 in a fixed block", 15, false, [][]byte{build(func(w *blockWriter) {
			fixedHeader(w)
			w.fixed('a')
			w.fixed(257)
			w.writeBits(uint64(reverseBits(30, 5)), 5)
		})}, 10, data, "distance code 30"},
		{"HLIT over 286", 15, false, [][]byte{build(dynamicHeader(287, 1, 4))}, 10, data, "HLIT of 287"},
		{"HDIST over 30", 15, false, [][]byte{build(dynamicHeader(257, 31, 4))}, 10, data, "HDIST of 31"},
		{"over-subscribed code length code", 15, false, [][]byte{build(func(w *blockWriter) {
			dynamicHeader(257, 1, 4)(w)
			for _, l := range []uint64{1, 1, 1, 0} { // 16, 17, 18, 0
				w.writeBits(l, 3)
			}
		})}, 10, data, "over-subscribed code length code"},
		{"incomplete code length code", 15, false, [][]byte{build(func(w *blockWriter) {
			dynamicHeader(257, 1, 4)(w)
			for _, l := range []uint64{0, 0, 2, 2} {
				w.writeBits(l, 3)
			}
		})}, 10, incomplete, "incomplete code length code"},
		{"code length repeat with no previous length", 15, false, [][]byte{build(func(w *blockWriter) {
			dynamicHeader(257, 1, 4)(w)
			for _, l := range []uint64{1, 0, 0, 1} { // 16 and 0, one bit each
				w.writeBits(l, 3)
			}
			w.writeBits(1, 1) // 16
			w.writeBits(0, 2)
		})}, 10, data, "no previous length"},
		{"code length repeat past the end", 15, false, [][]byte{build(func(w *blockWriter) {
			dynamicHeader(257, 1, 4)(w)
			for _, l := range []uint64{0, 0, 1, 1} { // 18 and 0, one bit each
				w.writeBits(l, 3)
			}
			for range 2 {
				w.writeBits(1, 1)   // 18
				w.writeBits(127, 7) // 138 zeros
			}
		})}, 10, data, "repeat past the 258 lengths"},
		{"no end-of-block code", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, codeLengths(257, map[int]uint8{'a': 1, 'b': 1}), []uint8{0})
		})}, 10, data, "no code for end of block"},
		{"over-subscribed literal/length code", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, codeLengths(257, map[int]uint8{'a': 1, 'b': 1, endOfBlock: 1}), []uint8{0})
		})}, 10, data, "over-subscribed literal/length code"},
		{"incomplete literal/length code", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, codeLengths(257, map[int]uint8{'a': 1, endOfBlock: 2}), []uint8{0})
		})}, 10, incomplete, "incomplete literal/length code"},
		{"literal/length code of one symbol (zlib takes it)", 15, false, [][]byte{build(func(w *blockWriter) {
			lit := codeLengths(257, map[int]uint8{endOfBlock: 1})
			w.dynamic(false, lit, []uint8{0})
			w.code(lit, endOfBlock)
		})}, 10, incomplete, "incomplete literal/length code"},
		{"incomplete distance code", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, lit, []uint8{2, 2, 2})
		})}, 10, incomplete, "incomplete distance code"},
		{"one distance code of two bits", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, lit, []uint8{2})
		})}, 10, incomplete, "incomplete distance code"},
		{"length code in a block with no distance code", 15, false, [][]byte{build(func(w *blockWriter) {
			w.dynamic(false, lit, []uint8{0})
			w.code(lit, 'a')
			w.code(lit, 257)
		})}, 10, data, "defines no distance code"},
		{"the unused pattern of a one-symbol distance code", 15, false, [][]byte{build(func(w *blockWriter) {
			dist := []uint8{1}
			w.dynamic(false, lit, dist)
			w.code(lit, 'a')
			w.code(lit, 257)
			w.writeBits(1, 1) // symbol 0 is 0
		})}, 10, data, "starts no code"},
		{"padding bits after a final block", 15, false, [][]byte{build(func(w *blockWriter) {
			w.header(true, 1)
			w.fixed('a')
			w.fixed(endOfBlock)
			w.writeBits(0b100000, 6)
		})}, 10, data, "padding bits 0x20 after a final block"},
		{"1 MiB of zeros over a limit of 1000", 15, false,
			mustFlateCompress(t, [][]byte{zeros}, 9, flateFresh), 1000, limit, "output over limit 1000 bytes"},
		{"a stored block over the limit", 15, false,
			[][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00}}, 4, limit, "output over limit 4 bytes"},
		{"a literal over the limit", 15, false, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, 4, limit, "over limit 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflater(tt.bits, tt.takeover)
			last := len(tt.messages) - 1
			for _, m := range tt.messages[:last] {
				if _, err := f.inflate(nil, m, tt.limit); err != nil {
					t.Fatalf("an earlier message: %v", err)
				}
			}
			hist := bytes.Clone(f.hist)
			got, err := f.inflate([]byte("dst"), tt.messages[last], tt.limit)
			if err == nil {
				t.Fatalf("inflated to %d bytes, want an error", len(got))
			}
			if string(got) != "dst" {
				t.Errorf("returned %q on error, want dst as it was", got)
			}
			if cap(got) > 8<<10 {
				t.Errorf("the output grew to %d bytes before the error", cap(got))
			}
			if !bytes.Equal(f.hist, hist) {
				t.Errorf("the history changed on error")
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			var (
				we *windowError
				de *dataError
				le *limitError
			)
			switch tt.want {
			case window, previous:
				if !errors.As(err, &we) || we.previous != (tt.want == previous) {
					t.Errorf("got %v, want a window error (previous message: %v)", err, tt.want == previous)
				}
			case data, incomplete:
				if !errors.As(err, &de) || errors.Is(err, errIncompleteCode) != (tt.want == incomplete) {
					t.Errorf("got %v, want invalid data (incomplete code: %v)", err, tt.want == incomplete)
				}
				if !strings.HasPrefix(err.Error(), "invalid deflate data: ") {
					t.Errorf("error %q does not say it is invalid data", err)
				}
			case limit:
				if !errors.As(err, &le) {
					t.Errorf("got %v, want a limit error", err)
				}
			}
		})
	}
}

// BenchmarkInflater_Inflate inflates 1 MiB of text that compress/flate
// compressed.
func BenchmarkInflater_Inflate(b *testing.B) {
	msg := deflateText(1<<20, 10)
	compressed, err := flateCompress([][]byte{msg}, 6, flateFresh)
	if err != nil {
		b.Fatal(err)
	}
	data := compressed[0]
	f := newInflater(15, false)
	var out []byte
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var err error
		if out, err = f.inflate(out[:0], data, len(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeflater_Compress compresses 1 MiB of text with a 32 KiB window.
func BenchmarkDeflater_Compress(b *testing.B) {
	msg := deflateText(1<<20, 11)
	d := newDeflater(15, false)
	var out []byte
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		out = d.compress(out[:0], msg)
	}
}

// FuzzInflate checks the inflater against compress/flate: it never panics
// or hangs, what it accepts compress/flate decodes to the same bytes, and
// what compress/flate decodes cleanly it accepts too, but for the two
// things it is stricter about (errIncompleteCode, errNotFlushed). An
// inflater with a smaller window must agree except where it finds a
// window error. Each input is also inflated a second time, as the next
// message, with the first as its history.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	f.Add([]byte{0xf2, 0x00, 0x11, 0x00, 0x00})
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00})
	f.Add([]byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00})
	f.Add(newDeflater(9, false).compress(nil, deflateText(2000, 12)))
	for _, level := range []int{1, 9, flate.HuffmanOnly} {
		data, err := flateCompress([][]byte{deflateText(3000, 13)}, level, flateFresh)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[0])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const bound = 1 << 16
		in := newInflater(15, true)
		got, err := in.inflate(nil, data, bound)
		checkAgainstFlate(t, data, nil, got, err, bound)

		// Up to a window error of the smaller window, both inflate the same.
		got9, err9 := newInflater(9, true).inflate(nil, data, bound)
		switch kind := errorKind(err9); {
		case err9 == nil:
			if err != nil || !bytes.Equal(got9, got) {
				t.Fatalf("window 15: %v; window 9 inflates where window 15 does not or differently", err)
			}
		case kind != "window" && kind != errorKind(err):
			t.Fatalf("window 9: %v; window 15: %v", err9, err)
		}

		if err == nil {
			hist := bytes.Clone(in.hist)
			got2, err2 := in.inflate(nil, data, bound)
			checkAgainstFlate(t, data, hist, got2, err2, bound)
		}
	})
}

// errorKind tells the inflater's errors apart.
func errorKind(err error) string {
	var (
		we *windowError
		de *dataError
		le *limitError
	)
	switch {
	case errors.As(err, &we):
		return "window"
	case errors.As(err, &de):
		return "data"
	case errors.As(err, &le):
		return "limit"
	case err != nil:
		return "other"
	}
	return ""
}

// checkAgainstFlate compares the inflater's result (got, err) for data,
// inflated with history dict, with what compress/flate makes of it.
func checkAgainstFlate(t *testing.T, data, dict, got []byte, err error, bound int) {
	t.Helper()
	var le *limitError
	if errors.As(err, &le) {
		return
	}
	if err == nil {
		want, ferr := flateStream(append(bytes.Clone(data), deflateTail[:]...), dict, bound)
		if ferr != nil && ferr != io.ErrUnexpectedEOF {
			t.Fatalf("the inflater accepts what compress/flate rejects: %v", ferr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the inflater gives %q, compress/flate %q", got, want)
		}
	}
	// Whether data, and after it a final block, is a clean DEFLATE stream
	// for compress/flate: two different final blocks, for a stream that
	// ends in the first would run into them.
	a, okA := flateClean(data, dict, []byte{0x01, 0x00, 0x00, 0xff, 0xff}, bound)
	b, okB := flateClean(data, dict, []byte{0x03, 0x00}, bound)
	if !okA || !okB || !bytes.Equal(a, b) {
		return
	}
	if err != nil {
		if errors.Is(err, errIncompleteCode) || errors.Is(err, errNotFlushed) {
			return
		}
		t.Fatalf("the inflater rejects what compress/flate decodes to %q: %v", a, err)
	}
	if !bytes.Equal(got, a) {
		t.Fatalf("the inflater gives %q, compress/flate %q", got, a)
	}
}

// flateStream decodes in with compress/flate, and the blocks after each
// final block as a new stream with the same history, as the inflater
// takes them.
func flateStream(in, dict []byte, bound int) ([]byte, error) {
	r := bytes.NewReader(in)
	var out []byte
	for {
		hist := append(bytes.Clone(dict), out...)
		p, err := io.ReadAll(io.LimitReader(flate.NewReaderDict(r, hist[max(0, len(hist)-32768):]), int64(bound+1-len(out))))
		out = append(out, p...)
		if err != nil || len(out) > bound || r.Len() == 0 {
			return out, err
		}
	}
}

// flateClean returns what compress/flate decodes data, the 4 octets that
// RFC 7692 appends and final to, and whether it decodes the whole of it
// without error.
func flateClean(data, dict, final []byte, bound int) ([]byte, bool) {
	in := append(append(bytes.Clone(data), deflateTail[:]...), final...)
	r := bytes.NewReader(in)
	out, err := io.ReadAll(io.LimitReader(flate.NewReaderDict(r, dict), int64(bound+1)))
	return out, err == nil && r.Len() == 0 && len(out) <= bound
}

// TestCompressedZeros checks the bomb builder: compress/flate and the
// inflater both make n zeros of it, whatever n leaves after the matches.
func TestCompressedZeros(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 258, 259, 260, 261, 262, 1000, 1 << 20} {
		data := compressedZeros(n)
		r := flate.NewReader(bytes.NewReader(append(append([]byte(nil), data...), deflateTail[:]...)))
		got, err := io.ReadAll(r)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("n=%d: compress/flate: %v", n, err)
		}
		if len(got) != n || bytes.Count(got, []byte{0}) != n {
			t.Fatalf("n=%d: compress/flate made %d bytes", n, len(got))
		}
		out, err := newInflater(8, false).inflate(nil, data, n)
		if err != nil || len(out) != n || bytes.Count(out, []byte{0}) != n {
			t.Fatalf("n=%d: inflater made %d bytes, %v", n, len(out), err)
		}
	}
	if n := len(compressedZeros(16 << 20)); n > 16<<20/150 {
		t.Errorf("16 MiB of zeros compress to %d bytes", n)
	}
}
