package conformance

import (
	"fmt"
	"strings"
)

// closeCases is category 7: the closing handshake (RFC 6455 §5.5.1, §7).
// The server answers a valid close with a close that echoes its code
// (§5.5.1: "the endpoint typically echos the status code it received"; a
// close with no code is answered with no code or 1000), sends nothing after
// it, ignores what the client sends after its close, and closes the TCP
// connection (§7.1.1). An invalid close frame is a protocol error: 1002, or
// 1007 for a reason that is not UTF-8 (§5.5.1: the reason is UTF-8, §8.1).
// ExpectClose checks the TCP close in every case; the harness never
// closes first.
func closeCases() []Case {
	cs := []Case{
		{ID: "7.1.1", Name: "text then close", Run: func(s *Session) error {
			s.Send(text("Hello"), closeFrame(1000, ""))
			if err := s.ExpectMessage(OpText, []byte("Hello")); err != nil {
				return err
			}
			return s.ExpectClose(1000)
		}},
		{ID: "7.1.2", Name: "close twice", Run: closes(1000, 0, closeFrame(1000, ""), closeFrame(1000, ""))},
		{ID: "7.1.3", Name: "close then ping", Run: closes(1000, 0, closeFrame(1000, ""), ping("after close"))},
		{ID: "7.1.4", Name: "close then text", Run: closes(1000, 0, closeFrame(1000, ""), text("after close"))},
		{ID: "7.1.5", Name: "text fragment, close, continuation", Run: closes(1000, 0,
			fragment(OpText, "fragment1", false), closeFrame(1000, ""), fragment(OpContinuation, "fragment2", true))},
		{ID: "7.1.6", Name: "64 KiB text then close in one write", Run: func(s *Session) error {
			p := payload(OpText, 64<<10)
			s.Send(text(string(p)), closeFrame(1000, ""))
			if err := s.ExpectMessage(OpText, p); err != nil {
				return err
			}
			return s.ExpectClose(1000)
		}},

		{ID: "7.3.1", Name: "close with empty payload", Run: func(s *Session) error {
			s.Send(Frame{Fin: true, Opcode: OpClose})
			return s.ExpectClose(NoStatus, 1000)
		}},
		{ID: "7.3.2", Name: "close with 1-byte payload", Run: closes(1002, 0, Frame{Fin: true, Opcode: OpClose, Payload: []byte{0x03}})},
		{ID: "7.3.3", Name: "close 1000 without reason", Run: closes(1000, 0, closeFrame(1000, ""))},
		{ID: "7.3.4", Name: "close 1000 with reason", Run: closes(1000, 0, closeFrame(1000, "Hello World!"))},
		{ID: "7.3.5", Name: "close 1000 with 123-byte reason", Run: closes(1000, 0, closeFrame(1000, strings.Repeat("*", 123)))},
		{ID: "7.3.6", Name: "close 1000 with 124-byte reason (126-byte payload)", Run: closes(1002, 0, closeFrame(1000, strings.Repeat("*", 124)))},

		{ID: "7.5.1", Name: "close 1000 with a surrogate in its reason", Run: closes(1007, 0,
			closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))},
		{ID: "7.5.2", Name: "close 1000 with a reason cut inside a character", Run: closes(1007, 0, closeFrame(1000, "price: \xe2\x82"))},
	}

	// Codes that may be sent (§7.4.1, §7.4.2, and the IANA registry, where
	// 1012-1014 were added after the RFC): echoed.
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cs = append(cs, Case{ID: id(7, 7, i+1), Name: fmt.Sprintf("close %d", code), Run: closes(int(code), 0, closeFrame(code, "code"))})
	}
	// Codes that must not be on the wire: 0-999 are not used, 1004 is
	// reserved, 1005, 1006 and 1015 must never be sent, 1016-2999 are not
	// assigned, nothing above 4999 is defined.
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cs = append(cs, Case{ID: id(7, 9, i+1), Name: fmt.Sprintf("close %d", code), Run: closes(1002, 0, closeFrame(code, "code"))})
	}
	return cs
}
