package conformance

import (
	"fmt"
	"time"
)

// fragmentationCases is category 5: fragmented messages (RFC 6455 §5.4):
// control frames may not be fragmented but may come between fragments; a
// continuation needs a started message, and a started message needs its
// continuations.
func fragmentationCases() []Case {
	const (
		part1 = "fragment1"
		part2 = "fragment2"
	)
	return []Case{
		{ID: "5.1", Name: "ping in 2 fragments", Run: closes(1002, 0,
			Frame{Opcode: OpPing, Payload: []byte(part1)}, fragment(OpContinuation, part2, true))},
		{ID: "5.2", Name: "pong in 2 fragments", Run: closes(1002, 0,
			Frame{Opcode: OpPong, Payload: []byte(part1)}, fragment(OpContinuation, part2, true))},
		{ID: "5.3", Name: "close with FIN clear", Run: closes(1002, 0,
			Frame{Opcode: OpClose, Payload: closeFrame(1000, "").Payload})},

		{ID: "5.4", Name: "text in 2 fragments", Run: echoFragments(0,
			fragment(OpText, part1, false), fragment(OpContinuation, part2, true))},
		{ID: "5.5", Name: "text in 2 fragments in 1-byte writes", Run: echoFragments(1,
			fragment(OpText, part1, false), fragment(OpContinuation, part2, true))},
		{ID: "5.6", Name: "binary in 2 fragments", Run: echoFragments(0,
			fragment(OpBinary, part1, false), fragment(OpContinuation, part2, true))},
		{ID: "5.7", Name: "text in 2 fragments with a ping between", Run: pingsBetween(0, 0, part1, part2)},
		{ID: "5.8", Name: "text in 2 fragments with a ping between, in 1-byte writes", Run: pingsBetween(1, 0, part1, part2)},
		{ID: "5.9", Name: "text in 2 fragments with a pong between", Run: func(s *Session) error {
			s.Send(fragment(OpText, part1, false), pong("between"), fragment(OpContinuation, part2, true))
			return s.ExpectMessage(OpText, []byte(part1+part2))
		}},
		{ID: "5.10", Name: "text in 5 fragments with pings between, in separate writes", Run: pingsBetween(0, 20*time.Millisecond,
			"fragment1", "fragment2", "fragment3", "fragment4", "fragment5")},
		{ID: "5.11", Name: "text in 1-byte fragments", Run: echoFragments(0, eachByte(OpText, "Hello, world!")...)},
		{ID: "5.12", Name: "binary with empty fragments", Run: echoFragments(0,
			fragment(OpBinary, "", false), fragment(OpContinuation, "\x00\x01\x02", false),
			fragment(OpContinuation, "", false), fragment(OpContinuation, "", true))},
		{ID: "5.13", Name: "text of empty fragments only", Run: echoFragments(0,
			fragment(OpText, "", false), fragment(OpContinuation, "", false), fragment(OpContinuation, "", true))},

		{ID: "5.14", Name: "continuation with FIN and no message started, then text", Run: closes(1002, 0,
			fragment(OpContinuation, part1, true), text("Hello"))},
		{ID: "5.15", Name: "continuation without FIN and no message started, then text", Run: closes(1002, 0,
			fragment(OpContinuation, part1, false), text("Hello"))},
		{ID: "5.16", Name: "continuation with FIN and no message started, then text, in 1-byte writes", Run: closes(1002, 1,
			fragment(OpContinuation, part1, true), text("Hello"))},
		{ID: "5.17", Name: "fragmented text, then continuation with FIN, then text", Run: func(s *Session) error {
			s.Send(fragment(OpText, part1, false), fragment(OpContinuation, part2, true),
				fragment(OpContinuation, "stray", true), text("Hello"))
			if err := s.ExpectMessage(OpText, []byte(part1+part2)); err != nil {
				return err
			}
			return s.ExpectClose(1002)
		}},
		{ID: "5.18", Name: "fragmented text, then continuation without FIN, then text", Run: func(s *Session) error {
			s.Send(fragment(OpText, part1, false), fragment(OpContinuation, part2, true),
				fragment(OpContinuation, "stray", false), text("Hello"))
			if err := s.ExpectMessage(OpText, []byte(part1+part2)); err != nil {
				return err
			}
			return s.ExpectClose(1002)
		}},
		{ID: "5.19", Name: "text fragment, then text frame instead of a continuation", Run: closes(1002, 0,
			fragment(OpText, part1, false), fragment(OpText, part2, true))},
		{ID: "5.20", Name: "text fragment, then binary frame", Run: closes(1002, 0,
			fragment(OpText, part1, false), bin([]byte(part2)))},
		{ID: "5.21", Name: "binary fragment, then ping, then text frame", Run: func(s *Session) error {
			s.Send(fragment(OpBinary, part1, false), ping("between"), text(part2))
			if err := s.ExpectPong([]byte("between")); err != nil {
				return err
			}
			return s.ExpectClose(1002)
		}},
	}
}

// pingsBetween is a case that sends a text message made of parts, one
// fragment each, with a ping between each two, and expects a pong for each
// ping, then the message. With a pause, each frame is a write of its own,
// pause apart; otherwise all go in writes of chunk bytes.
func pingsBetween(chunk int, pause time.Duration, parts ...string) func(*Session) error {
	var frames []Frame
	var pongs [][]byte
	var whole string
	for i, p := range parts {
		op := OpText
		if i > 0 {
			op = OpContinuation
			pg := fmt.Sprintf("ping %d", i)
			frames = append(frames, ping(pg))
			pongs = append(pongs, []byte(pg))
		}
		frames = append(frames, fragment(op, p, i == len(parts)-1))
		whole += p
	}
	return func(s *Session) error {
		if pause > 0 {
			for i, f := range frames {
				if i > 0 {
					time.Sleep(pause)
				}
				s.Send(f)
			}
		} else {
			s.SendChunked(chunk, frames...)
		}
		return s.ExpectPongsAndMessage(pongs, OpText, []byte(whole))
	}
}
