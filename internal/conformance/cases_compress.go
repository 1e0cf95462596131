package conformance

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// compressionCases is category 12: permessage-deflate (RFC 7692) with the
// default offer, under which both sides keep their LZ77 context from one
// message to the next. Each echo case sends a series of compressed
// messages one after the other and expects each back (compressed or not,
// as the server chooses); with context takeover the harness's messages
// refer to the ones before, and so do the server's if it compresses well.
// The harness inflates with its own decoder (deflate.go), which fails the
// case when the server's data refers beyond its window or its history.
// Then the compressed messages that the server must refuse.
func compressionCases() []Case {
	const offer = extPMD
	var cs []Case
	for g, kind := range payloadKinds {
		for i, n := range []int{16, 64, 256, 1024, 4096, 16384, 65536, 131072} {
			cs = append(cs, Case{
				ID:    id(12, g+1, i+1),
				Name:  fmt.Sprintf("%d compressed %s messages of %s", messagesPerCase, kind.name, sizeName(int64(n))),
				Offer: offer,
				Run:   compressedEchoes(kind, n, 0),
			})
		}
	}
	for i, n := range []int{64, 1024, 16384, 131072} {
		cs = append(cs, Case{
			ID:    id(12, len(payloadKinds)+1, i+1),
			Name:  fmt.Sprintf("%d compressed text messages of %s, each in 4 frames", messagesPerCase, sizeName(int64(n))),
			Offer: offer,
			Run:   compressedEchoes(payloadKinds[0], n, 4),
		})
	}
	g := len(payloadKinds) + 2
	cs = append(cs,
		Case{ID: id(12, g, 1), Name: "compressed message in 1-byte frames, in 1-byte writes", Offer: offer, Run: func(s *Session) error {
			p := []byte(strings.Repeat("Hello, compressed world! ", 8))
			data := s.compress(p)
			frames := []Frame{{Opcode: OpText, RSV: RSV1, Payload: data[:1]}}
			for i := 1; i < len(data); i++ {
				frames = append(frames, Frame{Opcode: OpContinuation, Payload: data[i : i+1]})
			}
			frames[len(frames)-1].Fin = true
			s.SendChunked(1, frames...)
			return s.ExpectMessage(OpText, p)
		}},
		Case{ID: id(12, g, 2), Name: "empty compressed message (a single 0x00, RFC 7692 §7.2.3.6)", Offer: offer, Run: func(s *Session) error {
			s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpText, Payload: []byte{0x00}})
			if err := s.ExpectMessage(OpText, nil); err != nil {
				return err
			}
			return s.sendCompressedEcho(OpText, []byte("after the empty message"), 0)
		}},
		Case{ID: id(12, g, 3), Name: "uncompressed message between compressed ones", Offer: offer, Run: func(s *Session) error {
			p := payload(OpText, 300)
			if err := s.sendCompressedEcho(OpText, p, 0); err != nil {
				return err
			}
			// An uncompressed message is not part of the LZ77 history
			// (RFC 7692 §7.2.3.2): the next compressed one refers to the
			// first.
			s.Send(text("uncompressed, in between"))
			if err := s.ExpectMessage(OpText, []byte("uncompressed, in between")); err != nil {
				return err
			}
			return s.sendCompressedEcho(OpText, p, 0)
		}},
		Case{ID: id(12, g, 4), Name: "pings between the frames of a compressed message", Offer: offer, Run: func(s *Session) error {
			p := payload(OpText, 2000)
			data := s.compress(p)
			third := len(data) / 3
			s.Send(
				Frame{Opcode: OpText, RSV: RSV1, Payload: data[:third]}, ping("one"),
				Frame{Opcode: OpContinuation, Payload: data[third : 2*third]}, ping("two"),
				Frame{Fin: true, Opcode: OpContinuation, Payload: data[2*third:]},
			)
			return s.ExpectPongsAndMessage([][]byte{[]byte("one"), []byte("two")}, OpText, p)
		}},
		Case{ID: id(12, g, 5), Name: "compressed message ending in a final block (BFINAL, RFC 7692 §7.2.3.4)", Offer: offer, Run: func(s *Session) error {
			// A stored block with BFINAL set holding "final", then the
			// next message starts a new DEFLATE stream.
			final := []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'f', 'i', 'n', 'a', 'l'}
			s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpText, Payload: final})
			if err := s.ExpectMessage(OpText, []byte("final")); err != nil {
				return err
			}
			return s.sendCompressedEcho(OpText, []byte("the message after a final block"), 0)
		}},
	)

	g++
	bomb := func(s *Session) error {
		limit := s.Target().MaxMessageSize
		if limit <= 0 || limit > maxTestedLimit {
			return Skipped("no MaxMessageSize to exceed")
		}
		// Zeros compress about a hundred-and-fifty-fold: the server
		// must stop inflating at its limit, not after the whole message.
		s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpBinary, Payload: compressedZeros(int(limit) + 1)})
		return s.ExpectClose(1009)
	}
	cs = append(cs,
		Case{ID: id(12, g, 1), Name: "ping with RSV1", Offer: offer, Run: echoThenCloses(1002, 0, Frame{Fin: true, RSV: RSV1, Opcode: OpPing, Payload: []byte("compressed?")})},
		Case{ID: id(12, g, 2), Name: "close with RSV1", Offer: offer, Run: closes(1002, 0, Frame{Fin: true, RSV: RSV1, Opcode: OpClose, Payload: []byte{0x03, 0xe8}})},
		Case{ID: id(12, g, 3), Name: "RSV1 on a continuation frame", Offer: offer, Run: func(s *Session) error {
			data := s.compress([]byte("Hello, compressed world!"))
			s.Send(Frame{Opcode: OpText, RSV: RSV1, Payload: data[:4]}, Frame{Fin: true, RSV: RSV1, Opcode: OpContinuation, Payload: data[4:]})
			return s.ExpectClose(1002)
		}},
		Case{ID: id(12, g, 4), Name: "RSV2 on a data frame", Offer: offer, Run: echoThenCloses(1002, 0, Frame{Fin: true, RSV: RSV2, Opcode: OpText, Payload: []byte("Hello")})},
		Case{ID: id(12, g, 5), Name: "RSV1 and RSV2 on a data frame", Offer: offer, Run: echoThenCloses(1002, 0, Frame{Fin: true, RSV: RSV1 | RSV2, Opcode: OpText, Payload: []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}})},
		Case{ID: id(12, g, 6), Name: "invalid DEFLATE data (block type 3)", Offer: offer, Run: func(s *Session) error {
			s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpBinary, Payload: []byte{0x07, 0x00, 0x00}})
			return s.ExpectClose(1007, 1002)
		}},
		Case{ID: id(12, g, 7), Name: "DEFLATE back-reference before the start of the stream", Offer: offer, Run: func(s *Session) error {
			// A fixed-Huffman block whose first symbol is a length-3
			// match at distance 1: there is nothing to copy.
			s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpBinary, Payload: []byte{0x02, 0x02, 0x00}})
			return s.ExpectClose(1007, 1002)
		}},
		Case{ID: id(12, g, 8), Name: "compressed text that inflates to invalid UTF-8", Offer: offer, Run: func(s *Session) error {
			s.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpText, Payload: s.compress([]byte("valid, then \xed\xa0\x80 a surrogate"))})
			return s.ExpectClose(1007)
		}},
		Case{ID: id(12, g, 9), Name: "compressed message that inflates past MaxMessageSize", Offer: offer, Run: bomb},
	)
	return cs
}

