package conformance

import (
	"fmt"
	"strings"
	"time"
)

// utf8Text is a sample of Markus Kuhn's "UTF-8 decoder capability and stress
// test" (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt), the
// source of Autobahn's category 6. The names give Kuhn's section numbers.
type utf8Text struct {
	name string
	s    string
}

// validUTF8 must be echoed.
var validUTF8 = []utf8Text{
	{"ASCII and Latin-1 letters", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"Greek word kosme (Kuhn 1)", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"},
	{"U+0000 (Kuhn 2.1.1)", "\x00"},
	{"U+0080 (Kuhn 2.1.2)", "\xc2\x80"},
	{"U+0800 (Kuhn 2.1.3)", "\xe0\xa0\x80"},
	{"U+10000 (Kuhn 2.1.4)", "\xf0\x90\x80\x80"},
	{"U+007F (Kuhn 2.2.1)", "\x7f"},
	{"U+07FF (Kuhn 2.2.2)", "\xdf\xbf"},
	{"U+FFFF (Kuhn 2.2.3)", "\xef\xbf\xbf"},
	{"U+D7FF (Kuhn 2.3.1)", "\xed\x9f\xbf"},
	{"U+E000 (Kuhn 2.3.2)", "\xee\x80\x80"},
	{"U+FFFD (Kuhn 2.3.3)", "\xef\xbf\xbd"},
	{"U+10FFFF (Kuhn 2.3.4)", "\xf4\x8f\xbf\xbf"},
	{"noncharacter U+FFFE (Kuhn 5.3.1)", "\xef\xbf\xbe"},
	{"noncharacter U+FDD0 (Kuhn 5.3.3)", "\xef\xb7\x90"},
	{"noncharacter U+FDEF (Kuhn 5.3.3)", "\xef\xb7\xaf"},
	{"noncharacters U+1FFFE U+10FFFF (Kuhn 5.3.4)", "\xf0\x9f\xbf\xbe\xf4\x8f\xbf\xbf"},
	{"4-byte sequences among ASCII", "clef \xf0\x9d\x84\x9e, smile \xf0\x9f\x98\x80."},
}

// invalidUTF8 must make the server close with 1007.
var invalidUTF8 = []utf8Text{
	{"kosme with a surrogate", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"},
	{"first 5-byte sequence (Kuhn 2.1.5)", "\xf8\x88\x80\x80\x80"},
	{"first 6-byte sequence (Kuhn 2.1.6)", "\xfc\x84\x80\x80\x80\x80"},
	{"last 4-byte sequence U+1FFFFF (Kuhn 2.2.4)", "\xf7\xbf\xbf\xbf"},
	{"last 5-byte sequence (Kuhn 2.2.5)", "\xfb\xbf\xbf\xbf\xbf"},
	{"last 6-byte sequence (Kuhn 2.2.6)", "\xfd\xbf\xbf\xbf\xbf\xbf"},
	{"U+110000 (Kuhn 2.3.5)", "\xf4\x90\x80\x80"},
	{"lone continuation 80 (Kuhn 3.1.1)", "\x80"},
	{"lone continuation BF (Kuhn 3.1.2)", "\xbf"},
	{"2 continuations (Kuhn 3.1.3)", "\x80\xbf"},
	{"3 continuations (Kuhn 3.1.4)", "\x80\xbf\x80"},
	{"6 continuations (Kuhn 3.1.7)", "\x80\xbf\x80\xbf\x80\xbf"},
	{"all 64 continuation bytes (Kuhn 3.1.9)", allBytes(0x80, 0xbf, "")},
	{"2-byte starts each followed by a space (Kuhn 3.2.1)", allBytes(0xc0, 0xdf, " ")},
	{"3-byte starts each followed by a space (Kuhn 3.2.2)", allBytes(0xe0, 0xef, " ")},
	{"4-byte starts each followed by a space (Kuhn 3.2.3)", allBytes(0xf0, 0xf7, " ")},
	{"5-byte starts each followed by a space (Kuhn 3.2.4)", allBytes(0xf8, 0xfb, " ")},
	{"6-byte starts each followed by a space (Kuhn 3.2.5)", allBytes(0xfc, 0xfd, " ")},
	{"2-byte sequence without its last byte (Kuhn 3.3.1)", "\xc0"},
	{"3-byte sequence without its last byte (Kuhn 3.3.2)", "\xe0\x80"},
	{"4-byte sequence without its last byte (Kuhn 3.3.3)", "\xf0\x80\x80"},
	{"U+07FF without its last byte (Kuhn 3.3.6)", "\xdf"},
	{"U+FFFF without its last byte (Kuhn 3.3.7)", "\xef\xbf"},
	{"U+1FFFFF without its last byte (Kuhn 3.3.8)", "\xf7\xbf\xbf"},
	{"Euro sign without its last byte, after text (Kuhn 3.3)", "price: \xe2\x82"},
	{"4-byte sequence without its last byte, after text (Kuhn 3.3)", "clef \xf0\x9d\x84"},
	{"concatenated incomplete sequences (Kuhn 3.4)", "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"},
	{"impossible byte FE (Kuhn 3.5.1)", "\xfe"},
	{"impossible byte FF (Kuhn 3.5.2)", "\xff"},
	{"impossible bytes FE FE FF FF (Kuhn 3.5.3)", "\xfe\xfe\xff\xff"},
	{"overlong '/' in 2 bytes (Kuhn 4.1.1)", "\xc0\xaf"},
	{"overlong '/' in 3 bytes (Kuhn 4.1.2)", "\xe0\x80\xaf"},
	{"overlong '/' in 4 bytes (Kuhn 4.1.3)", "\xf0\x80\x80\xaf"},
	{"overlong '/' in 5 bytes (Kuhn 4.1.4)", "\xf8\x80\x80\x80\xaf"},
	{"overlong '/' in 6 bytes (Kuhn 4.1.5)", "\xfc\x80\x80\x80\x80\xaf"},
	{"maximum overlong 2-byte sequence (Kuhn 4.2.1)", "\xc1\xbf"},
	{"maximum overlong 3-byte sequence (Kuhn 4.2.2)", "\xe0\x9f\xbf"},
	{"maximum overlong 4-byte sequence (Kuhn 4.2.3)", "\xf0\x8f\xbf\xbf"},
	{"overlong NUL in 2 bytes (Kuhn 4.3.1)", "\xc0\x80"},
	{"overlong NUL in 3 bytes (Kuhn 4.3.2)", "\xe0\x80\x80"},
	{"overlong NUL in 4 bytes (Kuhn 4.3.3)", "\xf0\x80\x80\x80"},
	{"surrogate U+D800 (Kuhn 5.1.1)", "\xed\xa0\x80"},
	{"surrogate U+DB7F (Kuhn 5.1.2)", "\xed\xad\xbf"},
	{"surrogate U+DBFF (Kuhn 5.1.4)", "\xed\xaf\xbf"},
	{"surrogate U+DC00 (Kuhn 5.1.5)", "\xed\xb0\x80"},
	{"surrogate U+DFFF (Kuhn 5.1.7)", "\xed\xbf\xbf"},
	{"surrogate pair U+D800 U+DC00 (Kuhn 5.2.1)", "\xed\xa0\x80\xed\xb0\x80"},
	{"surrogate pair U+DBFF U+DFFF (Kuhn 5.2.8)", "\xed\xaf\xbf\xed\xbf\xbf"},
	{"valid text, then a surrogate", "Hello \xed\xa0\x80 world"},
}

// allBytes returns the bytes from first to last, each followed by sep.
func allBytes(first, last byte, sep string) string {
	var b strings.Builder
	for c := int(first); c <= int(last); c++ {
		b.WriteByte(byte(c))
		b.WriteString(sep)
	}
	return b.String()
}

// utf8Cases is category 6: text messages must be UTF-8 (RFC 6455 §5.6,
// §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
// that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
// MUST _Fail the WebSocket Connection_", with 1007 by §7.4.1). Valid texts
// are echoed, in one frame (6.1) and cut across fragments inside their
// characters (6.2); invalid ones close the connection with 1007, in one frame
// (6.3) and fragmented (6.4). A server may fail as soon as the invalid byte
// arrives or when the message is complete; the harness sends the whole
// message and accepts both.
func utf8Cases() []Case {
	var cs []Case
	for i, u := range validUTF8 {
		cs = append(cs, Case{ID: id(6, 1, i+1), Name: u.name, Run: echo(text(u.s), 0)})
	}

	const hello = "Hello-µ@ßöäüàá-UTF-8!!"
	const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	cs = append(cs,
		Case{ID: "6.2.1", Name: "2 fragments cut inside a 2-byte character", Run: echoFragments(0, fragments(OpText, hello, 7)...)},
		Case{ID: "6.2.2", Name: "Latin-1 letters, one fragment per byte", Run: echoFragments(0, eachByte(OpText, hello)...)},
		Case{ID: "6.2.3", Name: "kosme, one fragment per byte", Run: echoFragments(0, eachByte(OpText, kosme)...)},
		Case{ID: "6.2.4", Name: "Euro sign cut after byte 1 and after byte 2", Run: echoFragments(0, fragments(OpText, "= \xe2\x82\xac", 3, 4)...)},
		Case{ID: "6.2.5", Name: "4-byte character cut after its first byte", Run: echoFragments(0, fragments(OpText, "\xf0\x9f\x98\x80", 1)...)},
		Case{ID: "6.2.6", Name: "4-byte character cut after its second byte", Run: echoFragments(0, fragments(OpText, "\xf0\x9f\x98\x80", 2)...)},
		Case{ID: "6.2.7", Name: "4-byte character cut after its third byte", Run: echoFragments(0, fragments(OpText, "\xf0\x9f\x98\x80", 3)...)},
		Case{ID: "6.2.8", Name: "4-byte characters cut with empty fragments between", Run: echoFragments(0,
			fragments(OpText, "a\xf0\x9d\x84\x9eb\xf0\x9f\x98\x80", 2, 2, 4, 4, 4, 8)...)},
		Case{ID: "6.2.9", Name: "kosme, one fragment per byte, in 1-byte writes", Run: echoFragments(1, eachByte(OpText, kosme)...)},
	)

	for i, u := range invalidUTF8 {
		cs = append(cs, Case{ID: id(6, 3, i+1), Name: u.name, Run: closes(1007, 0, text(u.s))})
	}

	// Autobahn 6.4.1-6.4.2: three fragments, the invalid sequence in the
	// second; a fail-fast server closes before the third arrives.
	failFast := func(parts ...string) func(*Session) error {
		return func(s *Session) error {
			for i, f := range fragments(OpText, strings.Join(parts, ""), len(parts[0]), len(parts[0])+len(parts[1])) {
				if i > 0 {
					time.Sleep(20 * time.Millisecond)
				}
				s.Send(f)
			}
			return s.ExpectClose(1007)
		}
	}
	cs = append(cs,
		Case{ID: "6.4.1", Name: "U+110000 in the second of 3 fragments, sent apart", Run: failFast(kosme, "\xf4\x90\x80\x80", "edited")},
		Case{ID: "6.4.2", Name: "U+110000 cut across the first and second of 3 fragments, sent apart", Run: failFast(kosme+"\xf4", "\x90\x80\x80", "edited")},
		Case{ID: "6.4.3", Name: "surrogate cut across 2 fragments", Run: closes(1007, 0, fragments(OpText, "a\xed\xa0\x80b", 2)...)},
		Case{ID: "6.4.4", Name: "lone continuation byte at the start of the second fragment", Run: closes(1007, 0, fragments(OpText, "abc\x80def", 3)...)},
		Case{ID: "6.4.5", Name: "last fragment ends inside a 3-byte character", Run: closes(1007, 0, fragments(OpText, "Hello, \xe2\x82", 5)...)},
		Case{ID: "6.4.6", Name: "empty last fragment after an incomplete 4-byte character", Run: closes(1007, 0, fragments(OpText, "Hello, \xf0\x9f", 9)...)},
		Case{ID: "6.4.7", Name: "overlong '/' one fragment per byte", Run: closes(1007, 0, eachByte(OpText, "a\xc0\xafb")...)},
		Case{ID: "6.4.8", Name: "U+110000 in one frame in 1-byte writes", Run: closes(1007, 1, text(kosme+"\xf4\x90\x80\x80edited"))},
		Case{ID: "6.4.9", Name: "valid first fragment, surrogate in the second, and many more", Run: func(s *Session) error {
			fs := []Frame{fragment(OpText, kosme, false), fragment(OpContinuation, "\xed\xa0\x80", false)}
			for i := range 20 {
				fs = append(fs, fragment(OpContinuation, fmt.Sprintf("more %d ", i), i == 19))
			}
			s.Send(fs...)
			return s.ExpectClose(1007)
		}},
	)
	return cs
}
