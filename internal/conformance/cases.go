package conformance

import "fmt"

// Cases returns the case table, in order: a new slice on each call, which
// the caller may filter and pass to RunCases.
func Cases() []Case {
	var cs []Case
	for _, group := range [][]Case{
		framingCases(),              // 1
		pingCases(),                 // 2
		reservedBitsCases(),         // 3
		opcodeCases(),               // 4
		fragmentationCases(),        // 5
		utf8Cases(),                 // 6
		closeCases(),                // 7
		largeMessageCases(),         // 9
		limitCases(),                // 10
		compressionCases(),          // 12
		compressionParameterCases(), // 13
	} {
		cs = append(cs, group...)
	}
	return cs
}

// CompressionCases returns the cases of Cases that offer
// permessage-deflate (categories 12 and 13), for a target that compresses.
func CompressionCases() []Case {
	var cs []Case
	for _, c := range Cases() {
		if c.Offer != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// Frames of the cases. Each is final unless its name says otherwise.

func text(p string) Frame { return Frame{Fin: true, Opcode: OpText, Payload: []byte(p)} }
func bin(p []byte) Frame  { return Frame{Fin: true, Opcode: OpBinary, Payload: p} }
func ping(p string) Frame { return Frame{Fin: true, Opcode: OpPing, Payload: []byte(p)} }
func pong(p string) Frame { return Frame{Fin: true, Opcode: OpPong, Payload: []byte(p)} }

// fragment is a data frame of a fragmented message: op is OpText or
// OpBinary for the first, OpContinuation for the others.
func fragment(op Opcode, p string, fin bool) Frame {
	return Frame{Fin: fin, Opcode: op, Payload: []byte(p)}
}

// closeFrame is a close frame with code and reason.
func closeFrame(code uint16, reason string) Frame {
	p := append([]byte{byte(code >> 8), byte(code)}, reason...)
	return Frame{Fin: true, Opcode: OpClose, Payload: p}
}

// fragments cuts p into frames of a message of type op at the given
// offsets.
func fragments(op Opcode, p string, cuts ...int) []Frame {
	var fs []Frame
	start := 0
	for _, c := range append(cuts, len(p)) {
		fs = append(fs, fragment(op, p[start:c], false))
		op, start = OpContinuation, c
	}
	fs[len(fs)-1].Fin = true
	return fs
}

// eachByte cuts p into one frame per byte (one empty frame if p is empty).
func eachByte(op Opcode, p string) []Frame {
	cuts := make([]int, 0, len(p))
	for i := 1; i < len(p); i++ {
		cuts = append(cuts, i)
	}
	return fragments(op, p, cuts...)
}

// id formats a case number: id(5, 14) is "5.14".
func id(parts ...int) string {
	s := fmt.Sprint(parts[0])
	for _, p := range parts[1:] {
		s += fmt.Sprintf(".%d", p)
	}
	return s
}

// echo is a case that sends the final data frame f (in writes of chunk
// bytes; 0: one write) and expects it back.
func echo(f Frame, chunk int) func(*Session) error {
	return func(s *Session) error {
		s.SendChunked(chunk, f)
		return s.ExpectMessage(f.Opcode, f.Payload)
	}
}

// echoFragments is a case that sends the frames of one message (in writes
// of chunk bytes) and expects the whole message back.
func echoFragments(chunk int, frames ...Frame) func(*Session) error {
	var p []byte
	for _, f := range frames {
		p = append(p, f.Payload...)
	}
	return func(s *Session) error {
		s.SendChunked(chunk, frames...)
		return s.ExpectMessage(frames[0].Opcode, p)
	}
}

// closes is a case that sends frames (in writes of chunk bytes) and
// expects the server to close with code, and nothing before.
func closes(code int, chunk int, frames ...Frame) func(*Session) error {
	return func(s *Session) error {
		s.SendChunked(chunk, frames...)
		return s.ExpectClose(code)
	}
}

// echoThenCloses is a case that sends a valid text message followed by
// frames (all in writes of chunk bytes), and expects the echo of the
// message, then close with code.
func echoThenCloses(code int, chunk int, frames ...Frame) func(*Session) error {
	const hello = "Hello, world!"
	return func(s *Session) error {
		s.SendChunked(chunk, append([]Frame{text(hello)}, frames...)...)
		if err := s.ExpectMessage(OpText, []byte(hello)); err != nil {
			return err
		}
		return s.ExpectClose(code)
	}
}
