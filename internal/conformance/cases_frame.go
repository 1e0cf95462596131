package conformance

import (
	"encoding/binary"
	"fmt"
)

// framingCases is category 1: data frames of every length encoding (7-bit,
// 16-bit, 64-bit, at their boundaries), written whole and in small pieces,
// and the header itself: masking and the 64-bit length.
func framingCases() []Case {
	var cs []Case
	for g, op := range []Opcode{OpText, OpBinary} {
		for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
			cs = append(cs, Case{
				ID:   id(1, g+1, i+1),
				Name: fmt.Sprintf("%s of %d bytes", op, n),
				Run:  echo(Frame{Fin: true, Opcode: op, Payload: payload(op, n)}, 0),
			})
		}
		for i, c := range []struct{ n, chunk int }{{65536, 997}, {127, 1}, {65536, 1}} {
			cs = append(cs, Case{
				ID:   id(1, g+1, 8+i),
				Name: fmt.Sprintf("%s of %d bytes in %d-byte writes", op, c.n, c.chunk),
				Run:  echo(Frame{Fin: true, Opcode: op, Payload: payload(op, c.n)}, c.chunk),
			})
		}
	}

	cs = append(cs,
		Case{ID: "1.3.1", Name: "three messages in one write", Run: func(s *Session) error {
			s.Send(text("first"), bin([]byte{0, 1, 2, 0xff}), text("third"))
			if err := s.ExpectMessage(OpText, []byte("first")); err != nil {
				return err
			}
			if err := s.ExpectMessage(OpBinary, []byte{0, 1, 2, 0xff}); err != nil {
				return err
			}
			return s.ExpectMessage(OpText, []byte("third"))
		}},
		Case{ID: "1.3.2", Name: "text masked with the all-zero key", Run: func(s *Session) error {
			// A zero key leaves the payload as it is, but the frame is masked.
			s.SendRaw(appendFrame(nil, text("Hello, world!"), true, [4]byte{}))
			return s.ExpectMessage(OpText, []byte("Hello, world!"))
		}},

		// RFC 6455 §5.1: "The server MUST close the connection upon
		// receiving a frame that is not masked ... a server MAY send a
		// Close frame with a status code of 1002".
		Case{ID: "1.4.1", Name: "unmasked text", Run: func(s *Session) error {
			s.SendUnmasked(text("Hello, world!"))
			return s.ExpectClose(1002)
		}},
		Case{ID: "1.4.2", Name: "text then unmasked binary", Run: func(s *Session) error {
			s.Send(text("Hello, world!"))
			s.SendUnmasked(bin([]byte("unmasked")))
			if err := s.ExpectMessage(OpText, []byte("Hello, world!")); err != nil {
				return err
			}
			return s.ExpectClose(1002)
		}},
		Case{ID: "1.4.3", Name: "unmasked ping", Run: func(s *Session) error {
			s.SendUnmasked(ping("unmasked"))
			return s.ExpectClose(1002)
		}},
		Case{ID: "1.4.4", Name: "unmasked close", Run: func(s *Session) error {
			s.SendUnmasked(closeFrame(1000, ""))
			return s.ExpectClose(1002)
		}},
		// RFC 6455 §5.2: in a 64-bit length "the most significant bit MUST
		// be 0". Such a header is not a frame (it has no length at all), so
		// it is a protocol error, and the server must answer it as one:
		// close 1002. A 1009 is not accepted, whatever the server's limit:
		// the header does not announce a big message, it is malformed. A
		// bare TCP close is not accepted either: the connection was
		// established, so the server SHOULD send a close frame (§7.1.7), and
		// this suite holds servers to it.
		Case{ID: "1.4.5", Name: "binary with the most significant bit of its 64-bit length set", Run: func(s *Session) error {
			key := maskKey()
			b := []byte{0x82, 0x80 | 127}
			b = binary.BigEndian.AppendUint64(b, 1<<63|5)
			b = append(b, key[:]...)
			p := []byte("Hello")
			maskBytes(p, key, 0)
			s.SendRaw(append(b, p...))
			return s.ExpectClose(1002)
		}},
	)
	return cs
}