// compressionParameterCases is category 13: each parameter of
// permessage-deflate (RFC 7692 §7.1), offered alone and in combination.
// The messages repeat a random block, at distances that a window of 8 to
// 15 bits may or may not reach, and each is sent several times: a server
// that compresses beyond its window or refers to an earlier message
// without context takeover is caught by the harness's decoder; a server
// that inflates with less history than the client's window allows fails
// the echo. Then offers the server must decline, or accept, by the rules of
// RFC 7692 §5 and §7.1.
func compressionParameterCases() []Case {
	offers := []string{
		extPMD,
		extPMD + "; " + pmdClientNoTakeover,
		extPMD + "; " + pmdServerNoTakeover,
		extPMD + "; " + pmdClientNoTakeover + "; " + pmdServerNoTakeover,
		extPMD + "; " + pmdClientWindowBits,
		extPMD + "; " + pmdClientWindowBits + "=8",
		extPMD + "; " + pmdClientWindowBits + "=12",
		extPMD + "; " + pmdServerWindowBits + "=8",
		extPMD + "; " + pmdServerWindowBits + "=12",
		extPMD + "; " + pmdServerWindowBits + "=9; " + pmdClientWindowBits + "=9; " + pmdServerNoTakeover + "; " + pmdClientNoTakeover,
		extPMD + "; " + pmdServerWindowBits + "=10; " + pmdClientWindowBits + "=10",
	}
	var cs []Case
	for g, offer := range offers {
		for i, n := range []int{64, 600, 3000, 40000, 131072} {
			cs = append(cs, Case{
				ID:    id(13, g+1, i+1),
				Name:  fmt.Sprintf("%s: %d messages of %s repeating a block of %s", offer, messagesPerCase, sizeName(int64(n)), sizeName(int64(n/2))),
				Offer: offer,
				Run:   compressedEchoes(repeatedBlock, n, 0),
			})
		}
	}

	// Offers with an invalid parameter: declined (§5), and the connection
	// works uncompressed.
	g := len(offers) + 1
	for i, offer := range []string{
		extPMD + "; " + pmdServerWindowBits + "=7",
		extPMD + "; " + pmdServerWindowBits + "=16",
		extPMD + "; " + pmdServerWindowBits + "=010",
		extPMD + "; " + pmdServerWindowBits,
		extPMD + "; " + pmdClientWindowBits + "=0",
		extPMD + "; " + pmdServerNoTakeover + "=1",
		extPMD + "; " + pmdServerNoTakeover + "; " + pmdServerNoTakeover,
		extPMD + "; " + pmdClientWindowBits + "=10; " + pmdClientWindowBits + "=11",
		extPMD + "; x_unknown_parameter",
	} {
		cs = append(cs, Case{
			ID: id(13, g, i+1), Name: "decline " + offer, Offer: offer,
			// agree fails the handshake if the server accepts.
			Run: echo(text("uncompressed"), 0),
		})
	}
	// An invalid offer, then a valid one: the valid one is accepted (agree
	// checks that the answer honors it) and used.
	g++
	for i, offer := range []string{
		extPMD + "; " + pmdServerWindowBits + "=7, " + extPMD + "; " + pmdClientNoTakeover,
		"x-webkit-deflate-frame, " + extPMD + "; " + pmdServerWindowBits + "=11",
		extPMD + "; " + pmdServerWindowBits + "=11, " + extPMD,
	} {
		cs = append(cs, Case{
			ID: id(13, g, i+1), Name: "accept a valid offer of " + offer, Offer: offer,
			Run: compressedEchoes(repeatedBlock, 4000, 0),
		})
	}
	return cs
}

