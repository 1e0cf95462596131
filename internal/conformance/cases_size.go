package conformance

import "fmt"

// maxTestedLimit is the largest MaxMessageSize that the limit cases send a
// message of; above it they are skipped.
const maxTestedLimit = 64 << 20

// largeMessageCases is category 9: large messages in one frame (9.1, 9.2)
// and in frames of 64 KiB, or of a quarter of the message if that is less
// (9.3, 9.4), echoed exactly. The harness generates the payload as it
// writes it and compares the echo as it reads it, so no copy of a message
// is kept; the comparison reports the offset of the first wrong byte. A size
// above Target.MaxMessageSize is skipped.
func largeMessageCases() []Case {
	var cs []Case
	for g, grp := range []struct {
		op         Opcode
		fragmented bool
	}{{OpText, false}, {OpBinary, false}, {OpText, true}, {OpBinary, true}} {
		for i, n := range []int64{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20} {
			var frame int64
			how := "in one frame"
			if grp.fragmented {
				frame = min(64<<10, n/4) // at least 4 frames
				how = "in " + sizeName(frame) + " frames"
			}
			cs = append(cs, Case{
				ID:    id(9, g+1, i+1),
				Name:  fmt.Sprintf("%s of %s %s", grp.op, sizeName(n), how),
				Heavy: n >= 1<<20,
				Run: func(s *Session) error {
					if m := s.Target().MaxMessageSize; m > 0 && n > m {
						return Skipped(fmt.Sprintf("%d bytes is more than MaxMessageSize (%d)", n, m))
					}
					s.goSendGenerated(grp.op, n, frame)
					return s.expectGenerated(grp.op, n)
				},
			})
		}
	}
	return cs
}

// limitCases is category 10: the server's limit on a message, when the
// target states one. A message of exactly MaxMessageSize is echoed; one byte
// more, whether in one frame or in many, closes the connection with 1009
// (RFC 6455 §7.4.1: "a message that is too big for it to process"). The
// whole message is sent: a server may close as soon as a frame header
// announces too much, or when the total passes the limit.
func limitCases() []Case {
	limit := func(op Opcode, extra int64, fragmented bool) func(*Session) error {
		return func(s *Session) error {
			m := s.Target().MaxMessageSize
			switch {
			case m <= 0:
				return Skipped("Target.MaxMessageSize is 0: no limit to test")
			case m > maxTestedLimit:
				return Skipped(fmt.Sprintf("MaxMessageSize (%d) is more than this suite sends (%d)", m, maxTestedLimit))
			}
			n := m + extra
			var frame int64
			if fragmented {
				frame = min(64<<10, max(1, n/4))
			}
			s.goSendGenerated(op, n, frame)
			if extra > 0 {
				return s.ExpectClose(1009)
			}
			return s.expectGenerated(op, n)
		}
	}
	return []Case{
		{ID: "10.1.1", Name: "text of MaxMessageSize in one frame", Heavy: true, Run: limit(OpText, 0, false)},
		{ID: "10.1.2", Name: "binary of MaxMessageSize in fragments", Heavy: true, Run: limit(OpBinary, 0, true)},
		{ID: "10.1.3", Name: "text of MaxMessageSize+1 in one frame", Heavy: true, Run: limit(OpText, 1, false)},
		{ID: "10.1.4", Name: "binary of MaxMessageSize+1 in one frame", Heavy: true, Run: limit(OpBinary, 1, false)},
		{ID: "10.1.5", Name: "text of MaxMessageSize+1 in fragments", Heavy: true, Run: limit(OpText, 1, true)},
		{ID: "10.1.6", Name: "binary of MaxMessageSize+1 in fragments", Heavy: true, Run: limit(OpBinary, 1, true)},
	}
}

// sizeName writes n in KiB or MiB when it is a whole number of them.
func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