// pingCases is category 2: pings and pongs (RFC 6455 §5.5.2, §5.5.3).
func pingCases() []Case {
	pingPong := func(p []byte, chunk int) func(*Session) error {
		return func(s *Session) error {
			s.SendChunked(chunk, Frame{Fin: true, Opcode: OpPing, Payload: p})
			return s.ExpectPong(p)
		}
	}
	// pongIgnored sends an unsolicited pong, then a text message: the
	// pong must get no answer, and the text its echo.
	pongIgnored := func(p string) func(*Session) error {
		return func(s *Session) error {
			s.Send(pong(p), text("after the pong"))
			return s.ExpectMessage(OpText, []byte("after the pong"))
		}
	}
	// tenPings sends 10 pings with distinct payloads and expects 10 pongs
	// in order. RFC 6455 §5.5.3 lets a server answer only the latest of
	// several pings it has not answered yet; a Target answers each.
	tenPings := func(chunk int) func(*Session) error {
		return func(s *Session) error {
			var fs []Frame
			for i := range 10 {
				fs = append(fs, ping(fmt.Sprintf("ping %d", i)))
			}
			s.SendChunked(chunk, fs...)
			for _, f := range fs {
				if err := s.ExpectPong(f.Payload); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return []Case{
		{ID: "2.1", Name: "ping with empty payload", Run: pingPong(nil, 0)},
		{ID: "2.2", Name: "ping with text payload", Run: pingPong([]byte("Hello, world!"), 0)},
		{ID: "2.3", Name: "ping with binary payload", Run: pingPong([]byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}, 0)},
		{ID: "2.4", Name: "ping with 125-byte payload", Run: pingPong(payload(OpBinary, 125), 0)},
		{ID: "2.5", Name: "ping with 126-byte payload", Run: closes(1002, 0, Frame{Fin: true, Opcode: OpPing, Payload: payload(OpBinary, 126)})},
		{ID: "2.6", Name: "ping with 125-byte payload in 1-byte writes", Run: pingPong(payload(OpBinary, 125), 1)},
		{ID: "2.7", Name: "unsolicited pong with empty payload", Run: pongIgnored("")},
		{ID: "2.8", Name: "unsolicited pong with payload", Run: pongIgnored("unsolicited")},
		{ID: "2.9", Name: "unsolicited pong then ping", Run: func(s *Session) error {
			s.Send(pong("unsolicited"), ping("solicited"))
			return s.ExpectPong([]byte("solicited"))
		}},
		{ID: "2.10", Name: "10 pings in one write", Run: tenPings(0)},
		{ID: "2.11", Name: "10 pings in 1-byte writes", Run: tenPings(1)},
	}
}

// reservedBitsCases is category 3: RSV bits, which no extension gave a
// meaning to (RFC 6455 §5.2: "the receiving endpoint MUST _Fail the
// WebSocket Connection_").
func reservedBitsCases() []Case {
	withRSV := func(f Frame, rsv byte) Frame { f.RSV = rsv; return f }
	return []Case{
		{ID: "3.1", Name: "text with RSV1", Run: closes(1002, 0, withRSV(text("Hello"), RSV1))},
		{ID: "3.2", Name: "text with RSV2", Run: closes(1002, 0, withRSV(text("Hello"), RSV2))},
		{ID: "3.3", Name: "text with RSV3", Run: closes(1002, 0, withRSV(text("Hello"), RSV3))},
		{ID: "3.4", Name: "binary with RSV1 and RSV3", Run: closes(1002, 0, withRSV(bin([]byte{1, 2, 3}), RSV1|RSV3))},
		{ID: "3.5", Name: "ping with RSV1 and RSV2", Run: closes(1002, 0, withRSV(ping("Hello"), RSV1|RSV2))},
		{ID: "3.6", Name: "pong with RSV2", Run: closes(1002, 0, withRSV(pong("Hello"), RSV2))},
		{ID: "3.7", Name: "close with RSV1, RSV2 and RSV3", Run: closes(1002, 0, withRSV(closeFrame(1000, ""), RSV1|RSV2|RSV3))},
		{ID: "3.8", Name: "text, text with RSV2, ping, in one write", Run: echoThenCloses(1002, 0, withRSV(text("Hello"), RSV2), ping("after"))},
		{ID: "3.9", Name: "text, binary with RSV3, ping, in 1-byte writes", Run: echoThenCloses(1002, 1, withRSV(bin([]byte("Hello")), RSV3), ping("after"))},
		{ID: "3.10", Name: "text, then ping with RSV1", Run: echoThenCloses(1002, 0, withRSV(ping("Hello"), RSV1))},
		{ID: "3.11", Name: "fragmented text with RSV1 on the continuation", Run: closes(1002, 0, fragment(OpText, "Hello, ", false), withRSV(fragment(OpContinuation, "world!", true), RSV1))},
		{ID: "3.12", Name: "fragmented text with RSV2 on the first frame", Run: closes(1002, 0, withRSV(fragment(OpText, "Hello, ", false), RSV2), fragment(OpContinuation, "world!", true))},
	}
}

// opcodeCases is category 4: the reserved opcodes, non-control 3-7 (4.1)
// and control 11-15 (4.2) (RFC 6455 §5.2: "If an unknown opcode is
// received, the receiving endpoint MUST _Fail the WebSocket
// Connection_").
func opcodeCases() []Case {
	var cs []Case
	for g, first := range []Opcode{3, 11} {
		op := func(i int) Opcode { return first + Opcode(i) }
		cs = append(cs,
			Case{ID: id(4, g+1, 1), Name: fmt.Sprintf("%s, empty", op(0)),
				Run: closes(1002, 0, Frame{Fin: true, Opcode: op(0)})},
			Case{ID: id(4, g+1, 2), Name: fmt.Sprintf("%s with payload", op(1)),
				Run: closes(1002, 0, Frame{Fin: true, Opcode: op(1), Payload: []byte("reserved")})},
			Case{ID: id(4, g+1, 3), Name: fmt.Sprintf("text, %s, ping", op(2)),
				Run: echoThenCloses(1002, 0, Frame{Fin: true, Opcode: op(2)}, ping("after"))},
			Case{ID: id(4, g+1, 4), Name: fmt.Sprintf("text, %s with payload, ping", op(3)),
				Run: echoThenCloses(1002, 0, Frame{Fin: true, Opcode: op(3), Payload: []byte("reserved")}, ping("after"))},
			Case{ID: id(4, g+1, 5), Name: fmt.Sprintf("text, %s with payload, ping, in 1-byte writes", op(4)),
				Run: echoThenCloses(1002, 1, Frame{Fin: true, Opcode: op(4), Payload: []byte("reserved")}, ping("after"))},
		)
	}
	return cs
}