// messagesPerCase is how many messages an echo case of categories 12 and
// 13 sends, one after the other: enough for the context of one message
// to serve the next several times.
const messagesPerCase = 8

// payloadKind makes the payloads of one kind: message i of a case, of
// n bytes. Each is deterministic.
type payloadKind struct {
	name string
	op   Opcode
	make func(n, i int) []byte
}

var (
	textKind   = payloadKind{"text", OpText, func(n, _ int) []byte { return payload(OpText, n) }}
	binaryKind = payloadKind{"binary", OpBinary, func(n, _ int) []byte { return payload(OpBinary, n) }}
	// randomKind does not compress: a server may send it uncompressed,
	// and a harness that compresses it anyway sends mostly literals.
	randomKind = payloadKind{"random binary", OpBinary, func(n, i int) []byte { return randomBytes(n, uint64(i)) }}
	zerosKind  = payloadKind{"all-zero binary", OpBinary, func(n, _ int) []byte { return make([]byte, n) }}
	// jsonKind is text that changes a little from message to message,
	// like a feed's updates: context takeover pays off.
	jsonKind = payloadKind{"JSON-like text", OpText, func(n, i int) []byte {
		var b bytes.Buffer
		for k := 0; b.Len() < n; k++ {
			fmt.Fprintf(&b, `{"seq":%d,"symbol":"WSG%d","bid":%d.%02d,"ask":%d.%02d},`, i*1000+k, k%7, 100+k%13, (i+k)%100, 101+k%11, (i*k)%100)
		}
		return b.Bytes()[:n]
	}}
	// repeatedBlock is a random block of n/2 bytes twice: the second half
	// compresses only with a window of at least n/2, and a message sent
	// twice compresses only with context takeover and a window of n.
	repeatedBlock = payloadKind{"binary", OpBinary, func(n, _ int) []byte {
		b := randomBytes((n+1)/2, uint64(n))
		return append(b, b[:n-len(b)]...)
	}}
)

var payloadKinds = []payloadKind{textKind, binaryKind, randomKind, zerosKind, jsonKind}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x77736761)) //nolint:gosec // a fixed, reproducible payload
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// compressedEchoes is a case that sends messagesPerCase compressed
// messages of kind and size n, each in frames compressed data cut into
// frames parts (one frame if 0 or 1), and expects the echo of each before
// it sends the next.
func compressedEchoes(kind payloadKind, n, frames int) func(*Session) error {
	return func(s *Session) error {
		for i := range messagesPerCase {
			if err := s.sendCompressedEcho(kind.op, kind.make(n, i), frames); err != nil {
				return fmt.Errorf("message %d of %d: %w", i+1, messagesPerCase, err)
			}
		}
		return nil
	}
}

// sendCompressedEcho sends p compressed, in parts frames (one if 0), and
// expects it back.
func (s *Session) sendCompressedEcho(op Opcode, p []byte, parts int) error {
	data := s.compress(p)
	parts = max(1, min(parts, len(data)))
	var fs []Frame
	for k := range parts {
		f := Frame{Opcode: OpContinuation, Payload: data[k*len(data)/parts : (k+1)*len(data)/parts]}
		if k == 0 {
			f.Opcode, f.RSV = op, RSV1
		}
		fs = append(fs, f)
	}
	fs[len(fs)-1].Fin = true
	s.Send(fs...)
	return s.ExpectMessage(op, p)
}

// compress is p compressed as the harness agreed to (its window and
// context takeover), to send as the payload of a message with RSV1. The
// cases that call it offer valid parameters, so a session exists only
// with an agreement: dial fails when a target that compresses declines.
func (s *Session) compress(p []byte) []byte { return s.pmd.out.compress(nil, p) }
